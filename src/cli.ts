// lineage-hunter command line: migrate, ingest, hunt, analytics, params, serve, demo.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type IngestSummary, ingest } from '../ingest/pipeline.ts';
import { type AlertStatus, getAlert, listAlerts, raiseAlerts, STATUSES, updateAlert } from './alerts.ts';
import { browserParams, getAnalytic, hunt, huntAll, loadAnalytics } from './analytics.ts';
import { buildApp } from './app.ts';
import { loadConfig, ROOT } from './config.ts';
import { connect, type Db } from './db.ts';
import { LineageError } from './errors.ts';
import { liveEvaluator } from './live.ts';
import { log } from './log.ts';
import { migrate } from './migrate.ts';
import { modelMarkdown } from './model.ts';
import { startNotifier, toEcs, toOcsf } from './notify.ts';
import { renderChain, renderHunt } from './render.ts';
import { Scheduler } from './scheduler.ts';
import { type Environment, loadEnvironment, syncConfigSuppressions } from './settings.ts';

const HELP = `usage: npm run cli -- <command> [options]

commands:
  migrate                      apply the graph model's constraints and indexes (idempotent)
  ingest <input...>            load telemetry: files, folders, globs, .zip, .gz, - for stdin
      --rejects <file>         where rejected records go (default rejects/ingest-<time>.jsonl)
      --batch <n>              events per transaction (default 2000)
      --volume <dev=drive>     map \\Device\\HarddiskVolumeN to a drive, e.g. harddiskvolume2=C: (repeatable)
  hunt                         run analytics and print their chains as trees
      --analytic <id>          only this analytic (default: all)
      --from <iso> --to <iso>  hunt range (default: all time)
      --param <name=json>      override a parameter, e.g. --param timeWindowMinutes=5 (repeatable)
      --alerts                 only chains that meet the alert policy
      --table                  one line per chain instead of trees
      --json                   print JSON instead of trees
  analytics                    list analytics and their parameters
  params <id>                  print a Neo4j Browser :params line for an analytic
  model                        print the graph model (labels, keys, relationships) as Markdown
  alerts                       list stored alerts (--status, --analytic, --json)
  alerts show <key>            one alert: its evidence by step, and its chain drawn as a tree
  alerts triage <key>          --status new|in_progress|false_positive|closed --assignee <who> --note <text>
  alerts export [ocsf|ecs]     every alert as NDJSON (OCSF Detection Finding, or ECS) for a SIEM
  jobs                         list scheduled hunt jobs with their watermark and last run
  jobs pause|resume|run|history <id>
  serve                        serve the GraphQL API (GraphiQL at /graphiql) and run the scheduled hunts
                               (LH_SCHEDULER=off: API only)
  demo                         migrate, load the bundled sample, hunt, store and print the alerts, serve

Neo4j: NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD, NEO4J_DATABASE (defaults: the local server, .env).
Parameters, schedules and suppressions per environment: LH_CONFIG=file.yaml (or lineage-hunter.yaml).`;

export const SAMPLE = join(ROOT, 'test', 'fixtures', 'otrf', 'empire_launcher_vbs.zip');

function printSummary(s: IngestSummary): void {
  const out = process.stdout;
  out.write(
    `ingested ${s.files} file(s): read ${s.read} records, loaded ${s.loaded} events, ` +
      `skipped ${Object.values(s.skipped).reduce((a, b) => a + b, 0)} (event kinds no analytic uses), ` +
      `rejected ${s.rejectedTotal} in ${s.seconds.toFixed(1)} s; ` +
      `${s.nodesCreated} nodes and ${s.relationshipsCreated} relationships created\n`,
  );
  for (const [fmt, n] of Object.entries(s.byFormat)) out.write(`  format ${fmt}: ${n} records\n`);
  for (const [reason, n] of Object.entries(s.rejected)) out.write(`  rejected ${n}: ${reason}\n`);
  if (s.rejectsPath) out.write(`  rejected records with file and line: ${s.rejectsPath}\n`);
  for (const f of s.filesSkipped) out.write(`  not read: ${f.file}: ${f.reason}\n`);
  for (const f of s.filesFailed) out.write(`  failed: ${f.file}: ${f.reason}\n`);
}

async function runIngest(
  db: Db,
  inputs: string[],
  opts: { rejects?: string; batch?: string; volume?: string[] },
) {
  const volumeMap: Record<string, string> = {};
  for (const v of opts.volume ?? []) {
    const m = /^\\?(?:device\\)?(harddiskvolume\d+)=([a-z]:)$/i.exec(v);
    if (!m) throw new LineageError('LH_ERR_INPUT', `--volume ${v}: expected harddiskvolumeN=X:`);
    volumeMap[m[1]!.toLowerCase()] = m[2]!.toUpperCase();
  }
  const batch = opts.batch ? Number(opts.batch) : undefined;
  if (batch !== undefined && (!Number.isInteger(batch) || batch < 1))
    throw new LineageError('LH_ERR_INPUT', `--batch ${opts.batch}: expected a positive integer`);
  const rejectsPath =
    opts.rejects ?? join('rejects', `ingest-${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`);
  const tty = process.stderr.isTTY;
  const latencies: number[] = [];
  const live =
    process.env.LH_LIVE === 'off'
      ? undefined
      : liveEvaluator(db, (a) => {
          latencies.push(a.latencyMs);
          process.stderr.write(
            `${tty ? '\r\x1b[K' : ''}alert ${a.key} raised ${a.latencyMs} ms after its last event was committed\n`,
          );
        });
  const summary = await ingest(db, inputs, {
    ...(live ? { onBatch: live } : {}),
    rejectsPath,
    volumeMap,
    ...(batch ? { batchSize: batch } : {}),
    onProgress: (p) => {
      const line = `[${p.filesDone}/${p.filesTotal}] ${p.file}: ${p.read} records read, ${p.loaded} events loaded`;
      process.stderr.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
    },
  });
  if (tty) process.stderr.write('\n');
  printSummary(summary);
  if (live) {
    const sorted = [...latencies].sort((x, y) => x - y);
    process.stdout.write(
      sorted.length
        ? `live evaluation: ${sorted.length} alert(s) raised during ingest; ingest-to-alert ${sorted[0]} ms min, ` +
            `${sorted[Math.floor(sorted.length / 2)]} ms median, ${sorted.at(-1)} ms max\n`
        : 'live evaluation: no new alert\n',
    );
  }
  return summary;
}

function parseParams(list: string[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of list ?? []) {
    const i = p.indexOf('=');
    if (i < 1) throw new LineageError('LH_ERR_BAD_PARAMETER', `--param ${p}: expected name=value`);
    const raw = p.slice(i + 1);
    let v: unknown;
    try {
      v = JSON.parse(raw);
    } catch {
      v = raw;
    }
    out[p.slice(0, i)] = v;
  }
  return out;
}

async function serve(db: Db, host: string, port: number, env: Environment): Promise<void> {
  const scheduler =
    process.env.LH_SCHEDULER === 'off' ? undefined : new Scheduler(db, { settings: env.schedules });
  const app = await buildApp({ db, logger: log, ...(scheduler ? { scheduler } : {}) });
  const stopNotifier = startNotifier(env.webhooks);
  scheduler?.start();
  await app.listen({ host, port });
  const neo4jHttp = `http://127.0.0.1:${process.env.NEO4J_HTTP_PORT ?? 7474}/browser/`;
  process.stdout.write(
    `\nGraphQL API:   http://${host}:${port}/graphql\nGraphiQL:      http://${host}:${port}/graphiql\n` +
      `Neo4j Browser: ${db.uri.includes('127.0.0.1') || db.uri.includes('localhost') ? neo4jHttp : '(your Neo4j server)'}` +
      `  (connect to ${db.uri})\n` +
      `Scheduled hunts: ${scheduler ? 'on' : 'off'}; webhooks: ${env.webhooks.length}\nPress Ctrl-C to stop.\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = () => {
      stopNotifier();
      void (scheduler?.stop() ?? Promise.resolve()).then(() => app.close()).then(() => resolve());
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

async function alertsCommand(
  db: Db,
  args: string[],
  v: { status?: string; assignee?: string; note?: string; analytic?: string; json?: boolean },
): Promise<number> {
  const [sub, key] = args;
  const out = process.stdout;
  if (!sub) {
    if (v.status && !STATUSES.includes(v.status as AlertStatus))
      throw new LineageError('LH_ERR_INPUT', `--status must be one of ${STATUSES.join(', ')}`);
    const page = await listAlerts(
      db,
      {
        ...(v.status ? { status: v.status as AlertStatus } : {}),
        ...(v.analytic ? { analytic: v.analytic } : {}),
      },
      500,
    );
    if (v.json) out.write(`${JSON.stringify(page, null, 2)}\n`);
    else {
      out.write(`${page.total} alert(s)\n`);
      for (const a of page.alerts)
        out.write(
          `${a.key}  ${a.severity.padEnd(8)} ${String(a.score).padStart(3)}  ${a.status.padEnd(14)} ${a.host}  ${a.user ?? '?'}  ` +
            `${a.rootImage} > ${a.lolbinImage}  steps ${a.stepsFound.join(',')}  last ${a.lastSeen}\n`,
        );
    }
    return 0;
  }
  if (sub === 'export') {
    // NDJSON for a SIEM: every alert (suppressed ones included, marked), in OCSF or ECS.
    const fmt = key ?? 'ocsf';
    if (fmt !== 'ocsf' && fmt !== 'ecs') throw new LineageError('LH_ERR_INPUT', 'alerts export ocsf|ecs');
    let after: string | undefined;
    for (;;) {
      const page = await listAlerts(
        db,
        { includeSuppressed: true, ...(v.analytic ? { analytic: v.analytic } : {}) },
        500,
        after,
      );
      for (const a of page.alerts) out.write(`${JSON.stringify(fmt === 'ocsf' ? toOcsf(a) : toEcs(a))}\n`);
      if (!page.hasMore) break;
      after = page.alerts.at(-1)?.key;
    }
    return 0;
  }
  if (!key) throw new LineageError('LH_ERR_INPUT', `alerts ${sub} needs an alert key`);
  if (sub === 'triage') {
    const a = await updateAlert(db, key, {
      ...(v.status ? { status: v.status as AlertStatus } : {}),
      ...(v.assignee !== undefined ? { assignee: v.assignee } : {}),
      ...(v.note ? { note: v.note } : {}),
      by: process.env.USER ?? 'cli',
    });
    out.write(`${a?.key}: ${a?.status}, assignee ${a?.assignee ?? '-'}, ${a?.notes.length} note(s)\n`);
    return 0;
  }
  if (sub !== 'show') throw new LineageError('LH_ERR_INPUT', `unknown alerts command ${sub}`);
  const a = await getAlert(db, key);
  if (!a) throw new LineageError('LH_ERR_NOT_FOUND', `no alert ${key}`);
  if (v.json) {
    out.write(`${JSON.stringify(a, null, 2)}\n`);
    return 0;
  }
  out.write(
    `${a.key}\n  ${a.analytic} (${a.technique})  ${a.severity} ${a.score}  ${a.status}  assignee ${a.assignee ?? '-'}\n` +
      `  ${a.host}  ${a.user ?? '?'}  first ${a.firstSeen}  last ${a.lastSeen}\n`,
  );
  for (const n of a.notes) out.write(`  note: ${n}\n`);
  // The chain as the analytic sees it now, drawn as a tree.
  const margin = 3600_000;
  const r = await hunt(db, {
    analytic: a.analytic,
    from: new Date(Date.parse(a.firstSeen) - margin).toISOString(),
    to: new Date(Date.parse(a.lastSeen) + margin).toISOString(),
  });
  const chain = r.chains.find(
    (c) => c.root.name === a.rootImage && c.lolbin.name === a.lolbinImage && c.host === a.host,
  );
  if (chain) out.write(`${renderChain(chain, out.isTTY)}\n`);
  out.write(
    `  evidence in the graph (MATCH (a:Alert {key: '${a.key}'})-[e:EVIDENCE]->(n) RETURN a, e, n):\n`,
  );
  for (const e of a.evidence as Array<{ step: number; what: string; label: string; key: string }>)
    out.write(`    [${e.step}] ${e.label} ${e.key}  (${e.what})\n`);
  return 0;
}

async function jobsCommand(db: Db, args: string[], json: boolean, env: Environment): Promise<number> {
  const s = new Scheduler(db, { settings: env.schedules });
  await s.ensureJobs();
  const [sub, id] = args;
  const out = process.stdout;
  if (!sub) {
    const jobs = await s.jobs();
    if (json) out.write(`${JSON.stringify(jobs, null, 2)}\n`);
    else
      for (const j of jobs)
        out.write(
          `${j.id}  every ${j.intervalSeconds} s, lookback ${j.lookbackSeconds} s  ${j.paused ? 'PAUSED' : 'active'}  watermark ${j.watermark}` +
            `  last run ${j.lastRun ? `${j.lastRun.status} ${j.lastRun.windowEnd}` : 'never'}\n`,
        );
    return 0;
  }
  if (!id) throw new LineageError('LH_ERR_INPUT', `jobs ${sub} needs a job id (an analytic id, e.g. AN1314)`);
  if (sub === 'pause' || sub === 'resume') {
    const j = await s.setPaused(id, sub === 'pause');
    out.write(`${j.id} ${j.paused ? 'paused' : 'resumed'}\n`);
    return 0;
  }
  if (sub === 'run') {
    for (const r of await s.runNow(id))
      out.write(
        `${r.job} ${r.kind} ${r.windowStart} → ${r.windowEnd}: ${r.status}, ${r.chains} chain(s), ${r.alertsRaised} raised, ${r.alertsUpdated} refreshed${r.error ? `, ${r.error}` : ''}\n`,
      );
    return 0;
  }
  if (sub === 'history') {
    const h = await s.history(id, 50);
    if (json) out.write(`${JSON.stringify(h, null, 2)}\n`);
    else
      for (const r of h)
        out.write(
          `${r.windowStart} → ${r.windowEnd}  ${r.kind} ${r.status}  ${r.chains} chain(s), ${r.alertsRaised} raised, ${r.millis} ms${r.error ? `  ${r.error}` : ''}\n`,
        );
    return 0;
  }
  throw new LineageError('LH_ERR_INPUT', `unknown jobs command ${sub}`);
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(`${HELP}\n`);
    return command ? 0 : 2;
  }
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      rejects: { type: 'string' },
      batch: { type: 'string' },
      volume: { type: 'string', multiple: true },
      analytic: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      param: { type: 'string', multiple: true },
      alerts: { type: 'boolean' },
      json: { type: 'boolean' },
      table: { type: 'boolean' },
      status: { type: 'string' },
      assignee: { type: 'string' },
      note: { type: 'string' },
    },
  });

  if (command === 'analytics') {
    for (const a of loadAnalytics()) {
      process.stdout.write(`${a.id}  ${a.name}  (${a.surface}, ${a.technique})\n  ${a.description}\n`);
      for (const p of a.params)
        process.stdout.write(
          `    ${p.name}: ${p.type} = ${JSON.stringify(p.default)}\n      ${p.description}\n`,
        );
    }
    return 0;
  }
  if (command === 'model') {
    process.stdout.write(`${modelMarkdown()}\n`);
    return 0;
  }
  if (command === 'params') {
    const id = positionals[0];
    if (!id) throw new LineageError('LH_ERR_INPUT', 'params needs an analytic id, e.g. params AN1314');
    process.stdout.write(`${browserParams(getAnalytic(id), parseParams(values.param))}\n`);
    return 0;
  }

  const cfg = loadConfig();
  const env = loadEnvironment();
  const known = ['migrate', 'ingest', 'hunt', 'serve', 'demo', 'alerts', 'jobs'];
  if (!known.includes(command)) {
    process.stderr.write(`unknown command ${command}\n${HELP}\n`);
    return 2;
  }
  const db = await connect(cfg.neo4j);
  try {
    await migrate(db);
    await syncConfigSuppressions(db, env);
    if (command === 'migrate') {
      process.stdout.write(`graph model applied to ${db.uri}\n`);
      return 0;
    }
    if (command === 'ingest') {
      if (positionals.length === 0)
        throw new LineageError('LH_ERR_INPUT', 'ingest needs at least one input (or - for stdin)');
      const s = await runIngest(db, positionals, values);
      return s.rejectedTotal > 0 ? 1 : 0;
    }
    if (command === 'hunt') {
      const results = values.analytic
        ? [
            await hunt(db, {
              analytic: values.analytic,
              params: parseParams(values.param),
              ...(values.from ? { from: values.from } : {}),
              ...(values.to ? { to: values.to } : {}),
            }),
          ]
        : await huntAll(db, values.from, values.to);
      for (const r of results) {
        if (values.alerts) r.chains = r.chains.filter((c) => c.alert);
        if (values.table) {
          process.stdout.write(`${r.analytic.id}: ${r.chains.length} chain(s)\n`);
          for (const c of r.chains)
            process.stdout.write(
              `${c.alert ? 'ALERT  ' : 'partial'}  ${String(c.score).padStart(3)}  ${c.stepsFound.join(',').padEnd(7)}  ` +
                `${c.firstSeen}  ${c.host}  ${c.user ?? '?'}  ${c.root.name} > ${c.lolbin.name}${c.link === 'broker' ? ' (broker)' : ''}\n`,
            );
        } else if (values.json)
          process.stdout.write(
            `${JSON.stringify({ analytic: r.analytic.id, params: r.params, chains: r.chains }, null, 2)}\n`,
          );
        else process.stdout.write(`${renderHunt(r, process.stdout.isTTY)}\n\n`);
      }
      return 0;
    }
    if (command === 'alerts') return await alertsCommand(db, positionals, values);
    if (command === 'jobs') return await jobsCommand(db, positionals, values.json === true, env);
    if (command === 'serve') {
      await serve(db, cfg.api.host, cfg.api.port, env);
      return 0;
    }
    // demo
    process.stdout.write(`Loading the bundled sample ${SAMPLE}\n`);
    await runIngest(db, [SAMPLE], values);
    process.stdout.write('\nRunning every hunt over all time:\n\n');
    for (const r of await huntAll(db)) {
      process.stdout.write(`${renderHunt(r, process.stdout.isTTY)}\n\n`);
      const raised = await raiseAlerts(db, r.analytic, r.chains);
      for (const x of raised)
        process.stdout.write(
          `${x.created ? 'raised' : 'refreshed'} alert ${x.key} (npm run cli -- alerts show ${x.key})\n`,
        );
    }
    process.stdout.write(
      '\nIn Neo4j Browser: MATCH (a:Alert)-[e:EVIDENCE]->(n) RETURN a, e, n  shows every alert with its evidence.\n',
    );
    if (process.env.LH_DEMO_NO_SERVE === '1') return 0;
    await serve(db, cfg.api.host, cfg.api.port, env);
    return 0;
  } finally {
    await db.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof LineageError) process.stderr.write(`error ${err.code}: ${err.message}\n`);
    else process.stderr.write(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
