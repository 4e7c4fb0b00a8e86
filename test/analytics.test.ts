// Every analytic in cypher/: its header parses, it plans in Neo4j (EXPLAIN) with its defaults, it is
// read-only, every $parameter it uses is declared (and every declared one used), and it ships fixtures.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { browserParams, loadAnalytics, resolveParams } from '../src/analytics.ts';
import type { Db } from '../src/db.ts';
import { FIXTURES, testDb } from './helpers.ts';

let db: Db;
before(async () => {
  db = await testDb();
});
after(async () => db.close());

for (const a of loadAnalytics()) {
  test(`${a.id}: plans, is read-only, declares exactly the parameters it uses, ships hit and miss fixtures`, async () => {
    const params = resolveParams(a);
    const res = await db.read(`EXPLAIN ${a.cypher}`, params);
    assert.equal(res.summary.queryType, 'r', 'an analytic must be read-only');
    const body = a.cypher
      .split('\n')
      .filter((l) => !l.trimStart().startsWith('//'))
      .join('\n');
    const used = new Set([...body.matchAll(/\$([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!));
    assert.deepEqual([...used].sort(), a.params.map((p) => p.name).sort());
    const dir = join(FIXTURES, a.id.toLowerCase());
    assert.ok(existsSync(join(dir, 'expect.json')), `${dir}/expect.json`);
    const files = readdirSync(dir).filter((f) => f.endsWith('.jsonl'));
    assert.ok(files.some((f) => f.startsWith('hit-')) && files.some((f) => f.startsWith('miss-')));
    const expect = JSON.parse(readFileSync(join(dir, 'expect.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(Object.keys(expect).sort(), files.sort(), 'every fixture has an expectation');
  });

  test(`${a.id}: the Browser :params line is a Cypher map of exactly the defaults`, async () => {
    const line = browserParams(a);
    assert.ok(line.startsWith(':params {'));
    const res = await db.read(`RETURN ${line.slice(':params '.length)} AS p`);
    assert.deepEqual(res.records[0]!.get('p'), resolveParams(a));
  });
}
