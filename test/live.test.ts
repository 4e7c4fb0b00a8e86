// Alerts within seconds: the batch that completes a chain raises its alert at once, subscribers get it
// over WebSocket, and the scheduled run later refreshes the same alert instead of raising another.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import WebSocket from 'ws';
import { listAlerts } from '../src/alerts.ts';
import { buildApp } from '../src/app.ts';
import type { Db } from '../src/db.ts';
import { Scheduler } from '../src/scheduler.ts';
import { clearGraph, FIXTURES, testDb } from './helpers.ts';

let db: Db;
let app: FastifyInstance;
let base = '';
const lines = readFileSync(join(FIXTURES, 'an1314', 'hit-word-macro-download.jsonl'), 'utf8')
  .trim()
  .split('\n');

before(async () => {
  db = await testDb();
  await clearGraph(db);
  app = await buildApp({ db });
  base = await app.listen({ host: '127.0.0.1', port: 0 });
});
after(async () => {
  await app?.close();
  await clearGraph(db);
  await db.close();
});

/** A graphql-transport-ws client: resolves with the first alertRaised it receives. */
function subscribe(): Promise<{ ready: Promise<void>; next: Promise<any>; close: () => void }> {
  const ws = new WebSocket(`${base.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
  let ack: () => void;
  let got: (v: unknown) => void;
  const ready = new Promise<void>((r) => {
    ack = r;
  });
  const next = new Promise<any>((r) => {
    got = r;
  });
  ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init' })));
  ws.on('message', (raw) => {
    const m = JSON.parse(String(raw));
    if (m.type === 'connection_ack') {
      ws.send(
        JSON.stringify({
          id: '1',
          type: 'subscribe',
          payload: {
            query: 'subscription { alertRaised { key analytic rootImage lolbinImage stepsFound severity } }',
          },
        }),
      );
      setTimeout(ack, 500); // the subscription is registered once the server has read it
    }
    if (m.type === 'next') got(m.payload.data.alertRaised);
  });
  return Promise.resolve({ ready, next, close: () => ws.close() });
}

const post = (body: string) =>
  app.inject({
    method: 'POST',
    url: '/ingest',
    headers: { 'content-type': 'application/x-ndjson' },
    payload: body,
  });

test('the egress that completes a chain raises its alert at ingest, and subscribers receive it', async () => {
  const sub = await subscribe();
  await sub.ready;
  const first = await post(`${lines.slice(0, 7).join('\n')}\n`);
  assert.equal(first.statusCode, 200, first.body);
  assert.deepEqual(first.json().alerts, [], 'no egress yet: a partial chain, no alert');
  const started = Date.now();
  const second = await post(`${lines.slice(7).join('\n')}\n`);
  const body = second.json();
  assert.equal(body.loaded, 2);
  assert.equal(body.alerts.length, 1);
  assert.ok(body.alerts[0].latencyMs >= 0 && body.alerts[0].latencyMs < Date.now() - started + 1);
  console.log(`ingest-to-alert latency: ${body.alerts[0].latencyMs} ms`);
  const pushed = await Promise.race([
    sub.next,
    new Promise((_, no) => setTimeout(() => no(new Error('no alertRaised')), 10_000)),
  ]);
  sub.close();
  assert.equal((pushed as any).key, body.alerts[0].key);
  assert.equal((pushed as any).rootImage, 'winword.exe');
  assert.deepEqual((pushed as any).stepsFound, [1, 2, 3, 4]);
});

test('the scheduled run over the same window refreshes that alert: one fingerprint, one alert', async () => {
  const s = new Scheduler(db, {
    owner: 'live-test',
    clock: () => new Date('2024-03-05T10:05:00Z'),
    startAt: new Date('2024-03-05T10:00:00Z'),
  });
  await s.ensureJobs();
  const [run] = await s.tick();
  assert.equal(run!.alertsRaised, 0);
  assert.equal(run!.alertsUpdated, 1);
  assert.equal((await listAlerts(db)).total, 1);
});
