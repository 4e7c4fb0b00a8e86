// Format mapping on real records: OTRF (the bundled empire_launcher_vbs recording) and SigmaHQ's
// Event JSON (from the corpus); every canonical event must match schema/canonical-event.schema.json.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { CanonicalEvent } from '../ingest/canonical.ts';
import { detectFormat, loadFormats } from '../ingest/formats/index.ts';
import { expandInputs, readInput } from '../ingest/read.ts';
import { corpus, ROOT, SAMPLE } from './helpers.ts';

const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats.default(ajv);
const validate = ajv.compile(
  JSON.parse(readFileSync(join(ROOT, 'schema', 'canonical-event.schema.json'), 'utf8')),
);

async function mapAll(path: string): Promise<{ events: CanonicalEvent[]; rejected: string[]; read: number }> {
  const formats = await loadFormats();
  const events: CanonicalEvent[] = [];
  const rejected: string[] = [];
  let read = 0;
  for (const input of await expandInputs([path])) {
    if (input.unsupported) continue;
    for await (const rec of readInput(input)) {
      read++;
      if (rec.error) {
        rejected.push(`${rec.file}:${rec.line}: ${rec.error}`);
        continue;
      }
      const fmt = detectFormat(formats, rec.value);
      if (!fmt) {
        rejected.push(`${rec.file}:${rec.line}: no format`);
        continue;
      }
      const r = fmt.map(rec.value, { file: rec.file, line: rec.line, volumeMap: {} });
      if (r.ok === true) events.push(...r.events);
      else if (r.ok === false) rejected.push(`${rec.file}:${rec.line}: ${r.reason}`);
    }
  }
  return { events, rejected, read };
}

test('OTRF NXLog JSON: the empire_launcher_vbs recording maps to canonical events', async () => {
  const { events, rejected, read } = await mapAll(SAMPLE);
  assert.equal(read, 2067);
  assert.deepEqual(rejected, []);
  for (const e of events) assert.ok(validate(e), `${e.id}: ${ajv.errorsText(validate.errors)}`);

  const wscript = events.find(
    (e) => e.kind === 'process.start' && e.eventCode === '1' && e.process.image?.endsWith('wscript.exe'),
  );
  assert.ok(wscript && wscript.kind === 'process.start');
  assert.equal(wscript.time, '2020-09-04T20:09:55.035Z');
  assert.equal(wscript.host, 'workstation5.theshire.local');
  assert.equal(wscript.process.guid, '860ba2e3-9f13-5f52-2603-000000000400');
  assert.equal(wscript.process.pid, 2440);
  assert.equal(wscript.parent.image, 'C:\\Windows\\explorer.exe');
  assert.equal(wscript.process.user, 'THESHIRE\\pgustavo');
  assert.deepEqual(wscript.openedFiles, ['C:\\Users\\pgustavo\\Desktop\\launcher.vbs']);

  // Security 4688: hex pids, and EventTime (host local, UTC-4) converted to UTC.
  const sec = events.find(
    (e) =>
      e.kind === 'process.start' && e.eventCode === '4688' && e.process.image?.endsWith('powershell.exe'),
  );
  assert.ok(sec && sec.kind === 'process.start');
  assert.equal(sec.process.pid, 2316);
  assert.equal(sec.parent.pid, 2440);
  assert.equal(sec.time, '2020-09-04T20:09:55.000Z');
  assert.equal(sec.process.user, 'THESHIRE\\pgustavo');

  // Sysmon 3 and Security 5156 of the same connection: two events.
  const conns = events.filter((e) => e.kind === 'network.connection' && e.dstIp === '10.10.10.5');
  assert.deepEqual(
    conns.map((e) => [e.eventCode, e.time, e.kind === 'network.connection' && e.dstPort]).sort(),
    [
      ['3', '2020-09-04T20:09:59.621Z', 80],
      ['5156', '2020-09-04T20:09:59.000Z', 80],
    ],
  );
  const c5156 = conns.find((e) => e.eventCode === '5156')!;
  assert.equal(c5156.process.pid, 2316);
  assert.equal(
    c5156.process.image,
    '\\device\\harddiskvolume2\\windows\\system32\\windowspowershell\\v1.0\\powershell.exe',
  );

  const dns = events.find((e) => e.kind === 'dns.query' && e.query === 'wdcp.microsoft.com');
  assert.ok(dns && dns.kind === 'dns.query');
  assert.deepEqual(dns.answers, ['104.40.17.153']);
});

test('Windows Event JSON: SigmaHQ regression records map with GUIDs, users and parents', async (t) => {
  const c = corpus();
  if (c.skip) return t.skip(c.skip);
  const dir = join(c.path!, 'windows', 'sigma-regression');
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 8);
  const { events, rejected } = await mapAll(dir);
  assert.deepEqual(rejected, []);
  for (const e of events) assert.ok(validate(e), `${e.id}: ${ajv.errorsText(validate.errors)}`);
  const hh = events.find((e) => e.kind === 'process.start' && e.process.image === 'C:\\Windows\\hh.exe');
  assert.ok(hh && hh.kind === 'process.start');
  assert.equal(hh.time, '2025-10-27T00:11:22.292Z');
  assert.equal(hh.host, 'ar-win-dc.attackrange.local');
  assert.equal(hh.process.guid, '5aa13a44-b8aa-68fe-3f02-000000004102');
  assert.equal(hh.parent.guid, '5aa13a44-b55f-68fe-1a01-000000004102');
  assert.equal(hh.parent.image, 'C:\\Program Files\\Everything\\Everything.exe');
  assert.equal(hh.process.user, 'ATTACKRANGE\\Administrator');
  assert.deepEqual(hh.openedFiles, ['C:\\Windows\\IME\\IMETC\\HELP\\IMTCTC14.CHM']);
  const created = events.filter((e) => e.kind === 'file.create');
  assert.ok(created.length >= 4, 'the file_event records map to file.create');
});

test('malformed input is reported with its file and line, and the rest is still read', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lh-'));
  const lines = readFileSync(
    join(ROOT, 'cypher', 'fixtures', 'an1314', 'miss-egress-outside-window.jsonl'),
    'utf8',
  )
    .trim()
    .split('\n');
  const broken = [
    lines[0],
    '{"SourceName": "Microsoft-Windows-Sysmon", "EventID": 1, truncated',
    lines[1],
    '{"hello": 1}',
    lines[2],
  ];
  const path = join(dir, 'mixed.jsonl');
  writeFileSync(path, `${broken.join('\n')}\n`);
  const { events, rejected, read } = await mapAll(path);
  assert.equal(read, 5);
  assert.equal(events.length, 3);
  assert.equal(rejected.length, 2);
  assert.match(rejected[0]!, /mixed\.jsonl:2: invalid JSON/);
  assert.match(rejected[1]!, /mixed\.jsonl:4: no format/);
});

test('evtx_dump\'s JSON output (a "Record N" line before each pretty-printed event) is read record by record', async (t) => {
  const c = corpus();
  if (c.skip) return t.skip(c.skip);
  const dir = join(c.path!, 'windows', 'sigma-regression');
  const jsons = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  const tmp = mkdtempSync(join(tmpdir(), 'lh-'));
  const path = join(tmp, 'dump.txt');
  // SigmaHQ's sidecars are evtx_dump's documents; evtx_dump -o json writes them one after another like this.
  writeFileSync(
    path,
    jsons.map((f, i) => `Record ${i + 1}\n${readFileSync(join(dir, f), 'utf8').trim()}\n`).join(''),
  );
  const { events, rejected, read } = await mapAll(path);
  assert.equal(read, jsons.length);
  assert.deepEqual(rejected, []);
  assert.equal(events.length, jsons.length);
  const separate = await mapAll(join(dir, '*.json'));
  assert.deepEqual(events.map((e) => e.id).sort(), separate.events.map((e) => e.id).sort());
});
