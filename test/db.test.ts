// Connection errors are clear and coded; the schema migration is idempotent.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../src/config.ts';
import { connect } from '../src/db.ts';
import { migrate } from '../src/migrate.ts';
import { schemaStatements } from '../src/model.ts';
import { testDb } from './helpers.ts';

test('a wrong password is LH_ERR_NEO4J_AUTH, an unreachable server LH_ERR_NEO4J_UNAVAILABLE', async () => {
  const cfg = loadConfig().neo4j;
  await assert.rejects(connect({ ...cfg, password: 'not-the-password' }), { code: 'LH_ERR_NEO4J_AUTH' });
  await assert.rejects(connect({ ...cfg, uri: 'bolt://127.0.0.1:1' }), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'LH_ERR_NEO4J_UNAVAILABLE');
    assert.match(err.message, /npm run neo4j -- start|NEO4J_URI/);
    assert.doesNotMatch(err.message, new RegExp(cfg.password));
    return true;
  });
});

test('migrate creates every constraint and index of the model, and running it again changes nothing', async () => {
  const db = await testDb();
  try {
    await migrate(db);
    const names = async () =>
      [
        ...(await db.read('SHOW CONSTRAINTS YIELD name RETURN name')).records.map(
          (r) => r.get('name') as string,
        ),
        ...(await db.read('SHOW INDEXES YIELD name RETURN name')).records.map((r) => r.get('name') as string),
      ].sort();
    const before = await names();
    for (const s of schemaStatements()) {
      const name = /(?:CONSTRAINT|INDEX) (\S+) IF NOT EXISTS/.exec(s)?.[1];
      assert.ok(name && before.includes(name), `${name} missing`);
    }
    await migrate(db);
    assert.deepEqual(await names(), before);
  } finally {
    await db.close();
  }
});
