// Elastic Common Schema documents as Winlogbeat, Elastic Agent and Elastic Defend write them (NDJSON
// exported from a SIEM). Windows event-log documents (a `winlog` object) go through the same Windows
// mapping as every other Windows shape, with ECS fields filling what the pipeline dropped from
// winlog.event_data; Elastic Defend documents (no `winlog`) are mapped from ECS fields directly.
import { createHash } from 'node:crypto';
import type { CanonicalEvent, MapResult, ProcessRef } from '../canonical.ts';
import { hostKey, normaliseGuid } from '../keys.ts';
import { isoUtc, mapWindowsRecord } from '../windows-events.ts';
import { filesOnCommandLine, normaliseWindowsPath } from '../windows-paths.ts';
import { type Format, isObject } from './format.ts';

type Doc = Record<string, unknown>;

/** Dotted lookup that also accepts flattened keys ("process.pid" as one key). */
function get(doc: unknown, path: string): unknown {
  if (!isObject(doc)) return undefined;
  if (path in doc) return doc[path];
  const i = path.indexOf('.');
  if (i < 0) return undefined;
  for (let j = i; j > 0; j = path.indexOf('.', j + 1)) {
    const head = path.slice(0, j);
    if (head in doc) {
      const v = get(doc[head], path.slice(j + 1));
      if (v !== undefined) return v;
    }
    if (path.indexOf('.', j + 1) < 0) break;
  }
  return undefined;
}

const str = (v: unknown): string | undefined => {
  if (Array.isArray(v)) v = v[0];
  if (v === undefined || v === null) return undefined;
  const s = String(v).trim();
  return s === '' || s === '-' ? undefined : s;
};
const list = (v: unknown): string[] =>
  Array.isArray(v) ? v.map(String) : v === undefined || v === null ? [] : [String(v)];

/** Sysmon and Security field names filled from ECS where winlog.event_data lacks them. */
function fromEcs(doc: Doc, eventId: number, provider: string): Record<string, unknown> {
  const user = str(get(doc, 'user.name'));
  const domain = str(get(doc, 'user.domain'));
  const hashes = ['sha1', 'md5', 'sha256', 'imphash']
    .map((h) => [h, str(get(doc, `process.hash.${h}`))] as const)
    .filter(([, v]) => v)
    .map(([h, v]) => `${h.toUpperCase()}=${v!.toUpperCase()}`)
    .join(',');
  const out: Record<string, unknown> = {
    ProcessGuid: get(doc, 'process.entity_id'),
    ProcessId: get(doc, 'process.pid'),
    Image: get(doc, 'process.executable'),
    CommandLine: get(doc, 'process.command_line'),
    CurrentDirectory: get(doc, 'process.working_directory'),
    ParentProcessGuid: get(doc, 'process.parent.entity_id'),
    ParentProcessId: get(doc, 'process.parent.pid'),
    ParentImage: get(doc, 'process.parent.executable'),
    ParentCommandLine: get(doc, 'process.parent.command_line'),
    User: user ? (domain ? `${domain}\\${user}` : user) : undefined,
    Hashes: hashes || undefined,
    DestinationIp: get(doc, 'destination.ip'),
    DestinationPort: get(doc, 'destination.port'),
    DestinationHostname: get(doc, 'destination.domain'),
    SourceIp: get(doc, 'source.ip'),
    SourcePort: get(doc, 'source.port'),
    Protocol: get(doc, 'network.transport'),
    QueryName: get(doc, 'dns.question.name'),
    QueryResults: list(get(doc, 'dns.resolved_ip')).join(';') || undefined,
    TargetFilename: get(doc, 'file.path'),
  };
  const dir = str(get(doc, 'network.direction'));
  if (dir) out.Initiated = /^(egress|outbound|outgoing)$/i.test(dir) ? 'true' : 'false';
  if (provider === 'Microsoft-Windows-Security-Auditing' && eventId === 4688) {
    out.NewProcessId = get(doc, 'process.pid');
    out.NewProcessName = get(doc, 'process.executable');
    out.ProcessId = get(doc, 'process.parent.pid');
    out.ParentProcessName = get(doc, 'process.parent.executable');
    out.SubjectUserName = user;
    out.SubjectDomainName = domain;
  }
  if (provider === 'Microsoft-Windows-Security-Auditing' && eventId === 5156) {
    out.DestAddress = get(doc, 'destination.ip');
    out.DestPort = get(doc, 'destination.port');
    out.SourceAddress = get(doc, 'source.ip');
    out.Application = get(doc, 'process.executable');
    out.ProcessID = get(doc, 'process.pid');
  }
  return out;
}

function mapWinlog(doc: Doc, file: string, line: number, volumeMap: Record<string, string>): MapResult {
  const provider = str(get(doc, 'winlog.provider_name')) ?? str(get(doc, 'event.provider'));
  const eventId = Number(str(get(doc, 'winlog.event_id')) ?? str(get(doc, 'event.code')));
  if (!provider) return { ok: false, reason: 'winlog document without winlog.provider_name' };
  if (!Number.isInteger(eventId))
    return { ok: false, reason: 'winlog document without a numeric winlog.event_id' };
  const eventData = isObject(get(doc, 'winlog.event_data')) ? (get(doc, 'winlog.event_data') as Doc) : {};
  const userData = isObject(get(doc, 'winlog.user_data')) ? (get(doc, 'winlog.user_data') as Doc) : {};
  const data: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fromEcs(doc, eventId, provider)))
    if (v !== undefined && v !== null) data[k] = v;
  Object.assign(data, userData, eventData);
  const recordId = str(get(doc, 'winlog.record_id'));
  return mapWindowsRecord(
    {
      provider,
      eventId,
      channel: str(get(doc, 'winlog.channel')) ?? provider,
      computer:
        str(get(doc, 'winlog.computer_name')) ??
        str(get(doc, 'host.hostname')) ??
        str(get(doc, 'host.name')) ??
        '',
      recordId,
      timeCreated: isoUtc(get(doc, '@timestamp')),
      data,
    },
    { source: 'ecs', volumeMap, fallbackId: `${file}:${line}` },
  );
}

function ref(doc: Doc, prefix: string, windows: boolean): ProcessRef {
  const r: ProcessRef = {};
  const entity = str(get(doc, `${prefix}.entity_id`));
  if (entity) r.guid = normaliseGuid(entity) ?? entity;
  const pid = Number(str(get(doc, `${prefix}.pid`)));
  if (Number.isSafeInteger(pid) && pid >= 0) r.pid = pid;
  const exe = str(get(doc, `${prefix}.executable`));
  if (exe) r.image = windows ? normaliseWindowsPath(exe) : exe;
  const cmd = str(get(doc, `${prefix}.command_line`)) ?? list(get(doc, `${prefix}.args`)).join(' ');
  if (cmd) r.commandLine = cmd;
  return r;
}

/** Elastic Defend (endpoint) documents, any OS. */
function mapEndpoint(doc: Doc): MapResult {
  const categories = list(get(doc, 'event.category'));
  const types = list(get(doc, 'event.type'));
  const time = isoUtc(get(doc, '@timestamp'));
  const hostName = str(get(doc, 'host.hostname')) ?? str(get(doc, 'host.name'));
  if (!time) return { ok: false, reason: 'ECS document without a parsable @timestamp' };
  if (!hostName) return { ok: false, reason: 'ECS document without host.name' };
  const os = (str(get(doc, 'host.os.type')) ?? str(get(doc, 'host.os.platform')) ?? '').toLowerCase();
  const windows = os === 'windows' || (str(get(doc, 'process.executable')) ?? '').includes('\\');
  const host = hostKey(hostName);
  const eventId = str(get(doc, 'event.id'));
  const id = `${host}|ecs|${eventId ?? createHash('sha1').update(JSON.stringify(doc)).digest('hex')}`;
  const user = str(get(doc, 'user.name'));
  const domain = str(get(doc, 'user.domain'));
  const process = ref(doc, 'process', windows);
  if (user) process.user = domain ? `${domain}\\${user}` : user;
  const base = {
    id,
    time,
    host,
    source: 'ecs',
    provider: str(get(doc, 'event.dataset')) ?? str(get(doc, 'event.module')) ?? 'ecs',
    eventCode: str(get(doc, 'event.action')) ?? types.join(','),
    caseInsensitivePaths: windows,
  };
  if (!process.guid && process.pid === undefined)
    return { ok: false, reason: 'ECS document without process.entity_id or process.pid' };
  let ev: CanonicalEvent | undefined;
  if (categories.includes('process') && types.includes('start')) {
    const cwd = str(get(doc, 'process.working_directory'));
    ev = {
      ...base,
      kind: 'process.start',
      process: { ...process, startTime: isoUtc(get(doc, 'process.start')) ?? time },
      parent: ref(doc, 'process.parent', windows),
      openedFiles: windows
        ? filesOnCommandLine(process.commandLine, {
            ...(user ? { user } : {}),
            ...(cwd ? { currentDirectory: cwd } : {}),
          })
        : [],
    };
    if (cwd) ev.currentDirectory = cwd;
    const sha256 = str(get(doc, 'process.hash.sha256'));
    if (sha256) ev.hashes = `SHA256=${sha256.toUpperCase()}`;
  } else if (categories.includes('process') && types.includes('end')) {
    ev = { ...base, kind: 'process.end', process };
  } else if (categories.includes('network') && str(get(doc, 'dns.question.name'))) {
    ev = {
      ...base,
      kind: 'dns.query',
      process,
      query: str(get(doc, 'dns.question.name'))!,
      answers: list(get(doc, 'dns.resolved_ip')),
    };
  } else if (categories.includes('network') && str(get(doc, 'destination.ip'))) {
    const dir = str(get(doc, 'network.direction')) ?? 'egress';
    ev = {
      ...base,
      kind: 'network.connection',
      process,
      protocol: (str(get(doc, 'network.transport')) ?? 'unknown').toLowerCase(),
      direction: /^(ingress|inbound|incoming)$/i.test(dir) ? 'inbound' : 'outbound',
      dstIp: str(get(doc, 'destination.ip'))!,
    };
    const port = Number(str(get(doc, 'destination.port')));
    if (Number.isInteger(port)) ev.dstPort = port;
    const srcIp = str(get(doc, 'source.ip'));
    if (srcIp) ev.srcIp = srcIp;
    const srcPort = Number(str(get(doc, 'source.port')));
    if (Number.isInteger(srcPort)) ev.srcPort = srcPort;
    const domainName = str(get(doc, 'destination.domain'));
    if (domainName) ev.dstHostname = domainName;
  } else if (categories.includes('file') && (types.includes('creation') || types.includes('deletion'))) {
    const path = str(get(doc, 'file.path'));
    if (!path) return { ok: false, reason: 'ECS file event without file.path' };
    ev = {
      ...base,
      kind: types.includes('creation') ? 'file.create' : 'file.delete',
      process,
      path: windows ? normaliseWindowsPath(path, process.user) : path,
    };
  }
  if (!ev)
    return { ok: 'skip', reason: `ECS ${categories.join('/') || 'event'} ${types.join('/')} not used` };
  return { ok: true, events: [ev] };
}

export const format: Format = {
  name: 'ecs',
  description:
    'Elastic Common Schema NDJSON: Winlogbeat and Elastic Agent (winlog.*), Elastic Defend (endpoint)',
  detect: (r) =>
    isObject(r) &&
    typeof (r['@timestamp'] ?? null) === 'string' &&
    (isObject(r.winlog) || isObject(r.event) || 'event.category' in r || 'winlog.event_id' in r) &&
    !('SourceName' in r),
  map(r, ctx) {
    if (!isObject(r)) return { ok: false, reason: 'not a JSON object' };
    if (get(r, 'winlog.event_id') !== undefined || get(r, 'winlog.provider_name') !== undefined)
      return mapWinlog(r, ctx.file, ctx.line, ctx.volumeMap);
    return mapEndpoint(r);
  },
};
