// Scheduled hunt jobs. Each analytic has a Job node holding its interval, its lookback and its watermark
// (the end of the last window hunted). A tick hunts every window from the watermark up to now, one after
// another, so downtime is caught up window by window and no window is skipped. Each window's hunt covers
// LOLBINs that started from (window start − lookback) to the window end, lookback being the analytic's
// time window plus the allowed ingest lateness: a chain whose egress arrives late is still completed by a
// later run, and the alert fingerprint keeps it one alert. A lease on the Job node keeps one run of a job
// at a time, however many service instances tick.
import { hostname } from 'node:os';
import { raiseAlerts } from './alerts.ts';
import { getAnalytic, hunt, loadAnalytics, resolveParams } from './analytics.ts';
import { type Db, plain } from './db.ts';
import { LineageError } from './errors.ts';
import { log } from './log.ts';
import { label, rel } from './model.ts';

const JOB = label('Job');
const RUN = label('JobRun');
const AL = label('Alert');

export interface JobSettings {
  intervalSeconds: number;
  latenessSeconds: number;
}

export const DEFAULT_JOB: JobSettings = { intervalSeconds: 300, latenessSeconds: 300 };

export interface SchedulerOptions {
  /** Who holds leases (host and pid by default). */
  owner?: string;
  clock?: () => Date;
  leaseSeconds?: number;
  /** Where a new job's first window starts (default: one interval before now). */
  startAt?: Date;
  settings?: Record<string, Partial<JobSettings> & { paused?: boolean }>;
  onRun?: (run: RunSummary) => void;
}

export interface RunSummary {
  job: string;
  kind: 'scheduled' | 'manual';
  windowStart: string;
  windowEnd: string;
  huntFrom: string;
  status: 'ok' | 'failed';
  chains: number;
  alertsRaised: number;
  alertsUpdated: number;
  millis: number;
  error?: string;
}

export interface JobView {
  id: string;
  intervalSeconds: number;
  latenessSeconds: number;
  lookbackSeconds: number;
  watermark: string;
  paused: boolean;
  leaseOwner: string | null;
  leaseUntil: string | null;
  lastRun: Record<string, unknown> | null;
}

const iso = (d: Date) => d.toISOString();

/** How far each window's hunt reaches back: the analytic's time window plus the allowed lateness. */
function lookbackSeconds(id: string, latenessSeconds: number): number {
  return Number(resolveParams(getAnalytic(id)).timeWindowMinutes ?? 15) * 60 + latenessSeconds;
}

export class Scheduler {
  readonly owner: string;
  private readonly clock: () => Date;
  private readonly leaseSeconds: number;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<RunSummary[]> | undefined;

  constructor(
    private readonly db: Db,
    private readonly opts: SchedulerOptions = {},
  ) {
    this.owner = opts.owner ?? `${hostname()}:${process.pid}`;
    this.clock = opts.clock ?? (() => new Date());
    this.leaseSeconds = opts.leaseSeconds ?? 600;
  }

  /** One Job node per analytic; existing jobs keep their watermark and pause state. */
  async ensureJobs(): Promise<void> {
    for (const a of loadAnalytics()) {
      const s = { ...DEFAULT_JOB, ...(this.opts.settings?.[a.id] ?? {}) };
      const start = this.opts.startAt ?? new Date(this.clock().getTime() - s.intervalSeconds * 1000);
      await this.db.write(
        `MERGE (j:${JOB} {key: $id})
         ON CREATE SET j.watermark = datetime($start), j.paused = $paused, j.createdAt = datetime($now)
         SET j.intervalSeconds = $interval, j.latenessSeconds = $lateness`,
        {
          id: a.id,
          start: iso(start),
          now: iso(this.clock()),
          interval: s.intervalSeconds,
          lateness: s.latenessSeconds,
          paused: this.opts.settings?.[a.id]?.paused ?? false,
        },
      );
    }
  }

  private async lease(id: string, take: boolean): Promise<boolean> {
    // SET first: it takes the node's write lock, so the lease check below reads the latest committed lease.
    const res = await this.db.write(
      `MATCH (j:${JOB} {key: $id})
       SET j.lockedAt = datetime($now)
       WITH j
       WHERE NOT $take OR j.leaseOwner IS NULL OR j.leaseOwner = $owner OR j.leaseUntil < datetime($now)
       SET j.leaseOwner = CASE WHEN $take THEN $owner ELSE null END,
           j.leaseUntil = CASE WHEN $take THEN datetime($now) + duration({seconds: $seconds}) ELSE null END
       RETURN j.key AS key`,
      { id, take, owner: this.owner, now: iso(this.clock()), seconds: this.leaseSeconds },
    );
    return res.records.length > 0;
  }

  private async job(
    id: string,
  ): Promise<{ watermark: Date; interval: number; lateness: number; paused: boolean }> {
    const r = await this.db.read(
      `MATCH (j:${JOB} {key: $id}) RETURN toString(j.watermark) AS w, j.intervalSeconds AS i, j.latenessSeconds AS l, j.paused AS p`,
      { id },
    );
    const rec = r.records[0];
    if (!rec) throw new LineageError('LH_ERR_NOT_FOUND', `no job ${id}`);
    return {
      watermark: new Date(rec.get('w') as string),
      interval: rec.get('i') as number,
      lateness: rec.get('l') as number,
      paused: rec.get('p') as boolean,
    };
  }

  /** Hunt one window and record the run; the watermark moves only when a scheduled window succeeds. */
  private async runWindow(
    id: string,
    start: Date,
    end: Date,
    kind: RunSummary['kind'],
    lateness: number,
  ): Promise<RunSummary> {
    const analytic = getAnalytic(id);
    const huntFrom = new Date(start.getTime() - lookbackSeconds(id, lateness) * 1000);
    const began = Date.now();
    const summary: RunSummary = {
      job: id,
      kind,
      windowStart: iso(start),
      windowEnd: iso(end),
      huntFrom: iso(huntFrom),
      status: 'ok',
      chains: 0,
      alertsRaised: 0,
      alertsUpdated: 0,
      millis: 0,
    };
    let raised: Array<{ key: string; created: boolean }> = [];
    try {
      const r = await hunt(this.db, { analytic: id, from: iso(huntFrom), to: iso(end) });
      summary.chains = r.chains.length;
      raised = await raiseAlerts(this.db, analytic, r.chains, this.clock());
      summary.alertsRaised = raised.filter((x) => x.created).length;
      summary.alertsUpdated = raised.length - summary.alertsRaised;
    } catch (err) {
      summary.status = 'failed';
      summary.error = err instanceof Error ? err.message : String(err);
    }
    summary.millis = Date.now() - began;
    await this.db.write(
      `MATCH (j:${JOB} {key: $id})
       CREATE (j)-[:${rel('RAN')}]->(r:${RUN} {key: $id + '|' + $start + '|' + $end + '|' + $now})
       SET r += $props, r.job = $id, r.windowStart = datetime($start), r.windowEnd = datetime($end),
           r.huntFrom = datetime($huntFrom), r.startedAt = datetime($now), r.owner = $owner
       FOREACH (_ IN CASE WHEN $advance THEN [1] ELSE [] END | SET j.watermark = datetime($end))
       WITH r
       UNWIND $alerts AS k
       MATCH (a:${AL} {key: k})
       MERGE (r)-[:${rel('RAISED')}]->(a)`,
      {
        id,
        start: iso(start),
        end: iso(end),
        huntFrom: iso(huntFrom),
        now: iso(this.clock()),
        owner: this.owner,
        advance: kind === 'scheduled' && summary.status === 'ok',
        alerts: raised.map((x) => x.key),
        props: {
          kind,
          status: summary.status,
          chains: summary.chains,
          alertsRaised: summary.alertsRaised,
          alertsUpdated: summary.alertsUpdated,
          millis: summary.millis,
          error: summary.error ?? null,
        },
      },
    );
    const level = summary.status === 'ok' ? 'info' : 'error';
    log[level]({ ...summary }, 'hunt job window');
    this.opts.onRun?.(summary);
    return summary;
  }

  /** Hunt every due window of one job, in order, under its lease. */
  async catchUp(id: string, { force = false } = {}): Promise<RunSummary[]> {
    const runs: RunSummary[] = [];
    const j = await this.job(id);
    if (j.paused && !force) return runs;
    if (!(await this.lease(id, true))) {
      log.info({ job: id }, 'job leased by another instance; skipped');
      return runs;
    }
    try {
      let { watermark } = j;
      const step = j.interval * 1000;
      while (watermark.getTime() + step <= this.clock().getTime()) {
        const end = new Date(watermark.getTime() + step);
        const run = await this.runWindow(id, watermark, end, 'scheduled', j.lateness);
        runs.push(run);
        if (run.status !== 'ok') break; // retried from the same watermark next tick
        watermark = end;
        await this.lease(id, true);
      }
    } finally {
      await this.lease(id, false);
    }
    return runs;
  }

  /** Run now: the due windows, or when none is due an extra window ending now (the watermark stays). */
  async runNow(id: string): Promise<RunSummary[]> {
    getAnalytic(id);
    const runs = await this.catchUp(id, { force: true });
    if (runs.length > 0) return runs;
    const j = await this.job(id);
    if (!(await this.lease(id, true)))
      throw new LineageError('LH_ERR_LEASED', `job ${id} is running elsewhere`);
    try {
      const now = this.clock();
      return [
        await this.runWindow(id, new Date(now.getTime() - j.interval * 1000), now, 'manual', j.lateness),
      ];
    } finally {
      await this.lease(id, false);
    }
  }

  async tick(): Promise<RunSummary[]> {
    // Ticks never overlap in one instance; the lease covers several instances.
    if (this.ticking) return this.ticking;
    this.ticking = (async () => {
      const out: RunSummary[] = [];
      for (const a of loadAnalytics()) out.push(...(await this.catchUp(a.id)));
      return out;
    })().finally(() => {
      this.ticking = undefined;
    });
    return this.ticking;
  }

  start(everyMs = 10_000): void {
    const run = () =>
      this.tick().catch((err: unknown) =>
        log.error({ err: (err as Error).message }, 'scheduler tick failed'),
      );
    void this.ensureJobs().then(run);
    this.timer = setInterval(run, everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.ticking;
  }

  async setPaused(id: string, paused: boolean): Promise<JobView> {
    const res = await this.db.write(
      `MATCH (j:${JOB} {key: $id}) SET j.paused = $paused RETURN j.key AS key`,
      { id, paused },
    );
    if (res.records.length === 0) throw new LineageError('LH_ERR_NOT_FOUND', `no job ${id}`);
    return (await this.jobs()).find((j) => j.id === id)!;
  }

  async jobs(): Promise<JobView[]> {
    const res = await this.db.read(
      `MATCH (j:${JOB})
       OPTIONAL MATCH (j)-[:${rel('RAN')}]->(r:${RUN})
       WITH j, r ORDER BY r.startedAt DESC, r.windowEnd DESC
       WITH j, head(collect(properties(r))) AS last
       RETURN properties(j) AS j, last ORDER BY j.key`,
    );
    return res.records.map((rec) => {
      const j = plain(rec.get('j')) as Record<string, unknown>;
      return {
        id: String(j.key),
        intervalSeconds: Number(j.intervalSeconds),
        latenessSeconds: Number(j.latenessSeconds),
        lookbackSeconds: lookbackSeconds(String(j.key), Number(j.latenessSeconds)),
        watermark: String(j.watermark),
        paused: Boolean(j.paused),
        leaseOwner: (j.leaseOwner as string | null) ?? null,
        leaseUntil: (j.leaseUntil as string | null) ?? null,
        lastRun: (plain(rec.get('last')) as Record<string, unknown> | null) ?? null,
      };
    });
  }

  async history(id: string, limit = 20): Promise<Array<Record<string, unknown>>> {
    const res = await this.db.read(
      `MATCH (:${JOB} {key: $id})-[:${rel('RAN')}]->(r:${RUN})
       RETURN properties(r) AS r ORDER BY r.windowEnd DESC, r.startedAt DESC LIMIT toInteger($limit)`,
      { id, limit: Math.max(1, Math.min(limit, 1000)) },
    );
    return res.records.map((r) => plain(r.get('r')) as Record<string, unknown>);
  }
}
