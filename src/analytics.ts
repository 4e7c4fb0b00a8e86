// Analytics are .cypher files in cypher/, each with a YAML header (between "// ---" lines) naming the
// analytic, its alert policy and its parameters. Adding an analytic is adding one file.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ROOT } from './config.ts';
import { type Db, plain } from './db.ts';
import { ERR } from './errors.ts';

export type ParamType = 'Int' | 'Float' | 'String' | 'Boolean' | 'DateTime' | '[String]';
const TYPES = new Set<ParamType>(['Int', 'Float', 'String', 'Boolean', 'DateTime', '[String]']);

export interface ParamSpec {
  name: string;
  type: ParamType;
  default: unknown;
  description: string;
}

export interface Analytic {
  id: string;
  name: string;
  strategy: string;
  technique: string;
  surface: string;
  description: string;
  alertPolicy: string;
  params: ParamSpec[];
  file: string;
  cypher: string;
}

export const CYPHER_DIR = join(ROOT, 'cypher');

function header(text: string, file: string): Record<string, unknown> {
  const lines = text.split(/\r?\n/);
  if (lines[0]?.trim() !== '// ---') throw ERR.analyticFile(file, 'must start with a "// ---" header line');
  const end = lines.findIndex((l, i) => i > 0 && l.trim() === '// ---');
  if (end < 0) throw ERR.analyticFile(file, 'header has no closing "// ---" line');
  const yaml = lines
    .slice(1, end)
    .map((l) => l.replace(/^\/\/ ?/, ''))
    .join('\n');
  const doc = parseYaml(yaml) as unknown;
  if (typeof doc !== 'object' || doc === null) throw ERR.analyticFile(file, 'header is not a YAML mapping');
  return doc as Record<string, unknown>;
}

export function parseAnalytic(file: string, text: string): Analytic {
  const h = header(text, file);
  const need = (k: string): string => {
    const v = h[k];
    if (typeof v !== 'string' || v.trim() === '')
      throw ERR.analyticFile(file, `header needs a string "${k}"`);
    return v.trim();
  };
  const rawParams = h.params;
  if (typeof rawParams !== 'object' || rawParams === null)
    throw ERR.analyticFile(file, 'header needs "params"');
  const params: ParamSpec[] = Object.entries(rawParams as Record<string, Record<string, unknown>>).map(
    ([name, spec]) => {
      const type = spec?.type as ParamType;
      if (!TYPES.has(type))
        throw ERR.analyticFile(file, `parameter ${name} has unknown type ${String(type)}`);
      if (typeof spec.description !== 'string')
        throw ERR.analyticFile(file, `parameter ${name} needs a description`);
      return { name, type, default: spec.default, description: spec.description.trim() };
    },
  );
  const known = new Set([
    'id',
    'name',
    'strategy',
    'technique',
    'surface',
    'description',
    'alertPolicy',
    'params',
  ]);
  for (const k of Object.keys(h))
    if (!known.has(k)) throw ERR.analyticFile(file, `unknown header key "${k}"`);
  const analytic: Analytic = {
    id: need('id'),
    name: need('name'),
    strategy: need('strategy'),
    technique: need('technique'),
    surface: need('surface'),
    description: need('description'),
    alertPolicy: need('alertPolicy'),
    params,
    file,
    cypher: text,
  };
  for (const p of params) validateValue(analytic, p, p.default);
  return analytic;
}

let cache: Analytic[] | undefined;

export function loadAnalytics(dir = CYPHER_DIR): Analytic[] {
  if (cache && dir === CYPHER_DIR) return cache;
  const list = readdirSync(dir)
    .filter((f) => f.endsWith('.cypher'))
    .sort()
    .map((f) => parseAnalytic(join(dir, f), readFileSync(join(dir, f), 'utf8')));
  const ids = new Set<string>();
  for (const a of list) {
    if (ids.has(a.id)) throw ERR.analyticFile(a.file, `duplicate analytic id ${a.id}`);
    ids.add(a.id);
  }
  if (dir === CYPHER_DIR) cache = list;
  return list;
}

export function getAnalytic(id: string): Analytic {
  const a = loadAnalytics().find((x) => x.id.toLowerCase() === id.toLowerCase());
  if (!a) throw ERR.unknownAnalytic(id);
  return a;
}

function validateValue(a: Analytic, p: ParamSpec, v: unknown): unknown {
  const bad = (problem: string) => ERR.badParameter(a.id, p.name, problem);
  switch (p.type) {
    case 'Int':
      if (typeof v !== 'number' || !Number.isInteger(v))
        throw bad(`must be an integer, got ${JSON.stringify(v)}`);
      return v;
    case 'Float':
      if (typeof v !== 'number' || !Number.isFinite(v))
        throw bad(`must be a number, got ${JSON.stringify(v)}`);
      return v;
    case 'Boolean':
      if (typeof v !== 'boolean') throw bad(`must be true or false, got ${JSON.stringify(v)}`);
      return v;
    case 'String':
      if (typeof v !== 'string') throw bad(`must be a string, got ${JSON.stringify(v)}`);
      return v;
    case 'DateTime': {
      if (typeof v !== 'string' || Number.isNaN(Date.parse(v)))
        throw bad(`must be an ISO 8601 date-time, got ${JSON.stringify(v)}`);
      return new Date(Date.parse(v)).toISOString();
    }
    case '[String]':
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
        throw bad(`must be a list of strings, got ${JSON.stringify(v)}`);
      return v;
  }
}

let environment: Record<string, Record<string, unknown>> = {};

/** This deployment's parameter values (src/settings.ts): they take the place of the analytics' defaults. */
export function setEnvironmentParams(params: Record<string, Record<string, unknown>>): void {
  environment = params;
}

export function environmentParams(id: string): Record<string, unknown> {
  return environment[id] ?? {};
}

/**
 * Defaults, then this environment's values, then the request's overrides, each checked against its
 * declared type; unknown names are refused.
 */
export function resolveParams(a: Analytic, requested: Record<string, unknown> = {}): Record<string, unknown> {
  const overrides = { ...environmentParams(a.id), ...requested };
  const out: Record<string, unknown> = {};
  for (const p of a.params)
    out[p.name] = validateValue(a, p, p.name in overrides ? overrides[p.name] : p.default);
  for (const k of Object.keys(overrides))
    if (!a.params.some((p) => p.name === k))
      throw ERR.badParameter(a.id, k, 'is not a parameter of this analytic');
  if (a.params.some((p) => p.name === 'maxDepth')) {
    const d = out.maxDepth as number;
    if (d < 1 || d > 6) throw ERR.badParameter(a.id, 'maxDepth', 'must be between 1 and 6');
  }
  if (typeof out.from === 'string' && typeof out.to === 'string' && out.from >= out.to)
    throw ERR.badParameter(a.id, 'to', 'must be later than from');
  return out;
}

/** A Cypher literal: maps with bare keys, JSON-escaped strings (JSON's escapes are Cypher's too). */
function cypherLiteral(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(cypherLiteral).join(', ')}]`;
  if (v !== null && typeof v === 'object')
    return `{${Object.entries(v)
      .map(
        ([k, x]) =>
          `${/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? k : `\`${k.replaceAll('`', '``')}\``}: ${cypherLiteral(x)}`,
      )
      .join(', ')}}`;
  return JSON.stringify(v);
}

/** A Neo4j Browser ":params" line with every parameter, for pasting the analytic by hand. */
export function browserParams(a: Analytic, overrides: Record<string, unknown> = {}): string {
  return `:params ${cypherLiteral(resolveParams(a, overrides))}`;
}

export interface EntityView {
  label: string;
  key: string;
  name: string;
  properties: Record<string, unknown>;
}

export interface EvidenceView {
  what: string;
  time: string | null;
  relation: string | null;
  relationProperties: Record<string, unknown>;
  process: EntityView | null;
  target: EntityView | null;
  allowedBy: string[];
  /** For egress: the processes from the LOLBIN down to the one that egressed. */
  via: EntityView[];
}

export interface StepView {
  step: number;
  name: string;
  found: boolean;
  evidence: EvidenceView[];
}

export interface ChainView {
  analytic: string;
  host: string;
  user: string | null;
  root: EntityView;
  lolbin: EntityView;
  /** The root app down to the LOLBIN (for a broker link: the app, then the LOLBIN). */
  lineage: EntityView[];
  /** direct: process lineage; broker: the recorded parent is a COM/WMI broker, linked by user, host and time. */
  link: string;
  /** The LOLBIN's parent as the sensor recorded it. */
  recordedParent: EntityView | null;
  /** Trusted-updater entries that keep this chain from alerting. */
  suppressedBy: string[];
  stepsFound: number[];
  alert: boolean;
  score: number;
  linkStrength: number;
  rarity: number;
  firstSeen: string;
  lastSeen: string;
  steps: StepView[];
  suppressedEgress: EvidenceView[];
}

export const STEP_NAMES = [
  'open or click in a user-facing app',
  'downloaded or unpacked file in a user path',
  'user app lineage starts a LOLBIN or installer',
  'egress from that lineage',
];

interface RawNode {
  labels: string[];
  properties: Record<string, unknown>;
}
interface RawRel {
  type: string;
  properties: Record<string, unknown>;
}

/** A node (as plain() gives it) as the API shows entities: label, key, a readable name, properties. */
export function entityView(n: unknown): EntityView | null {
  if (!n || typeof n !== 'object' || !('labels' in n)) return null;
  const node = n as RawNode;
  const p = node.properties;
  const name = (p.imageName ?? p.name ?? p.domain ?? p.ip ?? p.path ?? p.value ?? p.key) as
    | string
    | undefined;
  return {
    label: node.labels[0] ?? 'Node',
    key: String(p.key ?? ''),
    name: String(name ?? ''),
    properties: p,
  };
}

function evidence(x: Record<string, unknown>): EvidenceView {
  const r = x.relation as RawRel | null;
  return {
    what: String(x.what ?? ''),
    time: (x.time as string | null) ?? null,
    relation: r?.type ?? null,
    relationProperties: r?.properties ?? {},
    process: entityView(x.process),
    target: entityView(x.target),
    allowedBy: Array.isArray(x.allowedBy) ? (x.allowedBy as string[]) : [],
    via: Array.isArray(x.via) ? x.via.map(entityView).filter((v): v is EntityView => v !== null) : [],
  };
}

/** Shape a raw chain map (as the .cypher files return it) for the API and the console. */
export function chainView(raw: Record<string, unknown>): ChainView {
  const list = (k: string) =>
    (Array.isArray(raw[k]) ? (raw[k] as Record<string, unknown>[]) : [])
      .map(evidence)
      .sort(
        (a, b) =>
          (a.time ?? '').localeCompare(b.time ?? '') || (a.relation ?? '').localeCompare(b.relation ?? ''),
      );
  const steps = [1, 2, 3, 4].map((step) => {
    const ev = list(`step${step}`);
    return { step, name: STEP_NAMES[step - 1]!, found: ev.length > 0, evidence: ev };
  });
  const nodes = (Array.isArray(raw.lineage) ? raw.lineage : [])
    .map(entityView)
    .filter((n): n is EntityView => n !== null);
  return {
    analytic: String(raw.analytic),
    host: String(raw.host ?? ''),
    user: (raw.user as string | null) ?? null,
    root: entityView(raw.root)!,
    lolbin: entityView(raw.lolbin)!,
    lineage: nodes,
    link: String(raw.link ?? 'direct'),
    recordedParent: entityView(raw.recordedParent),
    suppressedBy: Array.isArray(raw.suppressedBy) ? (raw.suppressedBy as string[]) : [],
    stepsFound: (raw.stepsFound as number[]) ?? [],
    alert: Boolean(raw.alert),
    score: Number(raw.score ?? 0),
    linkStrength: Number(raw.linkStrength ?? 1),
    rarity: Number(raw.rarity ?? 1),
    firstSeen: String(raw.firstSeen ?? ''),
    lastSeen: String(raw.lastSeen ?? ''),
    steps,
    suppressedEgress: list('suppressedEgress'),
  };
}

export interface HuntRequest {
  analytic: string;
  from?: string;
  to?: string;
  params?: Record<string, unknown>;
}

export interface HuntResult {
  analytic: Analytic;
  params: Record<string, unknown>;
  chains: ChainView[];
  millis: number;
}

/** Run one analytic read-only with its parameters resolved and validated. */
export async function hunt(db: Db, req: HuntRequest): Promise<HuntResult> {
  const a = getAnalytic(req.analytic);
  const overrides: Record<string, unknown> = { ...(req.params ?? {}) };
  if (req.from !== undefined) overrides.from = req.from;
  if (req.to !== undefined) overrides.to = req.to;
  const params = resolveParams(a, overrides);
  const started = Date.now();
  const res = await db.read(a.cypher, params);
  const chains = res.records.map((r) => chainView(plain(r.get('chain')) as Record<string, unknown>));
  return { analytic: a, params, chains, millis: Date.now() - started };
}

export async function huntAll(db: Db, from?: string, to?: string): Promise<HuntResult[]> {
  const out: HuntResult[] = [];
  for (const a of loadAnalytics()) {
    const req: HuntRequest = { analytic: a.id };
    if (from) req.from = from;
    if (to) req.to = to;
    out.push(await hunt(db, req));
  }
  return out;
}
