// Exploring the graph through the API: lineage, neighbourhoods, lookups, campaigns.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { ingest } from '../ingest/pipeline.ts';
import { raiseAlerts } from '../src/alerts.ts';
import { getAnalytic, hunt } from '../src/analytics.ts';
import { buildApp } from '../src/app.ts';
import type { Db } from '../src/db.ts';
import { askGraphql, clearGraph, FIXTURES, SAMPLE, testDb } from './helpers.ts';

let db: Db;
let app: FastifyInstance;
before(async () => {
  db = await testDb();
  await clearGraph(db);
  await ingest(db, [
    SAMPLE,
    join(FIXTURES, 'an1314', 'hit-word-macro-download.jsonl'),
    join(FIXTURES, 'an1314', 'hit-excel-grandchild-lolbin.jsonl'),
  ]);
  const { chains } = await hunt(db, { analytic: 'AN1314' });
  await raiseAlerts(db, getAnalytic('AN1314'), chains);
  app = await buildApp({ db });
});
after(async () => {
  await app?.close();
  await clearGraph(db);
  await db.close();
});

async function gql(query: string, variables: Record<string, unknown> = {}) {
  const body = await askGraphql(app, query, variables);
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data!;
}

const WSCRIPT = 'workstation5.theshire.local|860ba2e3-9f13-5f52-2603-000000000400';

test('lineage up and down from wscript: explorer above, powershell and conhost below', async () => {
  const d = await gql(
    'query($k: ID!) { lineage(processKey: $k) { process { name } ancestors { name } descendants { parent time child { name } } } }',
    { k: WSCRIPT },
  );
  assert.equal(d.lineage.process.name, 'wscript.exe');
  assert.deepEqual(
    d.lineage.ancestors.map((a: any) => a.name),
    ['explorer.exe'],
  );
  assert.deepEqual(
    d.lineage.descendants.map((x: any) => x.child.name),
    ['powershell.exe', 'conhost.exe', 'whoami.exe'],
  );
  assert.equal(d.lineage.descendants[0].parent, WSCRIPT);
});

test('an entity with its neighbourhood, and lookups by what a hunter knows', async () => {
  const d = await gql(
    '{ entity(label: "Destination", key: "ip:10.10.10.5") { entity { name } relationships { type direction time other { name } } } }',
  );
  assert.equal(d.entity.entity.name, '10.10.10.5');
  assert.deepEqual(
    d.entity.relationships.map((r: any) => [r.type, r.direction, r.other.name]).sort(),
    [
      ['CONNECTED', 'in', 'powershell.exe'],
      ['CONNECTED', 'in', 'powershell.exe'],
      ['EVIDENCE', 'in', 'AN1314 explorer.exe > wscript.exe'],
    ].sort(),
  );
  const l = await gql(`{
    host: lookup(kind: host, value: "WORKSTATION5") { key }
    user: lookup(kind: user, value: "pgustavo") { key }
    file: lookup(kind: filePath, value: "launcher.vbs") { name }
    dest: lookup(kind: destination, value: "evil.example.net") { key }
    image: lookup(kind: image, value: "wscript.exe") { key }
    hash: lookup(kind: fileHash, value: "F42201B5D890A96302F90102B16D7C31CFCC3B67C801BA7C6F6BE223F16D7011") { name }
  }`);
  assert.deepEqual(l.host, [{ key: 'workstation5.theshire.local' }]);
  assert.deepEqual(l.user, [{ key: 'theshire\\pgustavo' }]);
  assert.deepEqual(l.file, [{ name: 'launcher.vbs' }]);
  assert.deepEqual(l.dest, [{ key: 'dns:evil.example.net' }]);
  assert.deepEqual(l.image, [{ key: 'c:\\windows\\system32\\wscript.exe' }]);
  assert.deepEqual(l.hash, [{ name: 'wscript.exe' }]);
  const bad = await app.inject({
    method: 'POST',
    url: '/graphql',
    payload: { query: '{ entity(label: "Password", key: "x") { entity { key } } }' },
  });
  assert.equal(bad.json().errors[0].extensions.code, 'LH_ERR_INPUT');
});

test('campaigns group alerts that share a node, and an alert filter selects one campaign', async () => {
  const total = await gql('{ alerts { total } }');
  assert.equal(total.alerts.total, 3);
  // No two of these three alerts share a destination, hash, unusual image or user.
  assert.deepEqual((await gql('{ campaigns { kind value } }')).campaigns, []);
  const one = await gql('{ alerts(filter: {campaign: "ip:10.10.10.5"}) { total alerts { rootImage } } }');
  assert.deepEqual(one.alerts.alerts, [{ rootImage: 'explorer.exe' }]);
  // The same macro document on a second workstation of the same user: one campaign, three ways.
  const dir = mkdtempSync(join(tmpdir(), 'lh-camp-'));
  const second = join(dir, 'second-host.jsonl');
  writeFileSync(
    second,
    readFileSync(join(FIXTURES, 'an1314', 'hit-word-macro-download.jsonl'), 'utf8').replaceAll(
      'fx-word-macro.example.lab',
      'fx-word-macro-2.example.lab',
    ),
  );
  await ingest(db, [second]);
  await raiseAlerts(db, getAnalytic('AN1314'), (await hunt(db, { analytic: 'AN1314' })).chains);
  const c = await gql('{ campaigns { kind value alerts { host } } }');
  assert.deepEqual(
    c.campaigns.map((x: any) => [x.kind, x.value, x.alerts.map((a: any) => a.host).sort()]).sort(),
    [
      ['destination', 'dns:evil.example.net', ['fx-word-macro-2.example.lab', 'fx-word-macro.example.lab']],
      ['destination', 'ip:203.0.113.50', ['fx-word-macro-2.example.lab', 'fx-word-macro.example.lab']],
      ['user', 'lab\\alice', ['fx-word-macro-2.example.lab', 'fx-word-macro.example.lab']],
    ],
  );
});
