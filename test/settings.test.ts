// The environment file: validated with errors naming file, key and problem; its values take the place
// of the defaults; its suppressions land in the graph idempotently.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { activeSuppressions } from '../src/alerts.ts';
import { getAnalytic, resolveParams, setEnvironmentParams } from '../src/analytics.ts';
import { loadEnvironment, parseEnvironment, syncConfigSuppressions } from '../src/settings.ts';
import { clearGraph, ROOT, testDb } from './helpers.ts';

after(() => setEnvironmentParams({}));

const problem = (yaml: string): string => {
  try {
    parseEnvironment('env.yaml', yaml);
  } catch (err) {
    assert.equal((err as { code?: string }).code, 'LH_ERR_CONFIG');
    return (err as Error).message;
  }
  return 'no error';
};

test('mistakes name the file, the key and the problem', () => {
  assert.match(problem('analytics:\n  AN9999: {}\n'), /^env\.yaml: analytics\.AN9999: no such analytic/);
  assert.match(
    problem('analytics:\n  AN1314:\n    params:\n      timeWindowMinutes: soon\n'),
    /^env\.yaml: analytics\.AN1314\.params\.timeWindowMinutes: must be an integer/,
  );
  assert.match(
    problem('analytics:\n  AN1314:\n    params:\n      colour: blue\n'),
    /analytics\.AN1314\.params\.colour: is not a parameter/,
  );
  assert.match(
    problem('analytics:\n  AN1314:\n    schedule:\n      intervalSeconds: 1\n'),
    /schedule\.intervalSeconds: must be an integer of at least 10/,
  );
  assert.match(
    problem('suppressions:\n  - kind: registry\n    value: x\n    reason: y\n'),
    /suppressions\[0\]\.kind: must be one of/,
  );
  assert.match(
    problem('suppressions:\n  - kind: host\n    value: x\n'),
    /suppressions\[0\]\.reason: must say why/,
  );
  assert.match(problem('alerts: {}\n'), /^env\.yaml: alerts: unknown key/);
  assert.match(problem('analytics: [\n'), /^env\.yaml: not valid YAML/);
});

test('the example file is valid, and its values become the defaults in force', () => {
  const env = loadEnvironment(join(ROOT, 'lineage-hunter.example.yaml'));
  assert.equal(env.schedules.AN1314?.latenessSeconds, 300);
  const p = resolveParams(getAnalytic('AN1314'));
  assert.ok((p.egressAllowList as string[]).includes('10.20.0.0/16'));
  assert.deepEqual(p.trustedUpdaters, [
    'path:c:\\program files (x86)\\microsoft\\edgeupdate\\',
    'path:c:\\program files\\google\\update\\;signer:Google LLC',
  ]);
  // A request's own value still wins over the environment's.
  assert.deepEqual(resolveParams(getAnalytic('AN1314'), { trustedUpdaters: [] }).trustedUpdaters, []);
  setEnvironmentParams({});
});

test('config suppressions are kept in the graph under stable keys', async () => {
  const db = await testDb();
  try {
    await clearGraph(db);
    const dir = mkdtempSync(join(tmpdir(), 'lh-env-'));
    const file = join(dir, 'env.yaml');
    writeFileSync(file, 'suppressions:\n  - kind: host\n    value: lab-01\n    reason: sandbox\n');
    const env = loadEnvironment(file);
    await syncConfigSuppressions(db, env);
    await syncConfigSuppressions(db, env);
    const active = await activeSuppressions(db);
    assert.equal(active.length, 1);
    assert.equal(active[0]!.value, 'lab-01');
    assert.match(active[0]!.createdBy, /^config:/);
    assert.throws(() => loadEnvironment(join(dir, 'missing.yaml')), { code: 'LH_ERR_CONFIG' });
  } finally {
    setEnvironmentParams({});
    await clearGraph(db);
    await db.close();
  }
});
