// The API as a Fastify plugin that never listens (tests use app.inject(); src/cli.ts listens).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { GraphQLScalarType, Kind, type ValueNode } from 'graphql';
import mercurius from 'mercurius';
import { ingest } from '../ingest/pipeline.ts';
import {
  type AlertFilter,
  type AlertStatus,
  activeSuppressions,
  alertEvents,
  backtest,
  getAlert,
  listAlerts,
  type SuppressionKind,
  suppress,
  updateAlert,
} from './alerts.ts';
import {
  type Analytic,
  browserParams,
  getAnalytic,
  hunt,
  loadAnalytics,
  resolveParams,
} from './analytics.ts';
import type { Db } from './db.ts';
import { LineageError } from './errors.ts';
import { campaigns, type Lookup, lineage, lookup, neighbourhood } from './explore.ts';
import { liveEvaluator } from './live.ts';
import type { Scheduler } from './scheduler.ts';

const SCHEMA = readFileSync(new URL('../schema/api.graphql', import.meta.url), 'utf8');

function literal(ast: ValueNode): unknown {
  switch (ast.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
      return ast.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(ast.value);
    case Kind.LIST:
      return ast.values.map(literal);
    case Kind.OBJECT:
      return Object.fromEntries(ast.fields.map((f) => [f.name.value, literal(f.value)]));
    default:
      return null;
  }
}

const JSONScalar = new GraphQLScalarType({
  name: 'JSON',
  serialize: (v) => v,
  parseValue: (v) => v,
  parseLiteral: literal,
});

const toIso = (v: unknown): string => {
  if (typeof v !== 'string' || Number.isNaN(Date.parse(v)))
    throw new TypeError(`not an ISO 8601 date-time: ${String(v)}`);
  return new Date(Date.parse(v)).toISOString();
};

const DateTimeScalar = new GraphQLScalarType({
  name: 'DateTime',
  serialize: (v) => (v === null || v === undefined ? null : toIso(v)),
  parseValue: toIso,
  parseLiteral: (ast) => (ast.kind === Kind.STRING ? toIso(ast.value) : null),
});

/** Coded errors reach the client with their code in extensions. */
function graphqlError(err: unknown): Error {
  if (err instanceof LineageError) return new mercurius.ErrorWithProps(err.message, { code: err.code });
  return err as Error;
}

const analyticView = (a: Analytic) => ({
  ...a,
  parameters: (() => {
    const values = resolveParams(a);
    return a.params.map((p) => ({ ...p, value: values[p.name] }));
  })(),
  browserParams: browserParams(a),
});

export interface AppOptions {
  db: Db;
  /** Job queries and mutations need the scheduler; without one they answer with LH_ERR_NO_SCHEDULER. */
  scheduler?: Scheduler;
  /** A pino logger for request logs (src/log.ts writes JSON to stderr); none by default. */
  logger?: FastifyBaseLogger;
}

export async function buildApp({ db, logger, scheduler }: AppOptions): Promise<FastifyInstance> {
  const coded =
    <A, R>(fn: (args: A) => Promise<R>) =>
    async (_: unknown, args: A): Promise<R> => {
      try {
        return await fn(args);
      } catch (err) {
        throw graphqlError(err);
      }
    };
  const jobs = (): Scheduler => {
    if (!scheduler) throw new LineageError('LH_ERR_NO_SCHEDULER', 'this API runs without the scheduler');
    return scheduler;
  };
  const app = (logger ? Fastify({ loggerInstance: logger }) : Fastify()) as unknown as FastifyInstance;
  await app.register(mercurius, {
    schema: SCHEMA,
    graphiql: true,
    subscription: true,
    resolvers: {
      JSON: JSONScalar,
      DateTime: DateTimeScalar,
      Query: {
        analytics: () => loadAnalytics().map(analyticView),
        analytic: (_: unknown, { id }: { id: string }) => {
          const a = loadAnalytics().find((x) => x.id.toLowerCase() === id.toLowerCase());
          return a ? analyticView(a) : null;
        },
        hunt: coded(
          async (args: {
            analytic: string;
            from?: string;
            to?: string;
            params?: Record<string, unknown>;
            alertsOnly?: boolean;
          }) => {
            if (args.params !== undefined && (typeof args.params !== 'object' || Array.isArray(args.params)))
              throw new LineageError(
                'LH_ERR_BAD_PARAMETER',
                'params must be a JSON object of parameter names to values',
              );
            const r = await hunt(db, {
              analytic: args.analytic,
              ...(args.from ? { from: args.from } : {}),
              ...(args.to ? { to: args.to } : {}),
              ...(args.params ? { params: args.params } : {}),
            });
            return {
              analytic: analyticView(r.analytic),
              parameters: r.params,
              millis: r.millis,
              alertCount: r.chains.filter((c) => c.alert).length,
              chains: args.alertsOnly ? r.chains.filter((c) => c.alert) : r.chains,
            };
          },
        ),
        alerts: coded(async (a: { filter?: AlertFilter; first?: number; after?: string }) => {
          const page = await listAlerts(db, a.filter ?? {}, a.first ?? 50, a.after);
          return { ...page, endCursor: page.alerts.at(-1)?.key ?? null };
        }),
        alert: coded(async (a: { key: string }) => getAlert(db, a.key)),
        jobs: coded(async () => jobs().jobs()),
        suppressions: coded(async (a: { includeExpired?: boolean }) =>
          a.includeExpired ? activeSuppressions(db, new Date(0)) : activeSuppressions(db),
        ),
        backtest: coded(
          async (a: { analytic: string; from: string; to: string; params?: Record<string, unknown> }) => {
            const r = await backtest(db, a);
            return { ...r, parameters: r.params };
          },
        ),
        jobHistory: coded(async (a: { id: string; last?: number }) => jobs().history(a.id, a.last ?? 20)),
        lineage: coded(async (a: { processKey: string; up?: number; down?: number }) =>
          lineage(db, a.processKey, a.up ?? 4, a.down ?? 4),
        ),
        entity: coded(async (a: { label: string; key: string; limit?: number }) =>
          neighbourhood(db, a.label, a.key, a.limit ?? 100),
        ),
        lookup: coded(async (a: { kind: Lookup; value: string }) => lookup(db, a.kind, a.value)),
        campaigns: coded(async () => campaigns(db)),
        health: async () => {
          let ok = true;
          try {
            await db.read('RETURN 1');
          } catch {
            ok = false;
          }
          return { neo4j: ok, uri: db.uri, analytics: loadAnalytics().length };
        },
      },
      Subscription: {
        alertRaised: {
          subscribe: async (
            _: unknown,
            __: unknown,
            ctx: { pubsub: { subscribe(topic: string): Promise<unknown> } },
          ) => ctx.pubsub.subscribe('ALERT_RAISED'),
        },
      },
      Mutation: {
        updateAlert: coded(
          async (a: {
            key: string;
            status?: AlertStatus;
            assignee?: string | null;
            note?: string;
            by?: string;
          }) => {
            const r = await updateAlert(db, a.key, {
              ...(a.status ? { status: a.status } : {}),
              ...(a.assignee !== undefined ? { assignee: a.assignee } : {}),
              ...(a.note ? { note: a.note } : {}),
              ...(a.by ? { by: a.by } : {}),
            });
            return r;
          },
        ),
        pauseJob: coded(async (a: { id: string }) => jobs().setPaused(a.id, true)),
        resumeJob: coded(async (a: { id: string }) => jobs().setPaused(a.id, false)),
        runJob: coded(async (a: { id: string }) => jobs().runNow(a.id)),
        suppress: coded(
          async (a: {
            kind: SuppressionKind;
            value: string;
            reason: string;
            analytic?: string;
            expiresAt?: string;
            alertKey?: string;
            by?: string;
          }) => suppress(db, a),
        ),
      },
    },
  });
  const publish = (alert: unknown) => {
    void app.graphql.pubsub.publish({ topic: 'ALERT_RAISED', payload: { alertRaised: alert } });
  };
  alertEvents.on('raised', publish);
  app.addHook('onClose', async () => {
    alertEvents.off('raised', publish);
  });
  // Live ingest: POST telemetry (NDJSON, JSON or XML text) and get back what was loaded and the alerts it
  // completed, each with its ingest-to-alert latency.
  for (const type of ['application/x-ndjson', 'application/xml', 'text/xml'])
    app.addContentTypeParser(type, { parseAs: 'string', bodyLimit: 256 * 1024 * 1024 }, (_req, body, done) =>
      done(null, body),
    );
  app.post('/ingest', async (req, reply) => {
    const body = typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
    const dir = mkdtempSync(join(tmpdir(), 'lh-ingest-'));
    const ext = /xml/.test(String(req.headers['content-type'])) ? 'xml' : 'jsonl';
    const file = join(dir, `request.${ext}`);
    writeFileSync(file, body);
    try {
      const alerts: unknown[] = [];
      const summary = await ingest(db, [file], { onBatch: liveEvaluator(db, (a) => alerts.push(a)) });
      return { read: summary.read, loaded: summary.loaded, rejected: summary.rejected, alerts };
    } catch (err) {
      reply.code(err instanceof LineageError ? 400 : 500);
      return { error: (err as Error).message, code: (err as { code?: string }).code };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  app.get('/', async (_req, reply) => reply.redirect('/graphiql'));
  return app;
}
