// Scheduled hunts and alerts in the graph, on a real Neo4j with a controlled clock.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ingest } from '../ingest/pipeline.ts';
import { getAlert, listAlerts, updateAlert } from '../src/alerts.ts';
import type { Db } from '../src/db.ts';
import { Scheduler } from '../src/scheduler.ts';
import { clearGraph, FIXTURES, testDb } from './helpers.ts';

let db: Db;
let now = new Date('2024-03-05T09:55:00Z');
const clock = () => now;
const at = (t: string) => {
  now = new Date(`2024-03-05T${t}Z`);
};
const dir = mkdtempSync(join(tmpdir(), 'lh-sched-'));
const lines = readFileSync(join(FIXTURES, 'an1314', 'hit-word-macro-download.jsonl'), 'utf8')
  .trim()
  .split('\n');
// Everything up to PowerShell's start now; its DNS query and connection arrive late.
const early = join(dir, 'early.jsonl');
const late = join(dir, 'late.jsonl');
writeFileSync(early, `${lines.slice(0, 7).join('\n')}\n`);
writeFileSync(late, `${lines.slice(7).join('\n')}\n`);

const a = () => new Scheduler(db, { owner: 'instance-a', clock, startAt: new Date('2024-03-05T09:50:00Z') });

before(async () => {
  db = await testDb();
  await clearGraph(db);
  await ingest(db, [early]);
});
after(async () => {
  await clearGraph(db);
  await db.close();
});

test('a scheduler stopped for three intervals catches up window by window; a late egress still alerts once', async () => {
  const s = a();
  await s.ensureJobs();
  assert.equal((await s.tick()).length, 1); // [09:50, 09:55)
  at('10:10:00'); // down for three intervals
  const caughtUp = await s.tick();
  assert.deepEqual(
    caughtUp.map((r) => [r.windowStart.slice(11, 16), r.windowEnd.slice(11, 16), r.status]),
    [
      ['09:55', '10:00', 'ok'],
      ['10:00', '10:05', 'ok'],
      ['10:05', '10:10', 'ok'],
    ],
  );
  assert.equal(caughtUp[1]!.chains, 1, 'the chain is there, without its egress yet');
  assert.equal(
    caughtUp.reduce((n, r) => n + r.alertsRaised, 0),
    0,
  );

  await ingest(db, [late]); // the egress arrives ten minutes late, inside the lookback
  at('10:15:00');
  const [r1] = await s.tick();
  assert.equal(r1!.huntFrom, '2024-03-05T09:50:00.000Z', 'lookback = 15 min window + 5 min lateness');
  assert.equal(r1!.alertsRaised, 1);
  at('10:20:00');
  const [r2] = await s.tick();
  assert.equal(r2!.alertsRaised, 0);
  assert.equal(r2!.alertsUpdated, 1, 'the same chain in a second run refreshes the one alert');
  const { alerts, total } = await listAlerts(db);
  assert.equal(total, 1);
  assert.equal(alerts[0]!.rootImage, 'winword.exe');
  assert.equal(alerts[0]!.severity, 'critical');

  // No window skipped: the recorded windows tile [09:50, 10:20) exactly, and the watermark is at its end.
  const runs = (await s.history('AN1314', 100)).reverse();
  for (let i = 1; i < runs.length; i++) assert.equal(runs[i]!.windowStart, runs[i - 1]!.windowEnd);
  assert.equal(runs[0]!.windowStart, '2024-03-05T09:50:00.000Z');
  const [job] = await s.jobs();
  assert.equal(job!.watermark, '2024-03-05T10:20:00.000Z');
  assert.equal(job!.lastRun?.windowEnd, '2024-03-05T10:20:00.000Z');
});

test('the alert carries its evidence subgraph, and triage is recorded in its history', async () => {
  const [first] = (await listAlerts(db)).alerts;
  const alert = await getAlert(db, first!.key);
  assert.ok(alert);
  const byStep = (step: number) =>
    (alert.evidence as Array<{ step: number; label: string; properties: Record<string, unknown> }>)
      .filter((e) => e.step === step)
      .map(
        (e) =>
          `${e.label}:${e.properties.imageName ?? e.properties.name ?? e.properties.ip ?? e.properties.domain}`,
      )
      .sort();
  assert.ok(byStep(1).includes('File:invoice.docm'));
  assert.ok(byStep(3).includes('Process:cmd.exe') && byStep(3).includes('Process:winword.exe'));
  assert.ok(
    byStep(4).includes('Destination:203.0.113.50') && byStep(4).includes('Destination:evil.example.net'),
  );
  const updated = await updateAlert(db, first!.key, {
    status: 'in_progress',
    assignee: 'dana',
    note: 'macro doc from mail',
  });
  assert.equal(updated?.status, 'in_progress');
  assert.equal(updated?.assignee, 'dana');
  assert.deepEqual(updated?.notes, ['macro doc from mail']);
  assert.equal(updated?.history.length, 2);
  assert.equal(updated?.history[1]?.status, 'in_progress');
  await assert.rejects(updateAlert(db, first!.key, { status: 'solved' as never }), { code: 'LH_ERR_INPUT' });
  assert.equal((await listAlerts(db, { status: 'in_progress' })).total, 1);
  assert.equal((await listAlerts(db, { status: 'new' })).total, 0);
});

test('one run of a job at a time: another instance holding the lease keeps this one out until it expires', async () => {
  const other = new Scheduler(db, { owner: 'instance-b', clock, leaseSeconds: 600 });
  await db.write(
    "MATCH (j:Job {key: 'AN1314'}) SET j.leaseOwner = 'instance-b', j.leaseUntil = datetime($until)",
    { until: '2024-03-05T10:30:00Z' },
  );
  at('10:25:00');
  assert.deepEqual(await a().tick(), [], 'leased by instance-b');
  assert.equal((await a().jobs())[0]!.watermark, '2024-03-05T10:20:00.000Z');
  at('10:31:00'); // the lease lapsed (instance-b died)
  const runs = await a().tick();
  assert.equal(runs.length, 2);
  assert.equal((await other.jobs())[0]!.leaseOwner, null, 'released after the run');
});

test('paused jobs do not run on the schedule; run now still runs them', async () => {
  const s = a();
  await s.setPaused('AN1314', true);
  at('10:45:00');
  assert.deepEqual(await s.tick(), []);
  const manual = await s.runNow('AN1314');
  assert.ok(manual.length >= 1);
  await s.setPaused('AN1314', false);
  assert.equal((await s.jobs())[0]!.paused, false);
});
