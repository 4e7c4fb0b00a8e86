// ECS mapping. No licence-clean real Winlogbeat or Elastic Defend export is available here, so the real
// OTRF recording (bundled, MIT) is re-laid into both ECS layouts, field by field as those agents name
// them, and must map to the same processes, connections and chain as the original records.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { CanonicalEvent } from '../ingest/canonical.ts';
import { detectFormat, loadFormats } from '../ingest/formats/index.ts';
import { ingest } from '../ingest/pipeline.ts';
import { expandInputs, readInput } from '../ingest/read.ts';
import { hunt } from '../src/analytics.ts';
import type { Db } from '../src/db.ts';
import { clearGraph, SAMPLE, testDb } from './helpers.ts';

type Rec = Record<string, any>;
const SYSMON_USED = new Set([1, 3, 11, 22]);

async function otrfRecords(): Promise<Rec[]> {
  const out: Rec[] = [];
  for (const input of await expandInputs([SAMPLE]))
    for await (const r of readInput(input)) {
      const v = r.value as Rec;
      if (v.SourceName === 'Microsoft-Windows-Sysmon' && SYSMON_USED.has(v.EventID)) out.push(v);
    }
  return out;
}

/** Winlogbeat / Elastic Agent: the raw fields under winlog.event_data, ECS fields beside them. */
function winlogbeat(v: Rec): Rec {
  const { SourceName, EventID, Hostname, Channel, RecordNumber, UtcTime, ...rest } = v;
  const eventData: Rec = {};
  for (const k of [
    'UtcTime',
    'ProcessGuid',
    'ProcessId',
    'Image',
    'CommandLine',
    'CurrentDirectory',
    'User',
    'ParentProcessGuid',
    'ParentProcessId',
    'ParentImage',
    'ParentCommandLine',
    'DestinationIp',
    'DestinationPort',
    'SourceIp',
    'SourcePort',
    'Protocol',
    'Initiated',
    'QueryName',
    'QueryResults',
    'TargetFilename',
    'Hashes',
    'IntegrityLevel',
  ])
    if (rest[k] !== undefined || k === 'UtcTime') eventData[k] = k === 'UtcTime' ? UtcTime : rest[k];
  // Elastic's pipeline moves some fields out of event_data into ECS: mimic that for process identity.
  const moved = { ...eventData };
  delete moved.ProcessGuid;
  delete moved.Image;
  return {
    '@timestamp': v['@timestamp'],
    event: { code: String(EventID), provider: SourceName, kind: 'event' },
    host: { name: Hostname.toLowerCase() },
    winlog: {
      channel: Channel,
      computer_name: Hostname,
      event_id: EventID,
      provider_name: SourceName,
      record_id: RecordNumber,
      event_data: moved,
    },
    process: { entity_id: v.ProcessGuid, executable: v.Image, pid: Number(v.ProcessId) },
  };
}

/** Elastic Defend: ECS only. */
function defend(v: Rec): Rec {
  const time = `${v.UtcTime.replace(' ', 'T')}Z`;
  const [domain, name] = String(v.User ?? '\\').split('\\');
  const base: Rec = {
    '@timestamp': time,
    host: { hostname: v.Hostname, os: { type: 'windows' } },
    event: { id: `${v.RecordNumber}`, dataset: 'endpoint.events' },
    user: { name, domain },
    process: { entity_id: v.ProcessGuid, pid: Number(v.ProcessId), executable: v.Image },
  };
  if (v.EventID === 1)
    return {
      ...base,
      event: { ...base.event, category: ['process'], type: ['start'], action: 'start' },
      process: {
        ...base.process,
        command_line: v.CommandLine,
        working_directory: v.CurrentDirectory,
        parent: { entity_id: v.ParentProcessGuid, pid: Number(v.ParentProcessId), executable: v.ParentImage },
      },
    };
  if (v.EventID === 3)
    return {
      ...base,
      event: { ...base.event, category: ['network'], type: ['start'], action: 'connection_attempted' },
      network: { transport: v.Protocol, direction: v.Initiated === 'true' ? 'egress' : 'ingress' },
      destination: { ip: v.DestinationIp, port: Number(v.DestinationPort) },
      source: { ip: v.SourceIp, port: Number(v.SourcePort) },
    };
  if (v.EventID === 22)
    return {
      ...base,
      event: { ...base.event, category: ['network'], type: ['protocol', 'info'], action: 'lookup_result' },
      dns: {
        question: { name: v.QueryName },
        resolved_ip: String(v.QueryResults ?? '')
          .split(';')
          .filter((x) => /^[\d.:a-f]+$/i.test(x.replace('::ffff:', '')))
          .map((x) => x.replace('::ffff:', '')),
      },
    };
  return {
    ...base,
    event: { ...base.event, category: ['file'], type: ['creation'], action: 'creation' },
    file: { path: v.TargetFilename },
  };
}

async function mapAll(docs: Rec[]): Promise<CanonicalEvent[]> {
  const formats = await loadFormats();
  const out: CanonicalEvent[] = [];
  for (const [i, d] of docs.entries()) {
    const f = detectFormat(formats, d);
    assert.equal(f?.name, 'ecs', JSON.stringify(d).slice(0, 200));
    const m = f!.map(d, { file: 'x', line: i + 1, volumeMap: {} });
    assert.equal(m.ok, true, JSON.stringify(m));
    if (m.ok === true) out.push(...m.events);
  }
  return out;
}

const identity = (e: CanonicalEvent) => ({
  time: e.time,
  host: e.host,
  kind: e.kind,
  guid: e.process.guid,
  pid: e.process.pid,
  image: e.process.image,
  parent: e.kind === 'process.start' ? e.parent.guid : null,
  dst: e.kind === 'network.connection' ? `${e.dstIp}:${e.dstPort}` : null,
  path: 'path' in e ? e.path : null,
});

test('Winlogbeat and Elastic Defend layouts of the real recording map to the same events as the original', async () => {
  const recs = await otrfRecords();
  assert.equal(recs.length, 39);
  const formats = await loadFormats();
  const otrf = formats.find((f) => f.name === 'otrf-nxlog')!;
  const expected = recs.flatMap((r, i) => {
    const m = otrf.map(r, { file: 'x', line: i + 1, volumeMap: {} });
    return m.ok === true ? m.events : [];
  });
  const viaWinlog = await mapAll(recs.map(winlogbeat));
  assert.deepEqual(viaWinlog.map(identity), expected.map(identity));
  const viaDefend = await mapAll(recs.map(defend));
  assert.deepEqual(viaDefend.map(identity), expected.map(identity));
});

let db: Db;
before(async () => {
  db = await testDb();
});
after(async () => {
  await clearGraph(db);
  await db.close();
});

test('the empire chain is found from Elastic Defend NDJSON', async () => {
  await clearGraph(db);
  const dir = mkdtempSync(join(tmpdir(), 'lh-ecs-'));
  const path = join(dir, 'defend.ndjson');
  writeFileSync(path, `${(await otrfRecords()).map((r) => JSON.stringify(defend(r))).join('\n')}\n`);
  const s = await ingest(db, [path]);
  assert.equal(s.rejectedTotal, 0);
  const { chains } = await hunt(db, { analytic: 'AN1314' });
  assert.equal(chains.length, 1);
  assert.equal(chains[0]!.alert, true);
  assert.deepEqual(
    chains[0]!.lineage.map((n) => n.name),
    ['explorer.exe', 'wscript.exe'],
  );
  assert.deepEqual([...new Set(chains[0]!.steps[3]!.evidence.map((e) => e.target?.name))], ['10.10.10.5']);
});
