// The writer on a real Neo4j: idempotent loads, one edge per event, sensors unified, rejects kept.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ingest } from '../ingest/pipeline.ts';
import type { Db } from '../src/db.ts';
import { MODEL } from '../src/model.ts';
import { clearGraph, countsByType, SAMPLE, testDb } from './helpers.ts';

let db: Db;
before(async () => {
  db = await testDb();
  await clearGraph(db);
});
after(async () => {
  await clearGraph(db);
  await db.close();
});

test('loading the same recording twice changes no node or relationship count', async () => {
  const first = await ingest(db, [SAMPLE], { batchSize: 500 });
  assert.equal(first.rejectedTotal, 0);
  assert.equal(first.loaded, 93); // Sysmon 1, 3, 5, 7 (own executable), 11, 22, 23 and Security 4688, 5156
  const a = await countsByType(db);
  assert.ok(a.Process! > 10 && a.SPAWNED! > 0 && a.CONNECTED! > 0, JSON.stringify(a));
  // A different batch size splits the work differently and still writes nothing new.
  const second = await ingest(db, [SAMPLE], { batchSize: 37 });
  assert.equal(second.nodesCreated, 0);
  assert.equal(second.relationshipsCreated, 0);
  assert.deepEqual(await countsByType(db), a);
});

test('each connection event is its own time-stamped edge, with event time and ingest time', async () => {
  const r = await db.read(`
    MATCH (p:Process)-[c:CONNECTED]->(d:Destination {ip: '10.10.10.5'})
    RETURN p.imageName AS image, p.pid AS pid, c.eventCode AS code, toString(c.time) AS time,
           c.ingestTime IS NOT NULL AS ingested, c.dstPort AS port ORDER BY code`);
  assert.deepEqual(
    r.records.map((x) => x.toObject()),
    [
      {
        image: 'powershell.exe',
        pid: 2316,
        code: '3',
        time: '2020-09-04T20:09:59.621Z',
        ingested: true,
        port: 80,
      },
      {
        image: 'powershell.exe',
        pid: 2316,
        code: '5156',
        time: '2020-09-04T20:09:59Z',
        ingested: true,
        port: 80,
      },
    ],
  );
  // Every time-stamped relationship of the model carries time, ingestTime and eventKey.
  const timestamped = Object.entries(MODEL.relationships)
    .filter(([, s]) => s.timestamped)
    .map(([t]) => t);
  const missing = await db.read(
    'MATCH ()-[r]->() WHERE type(r) IN $types AND (r.time IS NULL OR r.ingestTime IS NULL OR r.eventKey IS NULL) RETURN count(r) AS n',
    { types: timestamped },
  );
  assert.equal(missing.records[0]!.get('n'), 0);
});

test('Sysmon and Security views of one process become one node; processes are never keyed by pid alone', async () => {
  const r = await db.read(`
    MATCH (p:Process {host: 'workstation5.theshire.local', pid: 2316}) WHERE p.stub = false
    RETURN p.key AS key, p.imageName AS image, p.commandLine STARTS WITH '"C:' AS cmd`);
  assert.equal(r.records.length, 1);
  assert.equal(r.records[0]!.get('key'), 'workstation5.theshire.local|860ba2e3-9f13-5f52-2703-000000000400');
  // Both sensors' spawn edges land on the same wscript -> powershell pair.
  const spawns = await db.read(`
    MATCH (a:Process)-[s:SPAWNED]->(b:Process {key: 'workstation5.theshire.local|860ba2e3-9f13-5f52-2703-000000000400'})
    RETURN a.imageName AS parent, collect(s.eventCode) AS codes`);
  assert.equal(spawns.records.length, 1);
  assert.equal(spawns.records[0]!.get('parent'), 'wscript.exe');
  assert.deepEqual([...(spawns.records[0]!.get('codes') as string[])].sort(), ['1', '4688']);
  // Sysmon 7's load of the process's own executable gives its signer.
  const signed = await db.read(
    "MATCH (p:Process {key: 'workstation5.theshire.local|860ba2e3-9f13-5f52-2603-000000000400'})-[:INSTANCE_OF]->(a:App) RETURN p.signer AS s, p.signed AS ok, a.signer AS app",
  );
  assert.deepEqual(signed.records[0]!.toObject(), {
    s: 'Microsoft Windows',
    ok: true,
    app: 'Microsoft Windows',
  });
  const pidOnly = await db.read("MATCH (p:Process) WHERE NOT p.key CONTAINS '|' RETURN count(p) AS n");
  assert.equal(pidOnly.records[0]!.get('n'), 0);
});

test('a malformed record is counted and written to the rejects file with its file and line; the rest loads', async () => {
  await clearGraph(db);
  const dir = mkdtempSync(join(tmpdir(), 'lh-'));
  const good = readFileSync(
    join(import.meta.dirname, '..', 'cypher', 'fixtures', 'an1314', 'miss-egress-outside-window.jsonl'),
    'utf8',
  )
    .trim()
    .split('\n');
  const input = join(dir, 'input.jsonl');
  writeFileSync(
    input,
    [good[0], '{"EventID": 1, "SourceName": "Microsoft-Windows-Sysmon"', good[1], good[2]].join('\n'),
  );
  const rejectsPath = join(dir, 'rejects.jsonl');
  const s = await ingest(db, [input], { rejectsPath });
  assert.equal(s.read, 4);
  assert.equal(s.loaded, 3);
  assert.equal(s.rejectedTotal, 1);
  const rejects = readFileSync(rejectsPath, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(rejects.length, 1);
  assert.equal(rejects[0].file, input);
  assert.equal(rejects[0].line, 2);
  assert.equal(rejects[0].reason, 'invalid JSON');
  const n = await db.read(
    "MATCH (p:Process {host: 'fx-late-egress.example.lab'}) WHERE p.stub = false RETURN count(p) AS n",
  );
  assert.equal(n.records[0]!.get('n'), 2);
});
