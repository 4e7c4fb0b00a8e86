// Webhooks with retry and back-off against a local receiver, and the SIEM export shapes.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import type { AlertView } from '../src/alerts.ts';
import { alertEvents } from '../src/alerts.ts';
import { deliver, startNotifier, toEcs, toOcsf } from '../src/notify.ts';
import { parseEnvironment } from '../src/settings.ts';

const ALERT: AlertView = {
  key: 'AN1314-0123456789abcdef0123456789abcdef',
  analytic: 'AN1314',
  technique: 'T1204',
  status: 'new',
  severity: 'high',
  score: 80,
  stepsFound: [1, 3, 4],
  host: 'workstation5.theshire.local',
  user: 'THESHIRE\\pgustavo',
  rootImage: 'explorer.exe',
  lolbinImage: 'wscript.exe',
  link: 'direct',
  suppressed: false,
  assignee: null,
  notes: [],
  history: [],
  firstSeen: '2020-09-04T20:09:55.000Z',
  lastSeen: '2020-09-04T20:09:59.621Z',
  createdAt: '2026-12-03T09:00:00.000Z',
  updatedAt: '2026-12-03T09:00:00.000Z',
};

/** A receiver on loopback that answers the given statuses in turn and records the bodies. */
async function receiver(statuses: number[]) {
  const bodies: unknown[] = [];
  const server = createServer((req, res) => {
    let data = '';
    req.on('data', (c) => {
      data += c;
    });
    req.on('end', () => {
      bodies.push(JSON.parse(data));
      res.statusCode = statuses[bodies.length - 1] ?? 200;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return { bodies, url, close: () => new Promise<void>((r) => server.close(() => r())) };
}

test('a webhook that fails twice gets the alert on the third attempt; a 4xx is not retried', async () => {
  const r = await receiver([503, 502, 200]);
  try {
    assert.equal(await deliver({ url: r.url, format: 'slack' }, ALERT, { backoffMs: 20 }), true);
    assert.equal(r.bodies.length, 3);
    assert.match((r.bodies[2] as { text: string }).text, /HIGH\* AN1314 .*explorer\.exe → wscript\.exe/);
  } finally {
    await r.close();
  }
  const refused = await receiver([400]);
  try {
    assert.equal(await deliver({ url: refused.url, format: 'generic' }, ALERT, { backoffMs: 20 }), false);
    assert.equal(refused.bodies.length, 1);
    assert.equal((refused.bodies[0] as { alert: AlertView }).alert.key, ALERT.key);
  } finally {
    await refused.close();
  }
});

test('every raised alert goes to every webhook', async () => {
  const r = await receiver([]);
  const stop = startNotifier([{ url: r.url, format: 'generic' }], { backoffMs: 20 });
  try {
    alertEvents.emit('raised', ALERT);
    for (let i = 0; i < 50 && r.bodies.length === 0; i++) await new Promise((x) => setTimeout(x, 20));
    assert.deepEqual(r.bodies, [{ event: 'alert.raised', alert: ALERT }]);
  } finally {
    stop();
    await r.close();
  }
});

test('export shapes: OCSF Detection Finding and ECS alert', () => {
  const o = toOcsf(ALERT);
  assert.equal(o.class_uid, 2004);
  assert.equal(o.type_uid, 200401);
  assert.equal(o.severity_id, 4);
  assert.equal(o.time, Date.parse(ALERT.lastSeen));
  assert.deepEqual(
    (o.finding_info as { attacks: Array<{ technique: { uid: string } }> }).attacks[0]!.technique.uid,
    'T1204',
  );
  const e = toEcs(ALERT);
  assert.equal((e.event as { kind: string }).kind, 'alert');
  assert.equal((e.rule as { id: string }).id, 'AN1314');
});

test('webhooks in the environment file are validated', () => {
  const env = parseEnvironment(
    'env.yaml',
    'notifications:\n  webhooks:\n    - url: https://hooks.example/x\n      format: slack\n',
  );
  assert.deepEqual(env.webhooks, [{ url: 'https://hooks.example/x', format: 'slack' }]);
  assert.throws(
    () => parseEnvironment('env.yaml', 'notifications:\n  webhooks:\n    - url: ftp://x\n'),
    /webhooks\[0\]\.url/,
  );
});
