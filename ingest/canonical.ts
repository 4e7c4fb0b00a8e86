// The canonical event model every telemetry format maps into (JSON Schema: schema/canonical-event.schema.json).
// Formats are pure: raw records in, canonical events out. Only the writer turns these into graph writes.

/** A reference to a process as a sensor reports it. Keys are derived from it by ingest/keys.ts. */
export interface ProcessRef {
  /** Sensor-assigned process GUID (Sysmon ProcessGuid), lower-case, without braces. */
  guid?: string;
  pid?: number;
  /** Executable path as reported (normalised separators, original case). */
  image?: string;
  commandLine?: string;
  /** Start time (ISO 8601 UTC) when the event carries it. */
  startTime?: string;
  /** DOMAIN\name as reported. */
  user?: string;
}

interface EventBase {
  /** Deterministic identity of the source record: the same record always yields the same id. */
  id: string;
  /** Event time, ISO 8601 UTC with milliseconds. */
  time: string;
  /** Lower-case host name. */
  host: string;
  /** The telemetry format module that produced the event. */
  source: string;
  /** Provider and event code of the source record, e.g. Microsoft-Windows-Sysmon / 1. */
  provider: string;
  eventCode: string;
  /** Windows paths are case-insensitive: keys fold case when true. */
  caseInsensitivePaths: boolean;
}

export interface ProcessStartEvent extends EventBase {
  kind: 'process.start';
  /** Has a guid or a pid (or both), and its startTime. */
  process: ProcessRef & { startTime: string };
  parent: ProcessRef;
  userSid?: string;
  integrity?: string;
  hashes?: string;
  currentDirectory?: string;
  /** Files named on the command line (documents, scripts), already normalised. */
  openedFiles: string[];
}

export interface NetworkConnectionEvent extends EventBase {
  kind: 'network.connection';
  process: ProcessRef;
  protocol: string;
  direction: 'outbound' | 'inbound';
  srcIp?: string;
  srcPort?: number;
  dstIp: string;
  dstPort?: number;
  dstHostname?: string;
}

export interface DnsQueryEvent extends EventBase {
  kind: 'dns.query';
  process: ProcessRef;
  query: string;
  /** IP addresses in the answer. */
  answers: string[];
  status?: string;
}

export interface FileEvent extends EventBase {
  kind: 'file.create' | 'file.delete';
  process: ProcessRef;
  path: string;
}

export interface FileStreamEvent extends EventBase {
  kind: 'file.stream';
  process: ProcessRef;
  path: string;
  /** Alternate data stream name, e.g. Zone.Identifier. */
  stream: string;
  contents?: string;
  /** Mark-of-the-Web zone and origin parsed from a Zone.Identifier stream. */
  zoneId?: number;
  hostUrl?: string;
  referrerUrl?: string;
}

export interface ProcessEndEvent extends EventBase {
  kind: 'process.end';
  process: ProcessRef;
}

/** A user app crashed or hit an exploit guard (Windows Error Reporting, Application Error): DET0478's
 * "abnormal event" of a user-facing app. */
export interface AppCrashEvent extends EventBase {
  kind: 'app.crash';
  process: ProcessRef;
  /** WER's event name (APPCRASH, BEX, BEX64, …) or "Application Error". */
  crashKind: string;
  faultingModule?: string;
  exceptionCode?: string;
  reportId?: string;
}

/** The signature of a process's own executable (Sysmon 7 when the loaded image is the process image). */
export interface ImageSignatureEvent extends EventBase {
  kind: 'image.signature';
  process: ProcessRef;
  signed: boolean;
  signer?: string;
  signatureStatus?: string;
  hashes?: string;
}

export type CanonicalEvent =
  | ProcessStartEvent
  | ImageSignatureEvent
  | ProcessEndEvent
  | AppCrashEvent
  | NetworkConnectionEvent
  | DnsQueryEvent
  | FileEvent
  | FileStreamEvent;

export type EventKind = CanonicalEvent['kind'];

/** What a format returns for one raw record. */
export type MapResult =
  | { ok: true; events: CanonicalEvent[] }
  /** A well-formed record of a kind no analytic uses (counted, not rejected). */
  | { ok: 'skip'; reason: string }
  /** A malformed record: counted, reported with its file and line, written to the rejects file. */
  | { ok: false; reason: string };
