// Suppressions as data: they hide a chain, say why, and expire; the chain is never lost.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ingest } from '../ingest/pipeline.ts';
import { backtest, getAlert, listAlerts, raiseAlerts, suppress } from '../src/alerts.ts';
import { getAnalytic, hunt } from '../src/analytics.ts';
import type { Db } from '../src/db.ts';
import { clearGraph, FIXTURES, testDb } from './helpers.ts';

let db: Db;
before(async () => {
  db = await testDb();
  await clearGraph(db);
  await ingest(db, [join(FIXTURES, 'an1314', 'hit-word-macro-download.jsonl')]);
});
after(async () => {
  await clearGraph(db);
  await db.close();
});

const evaluate = async (now: Date) => {
  const { chains } = await hunt(db, { analytic: 'AN1314' });
  return raiseAlerts(db, getAnalytic('AN1314'), chains, now);
};

test('a suppression on a destination of the chain hides it, records why, and expires', async () => {
  const t0 = new Date('2024-03-05T11:00:00Z');
  const [raised] = await evaluate(t0);
  assert.equal(raised!.created, true);
  assert.deepEqual(raised!.suppressedBy, []);

  const s = await suppress(db, {
    kind: 'destination',
    value: '203.0.113.50',
    reason: 'red-team C2 of exercise 42',
    expiresAt: '2024-03-06T00:00:00Z',
    by: 'dana',
    alertKey: raised!.key,
  });
  assert.equal((await listAlerts(db)).total, 0, 'hidden at once');
  const [again] = await evaluate(new Date('2024-03-05T12:00:00Z'));
  assert.equal(again!.created, false, 'the chain is still the same alert');
  assert.deepEqual(again!.suppressedBy, [s.key]);
  const visible = await listAlerts(db, { includeSuppressed: true });
  assert.equal(visible.total, 1);
  assert.equal(visible.alerts[0]!.suppressed, true);
  const detail = await getAlert(db, raised!.key);
  assert.deepEqual(
    detail!.suppressions.map((x) => [x.kind, x.value, x.reason, x.createdBy]),
    [['destination', '203.0.113.50', 'red-team C2 of exercise 42', 'dana']],
  );
  assert.ok(detail!.history.some((h) => h.change === 'suppressed' && h.suppression === s.key));

  // After the expiry the next evaluation lifts the suppression.
  const [later] = await evaluate(new Date('2024-03-06T00:00:01Z'));
  assert.deepEqual(later!.suppressedBy, []);
  const back = await listAlerts(db);
  assert.equal(back.total, 1);
  assert.equal(back.alerts[0]!.suppressed, false);
});

test('suppressions match on the parent image path, the user, the host; other analytics and bad input are refused', async () => {
  const now = new Date('2024-03-07T00:00:00Z');
  const byParent = await suppress(db, {
    kind: 'parentImage',
    value: 'C:\\Program Files\\Microsoft Office\\',
    reason: 'Office add-in rollout',
    expiresAt: '2024-03-08T00:00:00Z',
  });
  assert.deepEqual((await evaluate(now))[0]!.suppressedBy, [byParent.key]);
  const byUser = await suppress(db, {
    kind: 'user',
    value: 'lab\\ALICE',
    reason: 'test account',
    analytic: 'AN9999',
  });
  assert.ok(!(await evaluate(now))[0]!.suppressedBy.includes(byUser.key), 'scoped to another analytic');
  const byHost = await suppress(db, { kind: 'host', value: 'FX-WORD-MACRO.example.lab', reason: 'sandbox' });
  assert.ok((await evaluate(now))[0]!.suppressedBy.includes(byHost.key));
  await assert.rejects(suppress(db, { kind: 'registry' as never, value: 'x', reason: 'y' }), {
    code: 'LH_ERR_INPUT',
  });
  await assert.rejects(suppress(db, { kind: 'host', value: 'x', reason: ' ' }), { code: 'LH_ERR_INPUT' });
});

test('a backtest with a wider EgressAllowList reports the alerts it would lose', async () => {
  await clearGraph(db);
  await ingest(db, [
    join(FIXTURES, 'an1314', 'hit-word-macro-download.jsonl'),
    join(FIXTURES, 'an1314', 'hit-excel-grandchild-lolbin.jsonl'),
  ]);
  const stored = await evaluate(new Date('2024-03-07T00:00:00Z'));
  assert.equal(stored.length, 2);
  const range = { analytic: 'AN1314', from: '2024-03-01T00:00:00Z', to: '2024-03-31T00:00:00Z' };
  const same = await backtest(db, range);
  assert.deepEqual([same.new.length, same.lost.length, same.unchanged.length], [0, 0, 2]);
  const wider = await backtest(db, { ...range, params: { egressAllowList: ['198.51.100.0/24'] } });
  assert.deepEqual(
    wider.lost.map((x) => x.rootImage),
    ['excel.exe'],
  );
  assert.equal(wider.unchanged.length, 1);
  assert.deepEqual(wider.new, []);
  // And the other way: a new alert the stored set lacks.
  await clearGraph(db);
  await ingest(db, [join(FIXTURES, 'an1314', 'miss-allowlisted-destination.jsonl')]);
  const narrower = await backtest(db, { ...range, params: { egressAllowList: [] } });
  assert.deepEqual(
    narrower.new.map((x) => x.chain.root.name),
    ['winword.exe'],
  );
});

test('a parentImage suppression can require the parent executable signer (Sysmon 7)', async () => {
  await clearGraph(db);
  const dir = mkdtempSync(join(tmpdir(), 'lh-signer-'));
  const file = join(dir, 'signed.jsonl');
  const lines = readFileSync(join(FIXTURES, 'an1314', 'hit-word-macro-download.jsonl'), 'utf8')
    .trim()
    .split('\n');
  const word = JSON.parse(lines[3]!); // WINWORD's process creation
  const selfLoad = {
    ...word,
    EventID: 7,
    RecordNumber: 9999,
    UtcTime: '2024-03-05 10:00:00.050',
    ImageLoaded: word.Image,
    Signed: 'true',
    Signature: 'Microsoft Corporation',
    SignatureStatus: 'Valid',
  };
  writeFileSync(file, `${[...lines, JSON.stringify(selfLoad)].join('\n')}\n`);
  await ingest(db, [file]);
  const now = new Date('2024-03-05T11:00:00Z');
  const wrongSigner = await suppress(db, {
    kind: 'parentImage',
    value: 'C:\\Program Files\\Microsoft Office\\;signer:Contoso Ltd',
    reason: 'not this one',
  });
  assert.ok(!(await evaluate(now))[0]!.suppressedBy.includes(wrongSigner.key));
  const rightSigner = await suppress(db, {
    kind: 'parentImage',
    value: 'C:\\Program Files\\Microsoft Office\\;signer:Microsoft Corporation',
    reason: 'Office, signed by Microsoft',
  });
  assert.deepEqual((await evaluate(now))[0]!.suppressedBy, [rightSigner.key]);
});
