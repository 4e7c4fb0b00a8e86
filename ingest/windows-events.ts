// Sysmon and Windows Security events to canonical events, whatever container they arrived in
// (OTRF/NXLog JSON, Event JSON, later EVTX). Formats build a WindowsRecord and call mapWindowsRecord.
import type { CanonicalEvent, MapResult, NetworkConnectionEvent, ProcessRef } from './canonical.ts';
import { hostKey, normaliseGuid } from './keys.ts';
import { filesOnCommandLine, normaliseWindowsPath } from './windows-paths.ts';

export const SYSMON = 'Microsoft-Windows-Sysmon';
export const SECURITY = 'Microsoft-Windows-Security-Auditing';
export const APP_ERROR = 'Application Error';
export const WER = 'Windows Error Reporting';
/** Providers whose events some analytic uses; formats may skip the rest early. */
export const USED_PROVIDERS = new Set([SYSMON, SECURITY, APP_ERROR, WER]);

export interface WindowsRecord {
  provider: string;
  eventId: number;
  channel: string;
  computer: string;
  /** EventRecordID; with channel and computer it identifies the record. */
  recordId: string | undefined;
  /** When the record was written, ISO UTC (TimeCreated). */
  timeCreated: string | undefined;
  data: Record<string, unknown>;
}

export interface WindowsMapOptions {
  source: string;
  volumeMap?: Record<string, string>;
  /** Used for the event id when the record has no EventRecordID. */
  fallbackId: string;
}

const str = (v: unknown): string | undefined => {
  if (v === undefined || v === null) return undefined;
  const s = String(v).trim();
  return s === '' || s === '-' ? undefined : s;
};

/** Parse a decimal or 0x-hex process id. */
export function parsePid(v: unknown): number | undefined {
  const s = str(v);
  if (!s) return undefined;
  const n = /^0x[0-9a-f]+$/i.test(s)
    ? Number.parseInt(s.slice(2), 16)
    : /^\d+$/.test(s)
      ? Number(s)
      : Number.NaN;
  return Number.isSafeInteger(n) ? n : undefined;
}

const parsePort = (v: unknown): number | undefined => {
  const n = parsePid(v);
  return n !== undefined && n <= 65535 ? n : undefined;
};

/** Sysmon's "2020-09-04 20:09:55.035" (UTC) to ISO. */
export function sysmonUtc(v: unknown): string | undefined {
  const s = str(v);
  if (!s) return undefined;
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(\.\d+)?Z?$/.exec(s);
  if (!m) return undefined;
  const ms = (m[3] ?? '.000').slice(0, 4).padEnd(4, '0');
  const iso = `${m[1]}T${m[2]}${ms}Z`;
  return Number.isNaN(Date.parse(iso)) ? undefined : iso;
}

/** An ISO-ish time to ISO UTC; Windows SystemTime carries no zone and is UTC. */
export function isoUtc(v: unknown): string | undefined {
  let s = str(v);
  if (!s) return undefined;
  s = s.replace(/^(\d{4}-\d{2}-\d{2}) /, '$1T');
  if (!/(Z|[+-]\d{2}:?\d{2})$/i.test(s)) s += 'Z';
  s = s.replace(/(\.\d{3})\d+/, '$1');
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}

function proto(v: unknown): string {
  const s = str(v)?.toLowerCase();
  if (s === '6') return 'tcp';
  if (s === '17') return 'udp';
  return s ?? 'unknown';
}

function zoneIdentifier(contents: string | undefined): {
  zoneId?: number;
  hostUrl?: string;
  referrerUrl?: string;
} {
  if (!contents) return {};
  // Values end at a line break or, where a pipeline flattened the stream, at whitespace.
  const get = (k: string) => new RegExp(`(?:^|\\s)${k}=(\\S+)`, 'i').exec(contents)?.[1];
  const zone = get('ZoneId');
  const out: { zoneId?: number; hostUrl?: string; referrerUrl?: string } = {};
  if (zone && /^\d+$/.test(zone)) out.zoneId = Number(zone);
  const host = get('HostUrl');
  if (host) out.hostUrl = host;
  const ref = get('ReferrerUrl');
  if (ref) out.referrerUrl = ref;
  return out;
}

/** Map one Windows record. Event ids no analytic uses are skipped, malformed ones rejected with a reason. */
export function mapWindowsRecord(rec: WindowsRecord, opts: WindowsMapOptions): MapResult {
  const host = str(rec.computer);
  if (!host) return { ok: false, reason: 'missing Computer/Hostname' };
  const d = rec.data;
  const vm = opts.volumeMap ?? {};
  const id = rec.recordId
    ? `${hostKey(host)}|${rec.channel.toLowerCase()}|${rec.recordId}`
    : `${hostKey(host)}|${opts.fallbackId}`;
  const isSysmon = rec.provider === SYSMON;
  const time = (isSysmon ? sysmonUtc(d.UtcTime) : undefined) ?? rec.timeCreated;
  if (!time) return { ok: false, reason: 'no parsable event time' };
  const base = {
    id,
    time,
    host: hostKey(host),
    source: opts.source,
    provider: rec.provider,
    eventCode: String(rec.eventId),
    caseInsensitivePaths: true,
  };
  const path = (v: unknown, user?: string) => {
    const s = str(v);
    return s ? normaliseWindowsPath(s, user, vm) : undefined;
  };
  const user = str(d.User);
  const sysmonProcess = (): ProcessRef => {
    const ref: ProcessRef = {};
    const guid = normaliseGuid(str(d.ProcessGuid));
    if (guid) ref.guid = guid;
    const pid = parsePid(d.ProcessId);
    if (pid !== undefined) ref.pid = pid;
    const image = path(d.Image, user);
    if (image) ref.image = image;
    if (user) ref.user = user;
    return ref;
  };

  if (isSysmon) {
    switch (rec.eventId) {
      case 1: {
        const proc = sysmonProcess();
        // Some forwarders drop fields (OTRF's NXLog records can lack ProcessId): a GUID alone identifies.
        if (!proc.guid && proc.pid === undefined)
          return { ok: false, reason: 'Sysmon 1 without ProcessGuid or ProcessId' };
        const commandLine = str(d.CommandLine);
        const currentDirectory = path(d.CurrentDirectory, user);
        const parent: ProcessRef = {};
        const pguid = normaliseGuid(str(d.ParentProcessGuid));
        if (pguid) parent.guid = pguid;
        const ppid = parsePid(d.ParentProcessId);
        if (ppid !== undefined) parent.pid = ppid;
        const pimage = path(d.ParentImage, str(d.ParentUser) ?? user);
        if (pimage) parent.image = pimage;
        const pcmd = str(d.ParentCommandLine);
        if (pcmd) parent.commandLine = pcmd;
        const puser = str(d.ParentUser);
        if (puser) parent.user = puser;
        const ev: CanonicalEvent = {
          ...base,
          kind: 'process.start',
          process: { ...proc, startTime: time, ...(commandLine ? { commandLine } : {}) },
          parent,
          openedFiles: filesOnCommandLine(commandLine, {
            ...(user ? { user } : {}),
            ...(currentDirectory ? { currentDirectory } : {}),
            volumeMap: vm,
          }),
        };
        if (currentDirectory) ev.currentDirectory = currentDirectory;
        const integrity = str(d.IntegrityLevel);
        if (integrity) ev.integrity = integrity;
        const hashes = str(d.Hashes);
        if (hashes) ev.hashes = hashes;
        return { ok: true, events: [ev] };
      }
      case 3: {
        const dstIp = str(d.DestinationIp);
        if (!dstIp) return { ok: false, reason: 'Sysmon 3 without DestinationIp' };
        const ev = connection(
          base,
          sysmonProcess(),
          d.Protocol,
          str(d.Initiated)?.toLowerCase() !== 'false',
          dstIp,
          {
            srcIp: d.SourceIp,
            srcPort: d.SourcePort,
            dstPort: d.DestinationPort,
            dstHostname: d.DestinationHostname,
          },
        );
        return { ok: true, events: [ev] };
      }
      case 5:
        return { ok: true, events: [{ ...base, kind: 'process.end', process: sysmonProcess() }] };
      case 7: {
        // Only the load of the process's own executable: it carries the executable's signer.
        const loaded = path(d.ImageLoaded, user);
        const proc = sysmonProcess();
        if (!loaded || !proc.image || loaded.toLowerCase() !== proc.image.toLowerCase())
          return { ok: 'skip', reason: 'Sysmon 7 module load not used' };
        const ev: CanonicalEvent = {
          ...base,
          kind: 'image.signature',
          process: proc,
          signed: str(d.Signed)?.toLowerCase() === 'true',
        };
        const signer = str(d.Signature);
        if (signer) ev.signer = signer;
        const status = str(d.SignatureStatus);
        if (status) ev.signatureStatus = status;
        const hashes = str(d.Hashes);
        if (hashes) ev.hashes = hashes;
        return { ok: true, events: [ev] };
      }
      case 11:
      case 23:
      case 26: {
        const target = path(d.TargetFilename, user);
        if (!target) return { ok: false, reason: `Sysmon ${rec.eventId} without TargetFilename` };
        const kind = rec.eventId === 11 ? 'file.create' : 'file.delete';
        return { ok: true, events: [{ ...base, kind, process: sysmonProcess(), path: target }] };
      }
      case 15: {
        const raw = path(d.TargetFilename, user);
        if (!raw) return { ok: false, reason: 'Sysmon 15 without TargetFilename' };
        // TargetFilename is "file:stream" (e.g. C:\Users\x\Downloads\a.zip:Zone.Identifier).
        const colon = raw.indexOf(':', 2);
        const filePath = colon > 0 ? raw.slice(0, colon) : raw;
        const stream = colon > 0 ? raw.slice(colon + 1).replace(/:\$DATA$/i, '') : 'unnamed';
        const contents = str(d.Contents);
        return {
          ok: true,
          events: [
            {
              ...base,
              kind: 'file.stream',
              process: sysmonProcess(),
              path: filePath,
              stream,
              ...(contents ? { contents } : {}),
              ...(/^zone\.identifier$/i.test(stream) ? zoneIdentifier(contents) : {}),
            },
          ],
        };
      }
      case 22: {
        const query = str(d.QueryName);
        if (!query) return { ok: false, reason: 'Sysmon 22 without QueryName' };
        const answers = (str(d.QueryResults) ?? '')
          .split(';')
          .map((a) => a.trim())
          .filter((a) => a && !a.startsWith('type:'))
          .map((a) => a.replace(/^::ffff:/i, ''));
        const ev: CanonicalEvent = { ...base, kind: 'dns.query', process: sysmonProcess(), query, answers };
        const status = str(d.QueryStatus);
        if (status) ev.status = status;
        return { ok: true, events: [ev] };
      }
      default:
        return { ok: 'skip', reason: `Sysmon event ${rec.eventId} not used` };
    }
  }

  if (rec.provider === SECURITY) {
    switch (rec.eventId) {
      case 4688: {
        const pid = parsePid(d.NewProcessId);
        const image = path(d.NewProcessName);
        if (pid === undefined || !image)
          return { ok: false, reason: '4688 without NewProcessId or NewProcessName' };
        const subject = str(d.SubjectUserName);
        const target = str(d.TargetUserName);
        const domain = str(target ? d.TargetDomainName : d.SubjectDomainName);
        const name = target ?? subject;
        const u = name ? (domain ? `${domain}\\${name}` : name) : undefined;
        const commandLine = str(d.CommandLine);
        const parent: ProcessRef = {};
        const ppid = parsePid(d.ProcessId);
        if (ppid !== undefined) parent.pid = ppid;
        const pimage = path(d.ParentProcessName);
        if (pimage) parent.image = pimage;
        const ev: CanonicalEvent = {
          ...base,
          kind: 'process.start',
          process: {
            pid,
            image: path(d.NewProcessName, u) ?? image,
            startTime: time,
            ...(commandLine ? { commandLine } : {}),
            ...(u ? { user: u } : {}),
          },
          parent,
          openedFiles: filesOnCommandLine(commandLine, { ...(u ? { user: u } : {}), volumeMap: vm }),
        };
        const sid = str(target ? d.TargetUserSid : d.SubjectUserSid);
        if (sid && sid !== 'S-1-0-0') ev.userSid = sid;
        return { ok: true, events: [ev] };
      }
      case 5156: {
        const dstIp = str(d.DestAddress);
        const pid = parsePid(d.ProcessId ?? d.ProcessID);
        if (!dstIp || pid === undefined)
          return { ok: false, reason: '5156 without DestAddress or ProcessId' };
        const dir = str(d.Direction);
        const ref: ProcessRef = { pid };
        const app = path(d.Application);
        if (app && app !== 'System') ref.image = app;
        const outbound = dir === '%%14593' || /outbound/i.test(dir ?? '');
        const ev = connection(base, ref, d.Protocol, outbound, dstIp, {
          srcIp: d.SourceAddress,
          srcPort: d.SourcePort,
          dstPort: d.DestPort,
        });
        return { ok: true, events: [ev] };
      }
      default:
        return { ok: 'skip', reason: `Security event ${rec.eventId} not used` };
    }
  }
  if (rec.provider === APP_ERROR && rec.eventId === 1000) return mapApplicationError(d, base, vm);
  if (rec.provider === WER && rec.eventId === 1001) return mapWerReport(d, base);
  return { ok: 'skip', reason: `provider ${rec.provider || '(none)'} event ${rec.eventId} not used` };
}

type Base = Omit<CanonicalEvent, 'kind' | 'process'> & { host: string; time: string };

type Head = Pick<
  NetworkConnectionEvent,
  'id' | 'time' | 'host' | 'source' | 'provider' | 'eventCode' | 'caseInsensitivePaths'
>;

/** A network connection from Sysmon 3 or Security 5156 field values. */
function connection(
  base: Head,
  process: ProcessRef,
  protocol: unknown,
  outbound: boolean,
  dstIp: string,
  f: { srcIp: unknown; srcPort: unknown; dstPort: unknown; dstHostname?: unknown },
): NetworkConnectionEvent {
  const ev: NetworkConnectionEvent = {
    ...base,
    kind: 'network.connection',
    process,
    protocol: proto(protocol),
    direction: outbound ? 'outbound' : 'inbound',
    dstIp,
  };
  const srcIp = str(f.srcIp);
  if (srcIp) ev.srcIp = srcIp;
  const srcPort = parsePort(f.srcPort);
  if (srcPort !== undefined) ev.srcPort = srcPort;
  const dstPort = parsePort(f.dstPort);
  if (dstPort !== undefined) ev.dstPort = dstPort;
  const dstHostname = str(f.dstHostname);
  if (dstHostname) ev.dstHostname = dstHostname;
  return ev;
}

/** FILETIME (100 ns since 1601) as 0x-hex or decimal to ISO UTC. */
export function filetimeIso(v: unknown): string | undefined {
  const s = str(v);
  if (!s) return undefined;
  let n: bigint;
  try {
    n = BigInt(/^0x/i.test(s) ? s : /^\d+$/.test(s) ? s : 'x');
  } catch {
    return undefined;
  }
  const ms = Number(n / 10000n) - 11644473600000;
  return ms > 0 && ms < 4102444800000 ? new Date(ms).toISOString() : undefined;
}

/**
 * Application Error 1000: the faulting app's name, pid (hex) and start time (FILETIME) identify the very
 * process; Data is named on recent Windows, positional (param1…) on older ones.
 */
function mapApplicationError(d: Record<string, unknown>, base: Base, vm: Record<string, string>): MapResult {
  const pick = (name: string, pos: number) => d[name] ?? d[`param${pos}`];
  const appPath = str(pick('AppPath', 11));
  const appName = str(pick('AppName', 1));
  const pid = parsePid(pick('ProcessId', 9));
  if (!appName && !appPath) return { ok: false, reason: 'Application Error 1000 without AppName or AppPath' };
  const process: ProcessRef = {};
  if (pid !== undefined) process.pid = pid;
  const image = appPath ? normaliseWindowsPath(appPath, undefined, vm) : appName;
  if (image) process.image = image;
  const start = filetimeIso(pick('ProcessCreationTime', 10));
  if (start) process.startTime = start;
  const ev: CanonicalEvent = { ...base, kind: 'app.crash', process, crashKind: 'Application Error' };
  const module = str(pick('ModuleName', 4));
  if (module) ev.faultingModule = module;
  const code = str(pick('ExceptionCode', 7));
  if (code) ev.exceptionCode = code;
  const report = str(pick('IntegratorReportId', 13));
  if (report) ev.reportId = report;
  return { ok: true, events: [ev] };
}

/** Windows Error Reporting 1001: only crash-like reports (APPCRASH, BEX…) of a named program. */
function mapWerReport(d: Record<string, unknown>, base: Base): MapResult {
  const kind = str(d.EventName ?? d.param3);
  if (!kind || !/^(APPCRASH|BEX|BEX64|MoAppCrash|APPHANG|MoAppHang)$/i.test(kind))
    return { ok: 'skip', reason: `Windows Error Reporting ${kind ?? '(no event name)'} not used` };
  const app = str(d.P1 ?? d.param6);
  if (!app) return { ok: false, reason: 'Windows Error Reporting 1001 without P1 (application)' };
  const ev: CanonicalEvent = {
    ...base,
    kind: 'app.crash',
    process: { image: app },
    crashKind: kind.toUpperCase(),
  };
  const module = str(d.P4 ?? d.param9);
  if (module) ev.faultingModule = module;
  const report = str(d.ReportID ?? d.param19);
  if (report) ev.reportId = report;
  return { ok: true, events: [ev] };
}
