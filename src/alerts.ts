// Alerts live in the graph: one Alert node per chain root, linked to every node that proves a step, so
// one pattern — MATCH (a:Alert {key: $key})-[e:EVIDENCE]->(n) RETURN a, e, n — shows the whole chain in
// Neo4j Browser. Seeing the chain again updates it (last seen, score, steps, new evidence); it never
// raises a second alert.
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { type ChainView, getAnalytic, hunt } from './analytics.ts';
import { type Db, plain } from './db.ts';
import { LineageError } from './errors.ts';
import { label, rel } from './model.ts';

const AL = label('Alert');
const EV = rel('EVIDENCE');
const SUP = label('Suppression');

export const STATUSES = ['new', 'in_progress', 'false_positive', 'closed'] as const;

/** 'raised' with the new alert's view whenever an alert is stored for the first time (the API publishes it). */
export const alertEvents = new EventEmitter();
export type AlertStatus = (typeof STATUSES)[number];

/** The chain's identity: its analytic and its root (the user-facing app nearest the LOLBIN). */
export function fingerprint(analytic: string, c: ChainView): string {
  return createHash('sha256').update(`${analytic}\n${c.root.key}`).digest('hex').slice(0, 32);
}

export function severity(score: number): 'critical' | 'high' | 'medium' | 'low' {
  if (score >= 90) return 'critical';
  if (score >= 75) return 'high';
  if (score >= 50) return 'medium';
  return 'low';
}

interface EvidenceRow {
  step: number;
  what: string;
  time: string | null;
  relation: string | null;
  nodeKey: string;
  nodeLabel: string;
}

function evidenceRows(c: ChainView): EvidenceRow[] {
  const rows = new Map<string, EvidenceRow>();
  const add = (
    step: number,
    what: string,
    time: string | null,
    relation: string | null,
    key?: string,
    lbl?: string,
  ) => {
    if (!key || !lbl) return;
    const id = `${step}|${lbl}|${key}`;
    if (!rows.has(id)) rows.set(id, { step, what, time, relation, nodeKey: key, nodeLabel: lbl });
  };
  for (const s of c.steps)
    for (const e of s.evidence) {
      add(s.step, e.what, e.time, e.relation, e.process?.key, e.process?.label);
      add(s.step, e.what, e.time, e.relation, e.target?.key, e.target?.label);
      for (const v of e.via) add(s.step, 'lineage to the egress', e.time, null, v.key, v.label);
    }
  return [...rows.values()];
}

/** Labels evidence may point at: only the model's, never a label taken from data. */
const EVIDENCE_LABELS = ['Process', 'File', 'Destination', 'App', 'User', 'Host'] as const;

const UPSERT = `
OPTIONAL MATCH (seen:${AL} {key: $key})
WITH seen IS NULL AS created
MERGE (a:${AL} {key: $key})
ON CREATE SET a.name = $analytic + ' ' + $rootImage + ' > ' + $lolbinImage, a.analytic = $analytic, a.technique = $technique, a.fingerprint = $fingerprint,
  a.status = 'new', a.assignee = null, a.notes = [], a.createdAt = datetime(),
  a.history = [$raisedEntry], a.firstSeen = datetime($firstSeen), a.lastSeen = datetime($lastSeen),
  a.score = $score, a.severity = $severity, a.stepsFound = $stepsFound, a.host = $host, a.user = $user,
  a.rootImage = $rootImage, a.lolbinImage = $lolbinImage, a.link = $link
ON MATCH SET
  a.lastSeen = CASE WHEN datetime($lastSeen) > a.lastSeen THEN datetime($lastSeen) ELSE a.lastSeen END,
  a.firstSeen = CASE WHEN datetime($firstSeen) < a.firstSeen THEN datetime($firstSeen) ELSE a.firstSeen END,
  a.score = CASE WHEN $score > a.score THEN $score ELSE a.score END,
  a.stepsFound = apocFreeUnion
SET a.severity = CASE WHEN a.score >= 90 THEN 'critical' WHEN a.score >= 75 THEN 'high' WHEN a.score >= 50 THEN 'medium' ELSE 'low' END,
    a.updatedAt = datetime()
WITH a, created
CALL (a) {
  UNWIND $evidence AS ev
  CALL (ev) {
    ${EVIDENCE_LABELS.map((l) => `WITH ev WHERE ev.nodeLabel = '${l}' MATCH (n:${label(l)} {key: ev.nodeKey}) RETURN n`).join('\n    UNION\n    ')}
  }
  MERGE (a)-[e:${EV} {step: ev.step, nodeKey: ev.nodeKey}]->(n)
  ON CREATE SET e.what = ev.what, e.time = CASE WHEN ev.time IS NULL THEN null ELSE datetime(ev.time) END,
    e.relation = ev.relation, e.addedAt = datetime()
  RETURN count(*) AS linked
}
WITH a, created, linked
// Suppressions decide at each evaluation: links to those that match now, none once they expired.
OPTIONAL MATCH (a)-[old:${rel('SUPPRESSED_BY')}]->(:${SUP})
DELETE old
WITH DISTINCT a, created, linked
CALL (a) {
  UNWIND $suppressedBy AS sk
  MATCH (s:${SUP} {key: sk})
  MERGE (a)-[:${rel('SUPPRESSED_BY')}]->(s)
  RETURN count(*) AS n
}
SET a.suppressed = size($suppressedBy) > 0
RETURN created, linked
`.replace(
  'apocFreeUnion',
  'reduce(s = a.stepsFound, x IN $stepsFound | CASE WHEN x IN s THEN s ELSE s + x END)',
);

export interface RaiseResult {
  key: string;
  /** True for a new alert; false when an existing one was refreshed. */
  created: boolean;
  /** Suppressions that matched: the alert is stored, marked suppressed. */
  suppressedBy: string[];
}

export const SUPPRESSION_KINDS = ['destination', 'fileHash', 'image', 'parentImage', 'user', 'host'] as const;
export type SuppressionKind = (typeof SUPPRESSION_KINDS)[number];

export interface Suppression {
  key: string;
  kind: SuppressionKind;
  value: string;
  analytic: string | null;
  reason: string;
  createdBy: string;
  createdAt: string;
  expiresAt: string | null;
}

/** The values of a chain each suppression kind is matched against (lower case; hashes upper case). */
export function chainValues(c: ChainView): Record<SuppressionKind, string[]> {
  const processes = [
    c.root,
    c.lolbin,
    ...c.lineage,
    ...c.steps.flatMap((s) => s.evidence.flatMap((e) => [e.process, ...e.via])),
  ].filter((p): p is NonNullable<typeof p> => p !== null && p.label === 'Process');
  const images = processes.map((p) => String(p.properties.image ?? '').toLowerCase()).filter(Boolean);
  const hashes = processes.flatMap((p) =>
    [...String(p.properties.hashes ?? '').matchAll(/SHA256=([0-9A-F]+)/gi)].map((m) => m[1]!.toUpperCase()),
  );
  const destinations = c.steps[3]!.evidence.flatMap((e) => (e.target ? [e.target.name.toLowerCase()] : []));
  return {
    destination: [...new Set(destinations)],
    fileHash: [...new Set(hashes)],
    image: [...new Set(images)],
    parentImage: [String(c.root.properties.image ?? c.root.name).toLowerCase()],
    user: c.user ? [c.user.toLowerCase()] : [],
    host: [c.host.toLowerCase()],
  };
}

/** Active suppressions (not expired at `now`) that match the chain. */
export function matchingSuppressions(c: ChainView, analytic: string, active: Suppression[]): Suppression[] {
  const values = chainValues(c);
  const rootSigner =
    c.root.properties.signed === true ? String(c.root.properties.signer ?? '').toLowerCase() : null;
  return active.filter((s) => {
    if (s.analytic && s.analytic !== analytic) return false;
    if (s.kind === 'parentImage' && /;signer:/i.test(s.value)) {
      // "path;signer:Name": the parent image with its signer (Sysmon 7), both must hold.
      const [prefix = '', signer = ''] = s.value.toLowerCase().split(';signer:');
      return values.parentImage.some((x) => x.startsWith(prefix)) && rootSigner === signer;
    }
    const v = s.kind === 'fileHash' ? s.value.toUpperCase() : s.value.toLowerCase();
    return values[s.kind].some((x) =>
      s.kind === 'image' || s.kind === 'parentImage' ? x.startsWith(v) || x === v : x === v,
    );
  });
}

export async function activeSuppressions(db: Db, now = new Date()): Promise<Suppression[]> {
  const res = await db.read(
    `MATCH (s:${SUP}) WHERE s.expiresAt IS NULL OR s.expiresAt > datetime($now) RETURN properties(s) AS s ORDER BY s.createdAt`,
    { now: now.toISOString() },
  );
  return res.records.map((r) => plain(r.get('s')) as Suppression);
}

/** Create a suppression; alerts it matches become suppressed at their next evaluation, this alert at once. */
export async function suppress(
  db: Db,
  s: {
    kind: SuppressionKind;
    value: string;
    reason: string;
    analytic?: string | null;
    expiresAt?: string | null;
    by?: string;
    alertKey?: string;
  },
): Promise<Suppression> {
  if (!SUPPRESSION_KINDS.includes(s.kind))
    throw new LineageError('LH_ERR_INPUT', `suppression kind must be one of ${SUPPRESSION_KINDS.join(', ')}`);
  if (!s.value.trim()) throw new LineageError('LH_ERR_INPUT', 'a suppression needs a value');
  if (!s.reason.trim()) throw new LineageError('LH_ERR_INPUT', 'a suppression needs a reason');
  if (s.expiresAt && Number.isNaN(Date.parse(s.expiresAt)))
    throw new LineageError('LH_ERR_INPUT', `expiresAt ${s.expiresAt} is not a date-time`);
  const createdAt = new Date().toISOString();
  const key = createHash('sha256')
    .update(`${s.kind}\n${s.value}\n${s.analytic ?? ''}\n${createdAt}`)
    .digest('hex')
    .slice(0, 24);
  const res = await db.write(
    `CREATE (s:${SUP} {key: $key, kind: $kind, value: $value, analytic: $analytic, reason: $reason, createdBy: $by,
       createdAt: datetime($createdAt), expiresAt: CASE WHEN $expiresAt IS NULL THEN null ELSE datetime($expiresAt) END})
     WITH s
     OPTIONAL MATCH (a:${AL} {key: $alertKey})
     FOREACH (_ IN CASE WHEN a IS NULL THEN [] ELSE [1] END |
       MERGE (a)-[:${rel('SUPPRESSED_BY')}]->(s)
       SET a.suppressed = true, a.history = a.history + $entry, a.updatedAt = datetime())
     RETURN properties(s) AS s`,
    {
      key,
      kind: s.kind,
      value: s.value,
      analytic: s.analytic ?? null,
      reason: s.reason,
      by: s.by ?? 'analyst',
      createdAt,
      expiresAt: s.expiresAt ? new Date(Date.parse(s.expiresAt)).toISOString() : null,
      alertKey: s.alertKey ?? null,
      entry: JSON.stringify({
        at: createdAt,
        by: s.by ?? 'analyst',
        change: 'suppressed',
        suppression: key,
        reason: s.reason,
      }),
    },
  );
  return plain(res.records[0]!.get('s')) as Suppression;
}

/**
 * Raise (or refresh) an alert for every chain that meets the alert policy. A chain that an active
 * suppression matches is stored all the same, marked suppressed and linked to the suppressions that
 * decided it; when they expire, the next evaluation lifts the mark.
 */
export async function raiseAlerts(
  db: Db,
  analytic: { id: string; technique: string },
  chains: ChainView[],
  now = new Date(),
) {
  const out: RaiseResult[] = [];
  const active = await activeSuppressions(db, now);
  for (const c of chains.filter((x) => x.alert)) {
    const fp = fingerprint(analytic.id, c);
    const key = `${analytic.id}-${fp}`;
    const by = matchingSuppressions(c, analytic.id, active).map((x) => x.key);
    const res = await db.write(UPSERT, {
      suppressedBy: by,
      key,
      analytic: analytic.id,
      technique: analytic.technique,
      fingerprint: fp,
      raisedEntry: JSON.stringify({ at: new Date().toISOString(), by: 'hunt', change: 'raised' }),
      firstSeen: c.firstSeen,
      lastSeen: c.lastSeen,
      score: c.score,
      severity: severity(c.score),
      stepsFound: c.stepsFound,
      host: c.host,
      user: c.user,
      rootImage: c.root.name,
      lolbinImage: c.lolbin.name,
      link: c.link,
      evidence: evidenceRows(c),
    });
    const created = Boolean(res.records[0]?.get('created'));
    out.push({ key, created, suppressedBy: by });
    if (created && alertEvents.listenerCount('raised') > 0)
      alertEvents.emit('raised', await getAlert(db, key));
  }
  return out;
}

export interface AlertFilter {
  analytic?: string;
  status?: AlertStatus;
  severity?: string;
  host?: string;
  user?: string;
  from?: string;
  to?: string;
  /** Suppressed alerts are left out unless asked for. */
  includeSuppressed?: boolean;
  /** Only alerts with this node key among their evidence. */
  campaign?: string;
}

export interface AlertView {
  key: string;
  analytic: string;
  technique: string;
  status: string;
  severity: string;
  score: number;
  stepsFound: number[];
  host: string;
  user: string | null;
  rootImage: string;
  lolbinImage: string;
  link: string;
  /** True while an active suppression matches the chain. */
  suppressed: boolean;
  assignee: string | null;
  notes: string[];
  history: Array<Record<string, unknown>>;
  firstSeen: string;
  lastSeen: string;
  createdAt: string;
  updatedAt: string;
}

function view(p: Record<string, unknown>): AlertView {
  return {
    key: String(p.key),
    analytic: String(p.analytic),
    technique: String(p.technique),
    status: String(p.status),
    severity: String(p.severity),
    score: Number(p.score),
    stepsFound: (p.stepsFound as number[]) ?? [],
    host: String(p.host),
    user: (p.user as string | null) ?? null,
    rootImage: String(p.rootImage),
    lolbinImage: String(p.lolbinImage),
    link: String(p.link ?? 'direct'),
    suppressed: Boolean(p.suppressed),
    assignee: (p.assignee as string | null) ?? null,
    notes: (p.notes as string[]) ?? [],
    history: ((p.history as string[]) ?? []).map((h) => JSON.parse(h) as Record<string, unknown>),
    firstSeen: String(p.firstSeen),
    lastSeen: String(p.lastSeen),
    createdAt: String(p.createdAt),
    updatedAt: String(p.updatedAt),
  };
}

/** Alerts newest first, filtered; `after` is the cursor (the last key of the previous page). */
export async function listAlerts(db: Db, f: AlertFilter = {}, first = 50, after?: string) {
  if (f.status && !STATUSES.includes(f.status))
    throw new LineageError('LH_ERR_INPUT', `unknown status ${f.status}`);
  const res = await db.read(
    `MATCH (a:${AL})
     WHERE ($analytic IS NULL OR a.analytic = $analytic) AND ($status IS NULL OR a.status = $status)
       AND ($severity IS NULL OR a.severity = $severity) AND ($host IS NULL OR a.host = toLower($host))
       AND ($user IS NULL OR toLower(a.user) = toLower($user))
       AND ($from IS NULL OR a.lastSeen >= datetime($from)) AND ($to IS NULL OR a.firstSeen < datetime($to))
       AND ($includeSuppressed OR NOT coalesce(a.suppressed, false))
       AND ($campaign IS NULL OR EXISTS { MATCH (a)-[:${EV}]->(n) WHERE n.key = $campaign })
     WITH a ORDER BY a.lastSeen DESC, a.key
     WITH collect(a) AS rows
     WITH rows, CASE WHEN $after IS NULL THEN 0
                     ELSE reduce(i = -1, k IN range(0, size(rows) - 1) | CASE WHEN rows[k].key = $after THEN k ELSE i END) + 1 END AS start
     RETURN [a IN rows[start..start + toInteger($first)] | properties(a)] AS page, size(rows) AS total,
            start + toInteger($first) < size(rows) AS more`,
    {
      analytic: f.analytic ?? null,
      status: f.status ?? null,
      severity: f.severity ?? null,
      host: f.host ?? null,
      user: f.user ?? null,
      from: f.from ?? null,
      to: f.to ?? null,
      after: after ?? null,
      first: Math.max(1, Math.min(first, 500)),
      includeSuppressed: f.includeSuppressed ?? false,
      campaign: f.campaign ?? null,
    },
  );
  const r = res.records[0]!;
  const page = (plain(r.get('page')) as Record<string, unknown>[]).map(view);
  return { alerts: page, total: Number(r.get('total')), hasMore: Boolean(r.get('more')) };
}

export async function getAlert(db: Db, key: string) {
  const res = await db.read(
    `MATCH (a:${AL} {key: $key})
     OPTIONAL MATCH (a)-[:${rel('SUPPRESSED_BY')}]->(s:${SUP})
     WITH a, collect(properties(s)) AS suppressions
     OPTIONAL MATCH (a)-[e:${EV}]->(n)
     WITH a, suppressions, e, n ORDER BY e.step, e.time
     RETURN properties(a) AS alert, suppressions,
            collect(CASE WHEN e IS NULL THEN null ELSE {step: e.step, what: e.what, time: e.time, relation: e.relation,
                    label: labels(n)[0], key: n.key, properties: properties(n)} END) AS evidence`,
    { key },
  );
  const r = res.records[0];
  if (!r) return null;
  return {
    ...view(plain(r.get('alert')) as Record<string, unknown>),
    evidence: plain(r.get('evidence')) as unknown[],
    suppressions: plain(r.get('suppressions')) as Suppression[],
  };
}

/** Triage: status, assignee, a note; each change is appended to the alert's history. */
export async function updateAlert(
  db: Db,
  key: string,
  change: { status?: AlertStatus; assignee?: string | null; note?: string; by?: string },
) {
  if (change.status && !STATUSES.includes(change.status))
    throw new LineageError('LH_ERR_INPUT', `status must be one of ${STATUSES.join(', ')}`);
  const entry = JSON.stringify({
    at: new Date().toISOString(),
    by: change.by ?? 'analyst',
    ...(change.status ? { status: change.status } : {}),
    ...(change.assignee !== undefined ? { assignee: change.assignee } : {}),
    ...(change.note ? { note: change.note } : {}),
  });
  const res = await db.write(
    `MATCH (a:${AL} {key: $key})
     SET a.status = coalesce($status, a.status),
         a.assignee = CASE WHEN $setAssignee THEN $assignee ELSE a.assignee END,
         a.notes = CASE WHEN $note IS NULL THEN a.notes ELSE a.notes + $note END,
         a.history = a.history + $entry, a.updatedAt = datetime()
     RETURN a.key AS key`,
    {
      key,
      status: change.status ?? null,
      setAssignee: change.assignee !== undefined,
      assignee: change.assignee ?? null,
      note: change.note ?? null,
      entry,
    },
  );
  if (res.records.length === 0) throw new LineageError('LH_ERR_NOT_FOUND', `no alert ${key}`);
  return getAlert(db, key);
}

export interface BacktestResult {
  analytic: string;
  from: string;
  to: string;
  params: Record<string, unknown>;
  /** Alerts the new parameters would raise that are not stored. */
  new: Array<{ key: string; chain: ChainView }>;
  /** Stored alerts the new parameters would no longer raise. */
  lost: AlertView[];
  unchanged: string[];
}

/** Rerun an analytic over a past range with other parameters and compare with the stored alerts. */
export async function backtest(
  db: Db,
  req: { analytic: string; from: string; to: string; params?: Record<string, unknown> },
): Promise<BacktestResult> {
  const a = getAnalytic(req.analytic);
  const r = await hunt(db, { analytic: a.id, from: req.from, to: req.to, params: req.params ?? {} });
  const rerun = new Map(r.chains.filter((c) => c.alert).map((c) => [`${a.id}-${fingerprint(a.id, c)}`, c]));
  const stored = (
    await listAlerts(db, { analytic: a.id, from: req.from, to: req.to, includeSuppressed: true }, 500)
  ).alerts.filter((x) => Date.parse(x.lastSeen) >= Date.parse(req.from));
  const storedKeys = new Set(stored.map((x) => x.key));
  return {
    analytic: a.id,
    from: req.from,
    to: req.to,
    params: r.params,
    new: [...rerun].filter(([k]) => !storedKeys.has(k)).map(([key, chain]) => ({ key, chain })),
    lost: stored.filter((x) => !rerun.has(x.key)),
    unchanged: stored.filter((x) => rerun.has(x.key)).map((x) => x.key),
  };
}
