// Parameters per environment: one YAML (or JSON) file holding each analytic's mutable elements, its
// schedule and the suppressions every deployment starts with. Validated once at start; every problem
// names the file, the key and what is wrong. LH_CONFIG points at it; lineage-hunter.yaml at the project
// root is used when present; without either, DET0478's defaults apply.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { SUPPRESSION_KINDS, type SuppressionKind } from './alerts.ts';
import { loadAnalytics, resolveParams, setEnvironmentParams } from './analytics.ts';
import { ROOT } from './config.ts';
import type { Db } from './db.ts';
import { ERR, type LineageError } from './errors.ts';
import { label } from './model.ts';
import type { Webhook } from './notify.ts';
import type { JobSettings } from './scheduler.ts';

export interface ConfigSuppression {
  kind: SuppressionKind;
  value: string;
  reason: string;
  analytic: string | null;
  expiresAt: string | null;
}

export interface Environment {
  file: string | null;
  webhooks: Webhook[];
  params: Record<string, Record<string, unknown>>;
  schedules: Record<string, Partial<JobSettings> & { paused?: boolean }>;
  suppressions: ConfigSuppression[];
}

const EMPTY: Environment = { file: null, webhooks: [], params: {}, schedules: {}, suppressions: [] };

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function parseEnvironment(file: string, text: string): Environment {
  const bad = (key: string, problem: string) => ERR.config(`${file}: ${key}: ${problem}`);
  let doc: unknown;
  try {
    doc = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw ERR.config(
      `${file}: not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}`,
    );
  }
  if (doc === null || doc === undefined) return { ...EMPTY, file };
  if (!isMap(doc)) throw bad('(top level)', 'must be a mapping with analytics and suppressions');
  for (const k of Object.keys(doc))
    if (!['analytics', 'suppressions', 'notifications'].includes(k))
      throw bad(k, 'unknown key (expected analytics, suppressions, notifications)');
  const env: Environment = { file, webhooks: [], params: {}, schedules: {}, suppressions: [] };
  const notifications = doc.notifications ?? {};
  if (!isMap(notifications)) throw bad('notifications', 'must be a mapping with webhooks');
  for (const k of Object.keys(notifications))
    if (k !== 'webhooks') throw bad(`notifications.${k}`, 'unknown key');
  const hooks = notifications.webhooks ?? [];
  if (!Array.isArray(hooks)) throw bad('notifications.webhooks', 'must be a list');
  for (const [i, h] of hooks.entries()) {
    const key = `notifications.webhooks[${i}]`;
    if (!isMap(h) || typeof h.url !== 'string' || !/^https?:\/\//.test(h.url))
      throw bad(`${key}.url`, 'must be an http(s) URL');
    const format = h.format ?? 'generic';
    if (format !== 'generic' && format !== 'slack') throw bad(`${key}.format`, 'must be generic or slack');
    env.webhooks.push({ url: h.url, format });
  }
  const analytics = doc.analytics ?? {};
  if (!isMap(analytics)) throw bad('analytics', 'must be a mapping of analytic ids');
  const known = loadAnalytics();
  for (const [id, spec] of Object.entries(analytics)) {
    const a = known.find((x) => x.id === id);
    if (!a) throw bad(`analytics.${id}`, `no such analytic (known: ${known.map((x) => x.id).join(', ')})`);
    if (!isMap(spec)) throw bad(`analytics.${id}`, 'must be a mapping with params and schedule');
    for (const k of Object.keys(spec))
      if (k !== 'params' && k !== 'schedule')
        throw bad(`analytics.${id}.${k}`, 'unknown key (expected params, schedule)');
    if (spec.params !== undefined) {
      if (!isMap(spec.params)) throw bad(`analytics.${id}.params`, 'must be a mapping of parameter names');
      try {
        resolveParams(a, spec.params);
      } catch (err) {
        const e = err as LineageError;
        const name = /parameter (\S+)/.exec(e.message)?.[1] ?? '?';
        throw bad(`analytics.${id}.params.${name}`, e.message.replace(/^.*?parameter \S+ /, ''));
      }
      env.params[id] = spec.params;
    }
    if (spec.schedule !== undefined) {
      if (!isMap(spec.schedule)) throw bad(`analytics.${id}.schedule`, 'must be a mapping');
      const out: Environment['schedules'][string] = {};
      for (const [k, v] of Object.entries(spec.schedule)) {
        const key = `analytics.${id}.schedule.${k}`;
        if (k === 'intervalSeconds' || k === 'latenessSeconds') {
          if (typeof v !== 'number' || !Number.isInteger(v) || v < (k === 'intervalSeconds' ? 10 : 0))
            throw bad(
              key,
              `must be an integer of at least ${k === 'intervalSeconds' ? 10 : 0}, got ${JSON.stringify(v)}`,
            );
          out[k] = v;
        } else if (k === 'paused') {
          if (typeof v !== 'boolean') throw bad(key, `must be true or false, got ${JSON.stringify(v)}`);
          out.paused = v;
        } else throw bad(key, 'unknown key (expected intervalSeconds, latenessSeconds, paused)');
      }
      env.schedules[id] = out;
    }
  }
  const sups = doc.suppressions ?? [];
  if (!Array.isArray(sups)) throw bad('suppressions', 'must be a list');
  for (const [i, s] of sups.entries()) {
    const key = `suppressions[${i}]`;
    if (!isMap(s)) throw bad(key, 'must be a mapping with kind, value, reason');
    for (const k of Object.keys(s))
      if (!['kind', 'value', 'reason', 'analytic', 'expiresAt'].includes(k))
        throw bad(`${key}.${k}`, 'unknown key');
    if (!SUPPRESSION_KINDS.includes(s.kind as SuppressionKind))
      throw bad(
        `${key}.kind`,
        `must be one of ${SUPPRESSION_KINDS.join(', ')}, got ${JSON.stringify(s.kind)}`,
      );
    if (typeof s.value !== 'string' || !s.value.trim())
      throw bad(`${key}.value`, 'must be a non-empty string');
    if (typeof s.reason !== 'string' || !s.reason.trim()) throw bad(`${key}.reason`, 'must say why');
    if (s.analytic !== undefined && !known.some((a) => a.id === s.analytic))
      throw bad(`${key}.analytic`, `no such analytic ${JSON.stringify(s.analytic)}`);
    const exp = s.expiresAt instanceof Date ? s.expiresAt.toISOString() : s.expiresAt;
    if (exp !== undefined && (typeof exp !== 'string' || Number.isNaN(Date.parse(exp))))
      throw bad(`${key}.expiresAt`, `must be an ISO 8601 date-time, got ${JSON.stringify(exp)}`);
    env.suppressions.push({
      kind: s.kind as SuppressionKind,
      value: s.value,
      reason: s.reason,
      analytic: (s.analytic as string | undefined) ?? null,
      expiresAt: exp ? new Date(Date.parse(exp)).toISOString() : null,
    });
  }
  return env;
}

/** Read, validate and apply the environment: analytics take its parameters as their defaults. */
export function loadEnvironment(path = process.env.LH_CONFIG): Environment {
  const file =
    path ?? [join(ROOT, 'lineage-hunter.yaml'), join(ROOT, 'lineage-hunter.json')].find((f) => existsSync(f));
  let env: Environment = { ...EMPTY, webhooks: [] };
  if (file) {
    if (!existsSync(file)) throw ERR.config(`${file}: no such file (LH_CONFIG)`);
    env = parseEnvironment(file, readFileSync(file, 'utf8'));
  }
  // LH_WEBHOOKS=slack:https://hooks.example/…,generic:https://siem.example/… adds webhooks without a file.
  for (const item of (process.env.LH_WEBHOOKS ?? '').split(',').filter(Boolean)) {
    const m = /^(generic|slack):(https?:\/\/.+)$/.exec(item.trim());
    if (!m) throw ERR.config(`LH_WEBHOOKS: ${item}: expected generic:URL or slack:URL`);
    env.webhooks.push({ format: m[1] as Webhook['format'], url: m[2]! });
  }
  setEnvironmentParams(env.params);
  return env;
}

/** The environment's suppressions, kept in the graph under stable keys (idempotent at every start). */
export async function syncConfigSuppressions(db: Db, env: Environment): Promise<number> {
  const rows = env.suppressions.map((s) => ({
    ...s,
    key: `config-${createHash('sha256')
      .update(`${s.kind}\n${s.value}\n${s.analytic ?? ''}`)
      .digest('hex')
      .slice(0, 20)}`,
  }));
  if (rows.length === 0) return 0;
  await db.write(
    `UNWIND $rows AS r
     MERGE (s:${label('Suppression')} {key: r.key})
     SET s.kind = r.kind, s.value = r.value, s.reason = r.reason, s.analytic = r.analytic,
         s.expiresAt = CASE WHEN r.expiresAt IS NULL THEN null ELSE datetime(r.expiresAt) END,
         s.createdBy = 'config:' + $file, s.createdAt = coalesce(s.createdAt, datetime())`,
    { rows, file: env.file ?? '' },
  );
  return rows.length;
}
