// AN1314 on its hit and miss fixtures and on the real empire_launcher_vbs recording.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, beforeEach, test } from 'node:test';
import { ingest } from '../ingest/pipeline.ts';
import { type ChainView, hunt } from '../src/analytics.ts';
import type { Db } from '../src/db.ts';
import { clearGraph, FIXTURES, SAMPLE, testDb } from './helpers.ts';

const DIR = join(FIXTURES, 'an1314');
interface Expectation {
  alert: boolean;
  chains?: number;
  stepsFound?: number[];
  root?: string;
  lolbin?: string;
  egressFrom?: string[];
  suppressedBy?: string[];
  link?: string;
}
const EXPECT = JSON.parse(readFileSync(join(DIR, 'expect.json'), 'utf8')) as Record<string, Expectation>;

let db: Db;
before(async () => {
  db = await testDb();
});
beforeEach(async () => clearGraph(db));
after(async () => {
  await clearGraph(db);
  await db.close();
});

const egressFrom = (c: ChainView) => [...new Set(c.steps[3]!.evidence.map((e) => e.process?.name))].sort();

for (const [file, want] of Object.entries(EXPECT)) {
  test(`AN1314 fixture ${file}`, async () => {
    const s = await ingest(db, [join(DIR, file)]);
    assert.equal(s.rejectedTotal, 0);
    const { chains } = await hunt(db, { analytic: 'AN1314' });
    if (want.chains === 0) {
      assert.equal(chains.length, 0, 'no chain expected');
      return;
    }
    assert.equal(chains.length, 1, `one chain expected, got ${chains.length}`);
    const c = chains[0]!;
    assert.equal(c.alert, want.alert);
    assert.deepEqual(c.stepsFound, want.stepsFound);
    assert.equal(c.root.name, want.root);
    assert.equal(c.lolbin.name, want.lolbin);
    assert.equal(c.link, want.link ?? 'direct');
    if (want.egressFrom) assert.deepEqual(egressFrom(c), want.egressFrom);
    if (want.suppressedBy) {
      assert.ok(c.suppressedEgress.length > 0, 'allow-listed egress is kept and says why');
      for (const ev of c.suppressedEgress) assert.deepEqual(ev.allowedBy, want.suppressedBy);
    }
    for (const st of c.steps) assert.equal(st.found, want.stepsFound!.includes(st.step));
    assert.ok(c.score > 0 && c.score <= 100);
  });
}

test('AN1314 step evidence: the Mark-of-the-Web document, the %TEMP% script and the grandchild egress', async () => {
  await ingest(db, [join(DIR, 'hit-word-macro-download.jsonl')]);
  const [c] = (await hunt(db, { analytic: 'AN1314' })).chains;
  assert.ok(c);
  const opened = c.steps[0]!.evidence.find((e) => e.relation === 'OPENED');
  assert.equal(opened?.target?.properties.path, 'C:\\Users\\alice\\Downloads\\invoice.docm');
  assert.equal(opened?.target?.properties.motw, true);
  assert.equal(opened?.target?.properties.hostUrl, 'https://files.example.net/invoice.docm');
  assert.match(opened!.what, /Mark-of-the-Web/);
  assert.deepEqual(
    c.steps[1]!.evidence.map((e) => [e.process?.name, e.relation, e.target?.name]),
    [['winword.exe', 'WROTE', 'update.js']],
  );
  const egress = c.steps[3]!.evidence.map((e) => [
    e.relation,
    e.target?.name,
    e.via.map((v) => v.name),
  ]).sort();
  assert.deepEqual(egress, [
    ['CONNECTED', '203.0.113.50', ['cmd.exe', 'powershell.exe']],
    ['RESOLVED', 'evil.example.net', ['cmd.exe', 'powershell.exe']],
  ]);
});

test('AN1314 parameters: a narrower window, a CIDR allow-list, a trusted updater and a shallower lineage each drop the alert', async () => {
  await ingest(db, [join(DIR, 'hit-excel-grandchild-lolbin.jsonl')]);
  const base = await hunt(db, { analytic: 'AN1314' });
  assert.equal(base.chains[0]?.alert, true);
  const narrow = await hunt(db, { analytic: 'AN1314', params: { timeWindowMinutes: 1 } });
  assert.deepEqual(narrow.chains[0]?.stepsFound, [1, 3]);
  const cidr = await hunt(db, { analytic: 'AN1314', params: { egressAllowList: ['198.51.100.0/24'] } });
  assert.equal(cidr.chains[0]?.alert, false);
  assert.deepEqual(cidr.chains[0]?.suppressedEgress[0]?.allowedBy, ['198.51.100.0/24']);
  const shallow = await hunt(db, { analytic: 'AN1314', params: { maxDepth: 1 } });
  assert.equal(shallow.chains.length, 0, 'rundll32 is two hops below Excel');
  const trusted = await hunt(db, {
    analytic: 'AN1314',
    params: { trustedUpdaters: ['path:C:\\Windows\\splwow64.exe'] },
  });
  assert.equal(trusted.chains[0]?.alert, false);
  assert.deepEqual(trusted.chains[0]?.suppressedBy, ['path:C:\\Windows\\splwow64.exe']);
  // A bare name is not an anchor: it matches nothing.
  const byName = await hunt(db, { analytic: 'AN1314', params: { trustedUpdaters: ['splwow64.exe'] } });
  assert.equal(byName.chains[0]?.alert, true);
  const outOfRange = await hunt(db, {
    analytic: 'AN1314',
    from: '2024-03-07T00:00:00Z',
    to: '2024-03-08T00:00:00Z',
  });
  assert.equal(outOfRange.chains.length, 0);
});

test('AN1314 trusted updaters anchored on the signer Sysmon 7 reports, alone or with a path', async () => {
  await ingest(db, [SAMPLE]);
  const hunt1 = (t: string[]) => hunt(db, { analytic: 'AN1314', params: { trustedUpdaters: t } });
  assert.deepEqual((await hunt1(['signer:Microsoft Windows'])).chains[0]?.suppressedBy, [
    'signer:Microsoft Windows',
  ]);
  const both = 'path:c:\\windows\\system32\\;signer:microsoft windows';
  assert.deepEqual((await hunt1([both])).chains[0]?.suppressedBy, [both]);
  // Both anchors must hold: the right signer on another path is not enough.
  assert.equal((await hunt1(['path:c:\\program files\\;signer:Microsoft Windows'])).chains[0]?.alert, true);
  assert.equal((await hunt1(['signer:Contoso Ltd'])).chains[0]?.alert, true);
});

test('AN1314 on the real empire_launcher_vbs recording: explorer → wscript → powershell → 10.10.10.5:80', async () => {
  await ingest(db, [SAMPLE]);
  const { chains } = await hunt(db, { analytic: 'AN1314' });
  assert.equal(chains.length, 1);
  const c = chains[0]!;
  assert.equal(c.alert, true);
  assert.deepEqual(c.stepsFound, [1, 3, 4]);
  assert.equal(c.host, 'workstation5.theshire.local');
  assert.equal(c.user, 'THESHIRE\\pgustavo');
  assert.deepEqual(
    c.lineage.map((n) => n.name),
    ['explorer.exe', 'wscript.exe'],
  );
  assert.equal(c.lolbin.properties.startTime, '2020-09-04T20:09:55.035Z');
  assert.equal(
    c.steps[0]!.evidence[0]?.target?.properties.path,
    'C:\\Users\\pgustavo\\Desktop\\launcher.vbs',
  );
  // The egress comes from the grandchild (powershell under wscript), seen by Sysmon 3 and Security 5156.
  const egress = c.steps[3]!.evidence;
  assert.deepEqual(egressFrom(c), ['powershell.exe']);
  assert.deepEqual(
    egress.map((e) => [e.target?.name, e.relationProperties.dstPort, e.relationProperties.eventCode]).sort(),
    [
      ['10.10.10.5', 80, '3'],
      ['10.10.10.5', 80, '5156'],
    ],
  );
  assert.deepEqual(
    egress[0]!.via.map((v) => v.name),
    ['wscript.exe', 'powershell.exe'],
  );
  // Outside the recording's day the hunt finds nothing.
  const other = await hunt(db, {
    analytic: 'AN1314',
    from: '2020-09-05T00:00:00Z',
    to: '2020-09-06T00:00:00Z',
  });
  assert.equal(other.chains.length, 0);
});
