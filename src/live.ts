// Alerts within seconds: when ingest commits a batch, the analytics are evaluated right away over the
// chains that batch can complete (LOLBINs started up to a time window before its first event), and new
// alerts are stored and published. The scheduled run stays the safety net; both paths fingerprint the
// chain the same way, so they raise one alert.
import type { CanonicalEvent } from '../ingest/canonical.ts';
import { raiseAlerts } from './alerts.ts';
import { hunt, loadAnalytics, resolveParams } from './analytics.ts';
import type { Db } from './db.ts';

export interface LiveAlert {
  key: string;
  analytic: string;
  /** From the commit of the batch holding the chain's last event to the alert being stored. */
  latencyMs: number;
}

const paramValue = (a: ReturnType<typeof loadAnalytics>[number], name: string, fallback: number) =>
  Number(resolveParams(a)[name] ?? fallback);

export function liveEvaluator(db: Db, onAlert?: (a: LiveAlert) => void) {
  return async (events: CanonicalEvent[], committedAt: number): Promise<LiveAlert[]> => {
    if (events.length === 0) return [];
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (const e of events) {
      const t = Date.parse(e.time);
      if (t < min) min = t;
      if (t > max) max = t;
    }
    const out: LiveAlert[] = [];
    for (const a of loadAnalytics()) {
      const windowMs = paramValue(a, 'timeWindowMinutes', 15) * 60_000;
      const skewMs = paramValue(a, 'clockSkewSeconds', 30) * 1000;
      const r = await hunt(db, {
        analytic: a.id,
        from: new Date(min - windowMs - skewMs).toISOString(),
        to: new Date(max + skewMs + 1).toISOString(),
      });
      for (const x of await raiseAlerts(db, a, r.chains)) {
        if (!x.created) continue;
        const alert = { key: x.key, analytic: a.id, latencyMs: Date.now() - committedAt };
        out.push(alert);
        onAlert?.(alert);
      }
    }
    return out;
  };
}
