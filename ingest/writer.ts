// The one writer: canonical events to batched UNWIND … MERGE transactions. Loading the same input
// again changes nothing: nodes are merged on deterministic keys and every time-stamped edge carries
// the event's key (unique per relationship type), so an event already written is never written twice.
// Repeated connections are separate events and so separate edges.

import type { Db } from '../src/db.ts';
import { label, rel } from '../src/model.ts';
import type {
  AppCrashEvent,
  CanonicalEvent,
  DnsQueryEvent,
  FileEvent,
  FileStreamEvent,
  ImageSignatureEvent,
  NetworkConnectionEvent,
  ProcessEndEvent,
  ProcessRef,
  ProcessStartEvent,
} from './canonical.ts';
import {
  appKey,
  domainDestinationKey,
  fileKey,
  imageName,
  ipDestinationKey,
  ipFacts,
  pidKey,
  processKey,
  stubKey,
} from './keys.ts';
import { baseName } from './windows-paths.ts';

const P = label('Process');
const H = label('Host');
const A = label('App');
const U = label('User');
const F = label('File');
const D = label('Destination');

/** For processes known only by pid: a start time this early sorts below every real one. Pid-only
 * sources (Security) carry whole seconds, hence the 2 s tolerance on start times below. */
// The JavaScript driver sends every number as a float: integers are cast with toInteger() here.
const EPOCH = "datetime('1601-01-01T00:00:00Z')";

interface RefRow {
  /** Key from a sensor identity (GUID); pidKey from pid + start time, when the event carries both. */
  key: string | null;
  pidKey: string | null;
  stubKey: string;
  guid: string | null;
  pid: number | null;
  image: string | null;
  imageName: string | null;
  appKey: string | null;
}

function refRow(host: string, ref: ProcessRef, ci: boolean): RefRow {
  return {
    key: ref.guid ? (processKey(host, ref) ?? null) : null,
    pidKey: pidKey(host, ref) ?? null,
    stubKey: stubKey(host, ref, ci),
    guid: ref.guid ?? null,
    pid: ref.pid ?? null,
    image: ref.image ?? null,
    imageName: imageName(ref.image) ?? null,
    appKey: ref.image ? appKey(ref.image, ci) : null,
  };
}

/**
 * Resolve row[refField] to a Process node bound as `p`: by key when the sensor gave an identity,
 * else the latest process with that pid (and image name, when both are known) started before the
 * event, else a stub keyed by host, pid and image.
 */
const resolveProcess = (refField: string, timeField: string, exclude?: string) => `
CALL (row${exclude ? `, ${exclude}` : ''}) {
  OPTIONAL MATCH (same:${P} {pidKey: row.${refField}.pidKey})
  WHERE row.${refField}.key IS NULL
  RETURN same ORDER BY same.guid IS NULL LIMIT 1
}
CALL (row${exclude ? `, ${exclude}` : ''}) {
  OPTIONAL MATCH (c:${P} {host: row.host})
  WHERE row.${refField}.key IS NULL AND row.${refField}.pidKey IS NULL${exclude ? ` AND c <> ${exclude}` : ''}
    AND CASE WHEN row.${refField}.pid IS NOT NULL THEN c.pid = toInteger(row.${refField}.pid)
             ELSE c.imageName = row.${refField}.imageName END
    AND coalesce(c.startTime, ${EPOCH}) <= datetime(row.${timeField}) + duration({seconds: 2})
    AND (row.${refField}.imageName IS NULL OR c.imageName IS NULL OR c.imageName = row.${refField}.imageName)
  RETURN c AS found ORDER BY coalesce(c.startTime, ${EPOCH}) DESC LIMIT 1
}
WITH row, coalesce(row.${refField}.key, same.key, found.key, row.${refField}.pidKey, row.${refField}.stubKey) AS pk
MERGE (p:${P} {key: pk})
  ON CREATE SET p.host = row.host, p.pid = toInteger(row.${refField}.pid), p.guid = row.${refField}.guid,
    p.pidKey = row.${refField}.pidKey, p.stub = true
SET p.image = coalesce(p.image, row.${refField}.image),
    p.imageName = coalesce(p.imageName, row.${refField}.imageName)
WITH row, p
CALL (row, p) {
  // Only the image the node itself records: a device path seen by another sensor adds no second App.
  WITH row, p WHERE row.${refField}.appKey IS NOT NULL AND p.image = row.${refField}.image
  MERGE (a:${A} {key: row.${refField}.appKey}) ON CREATE SET a.path = row.${refField}.image, a.name = row.${refField}.imageName
  MERGE (p)-[:${rel('INSTANCE_OF')}]->(a)
}
MERGE (h:${H} {key: row.host}) ON CREATE SET h.name = row.host
MERGE (p)-[:${rel('ON_HOST')}]->(h)
`;

/** Create the time-stamped edge (a)-[T]->(b) unless an edge of that type already carries this event. */
const eventEdge = (type: string, from: string, to: string, keyExpr: string, props: string, extra = '') => `
CALL (row, ${from}, ${to}${extra}) {
  WITH row, ${from}, ${to}${extra} WHERE NOT EXISTS { MATCH ()-[x:${rel(type)} {eventKey: ${keyExpr}}]->() }
  CREATE (${from})-[r:${rel(type)} {eventKey: ${keyExpr}}]->(${to})
  SET r.time = datetime(row.time), r.ingestTime = datetime(), r.source = row.source,
      r.provider = row.provider, r.eventCode = row.eventCode${props ? `, ${props}` : ''}
}
`;

const PROCESS_START = `
UNWIND $rows AS row
MERGE (h:${H} {key: row.host}) ON CREATE SET h.name = row.host
WITH row, h
// The same process seen by Sysmon (GUID) and by Security 4688 (pid + start) becomes one node:
// a pid-keyed node is re-keyed to the GUID when Sysmon arrives, and Security attaches to a GUID node.
CALL (row) {
  OPTIONAL MATCH (old:${P} {key: row.pidKey})
  WHERE row.guid IS NOT NULL AND row.pidKey IS NOT NULL AND old.guid IS NULL
    AND NOT EXISTS { MATCH (:${P} {key: row.key}) }
  SET old.key = row.key, old.guid = row.guid
}
CALL (row) {
  OPTIONAL MATCH (same:${P} {pidKey: row.pidKey})
  WHERE row.guid IS NULL
  RETURN same ORDER BY same.guid IS NULL LIMIT 1
}
WITH row, h, coalesce(same.key, row.key) AS k
MERGE (p:${P} {key: k})
SET p.host = row.host, p.stub = false,
    p.guid = coalesce(p.guid, row.guid), p.pid = coalesce(p.pid, toInteger(row.pid)), p.pidKey = coalesce(p.pidKey, row.pidKey),
    p.image = coalesce(p.image, row.image), p.imageName = coalesce(p.imageName, row.imageName),
    p.commandLine = coalesce(p.commandLine, row.commandLine), p.startTime = coalesce(p.startTime, datetime(row.time)),
    p.user = coalesce(p.user, row.user), p.integrity = coalesce(p.integrity, row.integrity),
    p.hashes = coalesce(p.hashes, row.hashes), p.currentDirectory = coalesce(p.currentDirectory, row.currentDirectory),
    p.sources = CASE WHEN row.source IN coalesce(p.sources, []) THEN p.sources ELSE coalesce(p.sources, []) + row.source END
MERGE (p)-[:${rel('ON_HOST')}]->(h)
WITH row, p
CALL (row, p) {
  WITH row, p WHERE row.appKey IS NOT NULL
  MERGE (a:${A} {key: row.appKey}) ON CREATE SET a.path = row.image, a.name = row.imageName
  MERGE (p)-[:${rel('INSTANCE_OF')}]->(a)
}
CALL (row, p) {
  // A second sensor's idea of the account (4688 names the creator) does not add a second RAN_AS.
  WITH row, p WHERE row.userKey IS NOT NULL AND p.user = row.user
  MERGE (u:${U} {key: row.userKey}) ON CREATE SET u.name = row.user
  SET u.sid = coalesce(u.sid, row.userSid)
  MERGE (p)-[:${rel('RAN_AS')}]->(u)
}
CALL (row, p) {
  UNWIND row.opened AS o
  MERGE (f:${F} {key: o.key}) ON CREATE SET f.host = row.host, f.path = o.path, f.name = o.name, f.ext = o.ext
  MERGE (h:${H} {key: row.host})
  MERGE (f)-[:${rel('STORED_ON')}]->(h)
  WITH row, p, f, o
  ${eventEdge('OPENED', 'p', 'f', "row.eventKey + '#' + o.key", '', ', o').trim()}
}
RETURN count(*) AS n
`;

// The child was written by PROCESS_START under its own key, or attached to the GUID node with its pidKey.
const FIND_CHILD = `
CALL (row) {
  OPTIONAL MATCH (c1:${P} {key: row.key})
  OPTIONAL MATCH (c2:${P} {pidKey: row.pidKey})
  RETURN coalesce(c1, c2) AS child LIMIT 1
}`;

const PROCESS_PARENT = `
UNWIND $rows AS row
${FIND_CHILD}
WITH row, child WHERE child IS NOT NULL
${resolveProcess('parent', 'time', 'child')}
WITH row, p AS parent
${FIND_CHILD}
WITH row, parent, child
${eventEdge('SPAWNED', 'parent', 'child', 'row.eventKey', '')}
RETURN count(*) AS n
`;

const NETWORK = `
UNWIND $rows AS row
${resolveProcess('proc', 'time')}
MERGE (d:${D} {key: row.dst.key})
  ON CREATE SET d.name = row.dst.ip, d.ip = row.dst.ip, d.ipNum = toInteger(row.dst.ipNum), d.ipVersion = toInteger(row.dst.version), d.scope = row.dst.scope
WITH row, p, d
${eventEdge('CONNECTED', 'p', 'd', 'row.eventKey', 'r.protocol = row.protocol, r.direction = row.direction, r.srcIp = row.srcIp, r.srcPort = toInteger(row.srcPort), r.dstPort = toInteger(row.dstPort), r.dstHostname = row.dstHostname')}
RETURN count(*) AS n
`;

const DNS = `
UNWIND $rows AS row
${resolveProcess('proc', 'time')}
MERGE (d:${D} {key: row.domainKey}) ON CREATE SET d.name = row.domain, d.domain = row.domain, d.scope = row.scope
WITH row, p, d
${eventEdge('RESOLVED', 'p', 'd', 'row.eventKey', 'r.answers = row.answers, r.status = row.status')}
WITH row, d
CALL (row, d) {
  UNWIND row.ips AS ip
  MERGE (i:${D} {key: ip.key}) ON CREATE SET i.name = ip.ip, i.ip = ip.ip, i.ipNum = toInteger(ip.ipNum), i.ipVersion = toInteger(ip.version), i.scope = ip.scope
  WITH row, d, i, ip
  ${eventEdge('RESOLVES_TO', 'd', 'i', "row.eventKey + '#' + ip.key", '', ', ip').trim()}
}
RETURN count(*) AS n
`;

const fileStatement = (type: 'WROTE' | 'DELETED') => `
UNWIND $rows AS row
${resolveProcess('proc', 'time')}
MERGE (f:${F} {key: row.fileKey}) ON CREATE SET f.host = row.host, f.path = row.path, f.name = row.name, f.ext = row.ext
MERGE (f)-[:${rel('STORED_ON')}]->(h)
SET f.motw = CASE WHEN row.zoneId IS NOT NULL THEN true ELSE f.motw END,
    f.zoneId = coalesce(toInteger(row.zoneId), f.zoneId), f.hostUrl = coalesce(row.hostUrl, f.hostUrl),
    f.referrerUrl = coalesce(row.referrerUrl, f.referrerUrl)
WITH row, p, f
${eventEdge(type, 'p', 'f', 'row.eventKey', 'r.stream = row.stream, r.contents = row.contents')}
RETURN count(*) AS n
`;

const PROCESS_END = `
UNWIND $rows AS row
${resolveProcess('proc', 'time')}
SET p.endTime = coalesce(p.endTime, datetime(row.time))
RETURN count(*) AS n
`;

const CRASH = `
UNWIND $rows AS row
${resolveProcess('proc', 'time')}
MERGE (a:${A} {key: coalesce(row.proc.appKey, 'name:' + row.proc.imageName)})
  ON CREATE SET a.path = row.proc.image, a.name = row.proc.imageName
WITH row, p, a
${eventEdge('CRASHED', 'p', 'a', 'row.eventKey', 'r.crashKind = row.crashKind, r.module = row.module, r.exceptionCode = row.exceptionCode, r.reportId = row.reportId')}
RETURN count(*) AS n
`;

const SIGNATURE = `
UNWIND $rows AS row
${resolveProcess('proc', 'time')}
SET p.signed = row.signed, p.signer = coalesce(row.signer, p.signer),
    p.signatureStatus = coalesce(row.signatureStatus, p.signatureStatus), p.hashes = coalesce(p.hashes, row.hashes)
WITH p, row
OPTIONAL MATCH (p)-[:${rel('INSTANCE_OF')}]->(a:${A})
SET a.signer = coalesce(row.signer, a.signer)
RETURN count(*) AS n
`;

const STATEMENTS = {
  signature: SIGNATURE,
  processEnd: PROCESS_END,
  crash: CRASH,
  processStart: PROCESS_START,
  processParent: PROCESS_PARENT,
  network: NETWORK,
  dns: DNS,
  fileWrite: fileStatement('WROTE'),
  fileDelete: fileStatement('DELETED'),
};

const common = (e: CanonicalEvent) => ({
  eventKey: e.id,
  time: e.time,
  host: e.host,
  source: e.source,
  provider: e.provider,
  eventCode: e.eventCode,
});

const ext = (name: string) =>
  name.includes('.') ? name.slice(name.lastIndexOf('.') + 1).toLowerCase() : null;

function processRows(e: ProcessStartEvent) {
  const ci = e.caseInsensitivePaths;
  const ref = e.process;
  const user = ref.user ?? null;
  return {
    ...common(e),
    key: processKey(e.host, ref)!,
    pidKey: pidKey(e.host, ref) ?? null,
    guid: ref.guid ?? null,
    pid: ref.pid ?? null,
    image: ref.image ?? null,
    imageName: imageName(ref.image) ?? null,
    appKey: ref.image ? appKey(ref.image, ci) : null,
    commandLine: ref.commandLine ?? null,
    user,
    userKey: user ? user.toLowerCase() : e.userSid ? e.userSid.toLowerCase() : null,
    userSid: e.userSid ?? null,
    integrity: e.integrity ?? null,
    hashes: e.hashes ?? null,
    currentDirectory: e.currentDirectory ?? null,
    parent: refRow(e.host, e.parent, ci),
    opened: e.openedFiles.map((path) => {
      const name = baseName(path);
      return { key: fileKey(e.host, path, ci), path, name, ext: ext(name) };
    }),
  };
}

function networkRow(e: NetworkConnectionEvent) {
  const facts = ipFacts(e.dstIp);
  const ip = facts?.ip ?? e.dstIp;
  return {
    ...common(e),
    proc: refRow(e.host, e.process, e.caseInsensitivePaths),
    dst: {
      key: ipDestinationKey(ip),
      ip,
      ipNum: facts?.ipNum ?? null,
      version: facts?.version ?? null,
      scope: facts?.scope ?? 'unknown',
    },
    protocol: e.protocol,
    direction: e.direction,
    srcIp: e.srcIp ?? null,
    srcPort: e.srcPort ?? null,
    dstPort: e.dstPort ?? null,
    dstHostname: e.dstHostname ?? null,
  };
}

function dnsRow(e: DnsQueryEvent) {
  const domain = e.query.trim().replace(/\.$/, '').toLowerCase();
  const scope = domain === 'localhost' || domain.endsWith('.localhost') ? 'loopback' : 'public';
  const ips = e.answers.flatMap((a) => {
    const f = ipFacts(a);
    return f
      ? [
          {
            key: ipDestinationKey(f.ip),
            ip: f.ip,
            ipNum: f.ipNum ?? null,
            version: f.version,
            scope: f.scope,
          },
        ]
      : [];
  });
  return {
    ...common(e),
    proc: refRow(e.host, e.process, e.caseInsensitivePaths),
    domainKey: domainDestinationKey(domain),
    domain,
    scope,
    answers: e.answers,
    status: e.status ?? null,
    ips,
  };
}

function fileRow(e: FileEvent | FileStreamEvent) {
  const name = baseName(e.path);
  const stream = e.kind === 'file.stream' ? e : undefined;
  return {
    ...common(e),
    eventKey: e.id,
    proc: refRow(e.host, e.process, e.caseInsensitivePaths),
    fileKey: fileKey(e.host, e.path, e.caseInsensitivePaths),
    path: e.path,
    name,
    ext: ext(name),
    stream: stream?.stream ?? null,
    contents: stream?.contents ?? null,
    zoneId: stream?.zoneId ?? null,
    hostUrl: stream?.hostUrl ?? null,
    referrerUrl: stream?.referrerUrl ?? null,
  };
}

/** Rows whose process has a sensor identity first, so pid-only rows (Security 5156) can find those processes. */
const byIdentity = (name: string, rows: Array<{ proc: RefRow }>): Array<[string, unknown[]]> => [
  [name, rows.filter((r) => r.proc.key !== null)],
  [name, rows.filter((r) => r.proc.key === null)],
];

export interface WriteCounts {
  events: number;
  nodesCreated: number;
  relationshipsCreated: number;
}

/** Write one batch in one transaction (retried on transient errors). Process starts go first so the
 * network and file events of the same batch find the processes they belong to. */
export async function writeBatch(db: Db, events: CanonicalEvent[]): Promise<WriteCounts> {
  const unique = [...new Map(events.map((e) => [e.id, e])).values()];
  const procs = unique.filter((e): e is ProcessStartEvent => e.kind === 'process.start').map(processRows);
  // Reads in one statement do not see that statement's own writes, so sensors with process GUIDs go
  // first and pid-only sensors (Security 4688) second: the second statement then finds the first's nodes.
  const withGuid = procs.filter((r) => r.guid !== null);
  const pidOnly = procs.filter((r) => r.guid === null);
  const groups: Array<[string, unknown[]]> = [
    ['processStart', withGuid],
    ['processParent', withGuid],
    ['processStart', pidOnly],
    ['processParent', pidOnly],
    ...byIdentity(
      'network',
      unique.filter((e): e is NetworkConnectionEvent => e.kind === 'network.connection').map(networkRow),
    ),
    ['dns', unique.filter((e): e is DnsQueryEvent => e.kind === 'dns.query').map(dnsRow)],
    [
      'fileWrite',
      unique
        .filter((e): e is FileEvent | FileStreamEvent => e.kind === 'file.create' || e.kind === 'file.stream')
        .map(fileRow),
    ],
    ['fileDelete', unique.filter((e): e is FileEvent => e.kind === 'file.delete').map(fileRow)],
    ...byIdentity(
      'signature',
      unique
        .filter((e): e is ImageSignatureEvent => e.kind === 'image.signature')
        .map((e) => ({
          ...common(e),
          proc: refRow(e.host, e.process, e.caseInsensitivePaths),
          signed: e.signed,
          signer: e.signer ?? null,
          signatureStatus: e.signatureStatus ?? null,
          hashes: e.hashes ?? null,
        })),
    ),
    ...byIdentity(
      'processEnd',
      unique
        .filter((e): e is ProcessEndEvent => e.kind === 'process.end')
        .map((e) => ({ ...common(e), proc: refRow(e.host, e.process, e.caseInsensitivePaths) })),
    ),
    [
      'crash',
      unique
        .filter((e): e is AppCrashEvent => e.kind === 'app.crash')
        .map((e) => ({
          ...common(e),
          proc: refRow(e.host, e.process, e.caseInsensitivePaths),
          crashKind: e.crashKind,
          module: e.faultingModule ?? null,
          exceptionCode: e.exceptionCode ?? null,
          reportId: e.reportId ?? null,
        })),
    ],
  ];
  return db.writeTx(async (tx) => {
    const counts: WriteCounts = { events: unique.length, nodesCreated: 0, relationshipsCreated: 0 };
    for (const [name, rows] of groups) {
      if (rows.length === 0) continue;
      const res = await tx.run(STATEMENTS[name as keyof typeof STATEMENTS], { rows });
      const c = res.summary.counters.updates();
      counts.nodesCreated += c.nodesCreated;
      counts.relationshipsCreated += c.relationshipsCreated;
    }
    return counts;
  });
}
