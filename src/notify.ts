// Getting alerts out: webhooks (generic JSON or Slack-compatible) for every new alert, with retries and
// back-off, and alerts as NDJSON in ECS or OCSF Detection Finding for a SIEM.
import type { AlertView } from './alerts.ts';
import { alertEvents } from './alerts.ts';
import { log } from './log.ts';

export interface Webhook {
  url: string;
  format: 'generic' | 'slack';
}

export interface NotifyOptions {
  attempts?: number;
  /** First back-off; doubled after each failed attempt. */
  backoffMs?: number;
  timeoutMs?: number;
}

type Alert = AlertView & { evidence?: unknown[] };

export function slackMessage(a: Alert): Record<string, unknown> {
  const text =
    `:rotating_light: *${a.severity.toUpperCase()}* ${a.analytic} (${a.technique}) score ${a.score} on \`${a.host}\`` +
    ` user \`${a.user ?? '?'}\`: ${a.rootImage} → ${a.lolbinImage}, steps ${a.stepsFound.join(', ')}. Alert \`${a.key}\``;
  return { text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }] };
}

export function genericMessage(a: Alert): Record<string, unknown> {
  const { evidence: _evidence, ...alert } = a;
  return { event: 'alert.raised', alert };
}

/** POST one message, retrying 5xx, 429 and network errors with exponential back-off. */
export async function deliver(hook: Webhook, a: Alert, opts: NotifyOptions = {}): Promise<boolean> {
  const attempts = opts.attempts ?? 4;
  let wait = opts.backoffMs ?? 1000;
  const body = JSON.stringify(hook.format === 'slack' ? slackMessage(a) : genericMessage(a));
  for (let i = 1; i <= attempts; i++) {
    try {
      const res = await fetch(hook.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(opts.timeoutMs ?? 5000),
      });
      if (res.ok) return true;
      if (res.status < 500 && res.status !== 429) {
        log.error({ status: res.status, alert: a.key }, 'webhook refused the alert; not retried');
        return false;
      }
      log.warn({ status: res.status, attempt: i, alert: a.key }, 'webhook failed');
    } catch (err) {
      log.warn({ err: (err as Error).message, attempt: i, alert: a.key }, 'webhook unreachable');
    }
    if (i < attempts) await new Promise((r) => setTimeout(r, wait));
    wait *= 2;
  }
  log.error({ alert: a.key }, 'webhook gave up');
  return false;
}

/** Send every newly raised alert to the webhooks; returns a function that stops. */
export function startNotifier(hooks: Webhook[], opts: NotifyOptions = {}): () => void {
  if (hooks.length === 0) return () => {};
  const onRaised = (a: Alert) => {
    for (const h of hooks) void deliver(h, a, opts);
  };
  alertEvents.on('raised', onRaised);
  return () => alertEvents.off('raised', onRaised);
}

const SEVERITY_ID: Record<string, number> = { low: 2, medium: 3, high: 4, critical: 5 };
const STATUS_ID: Record<string, number> = { new: 1, in_progress: 2, false_positive: 3, closed: 4 };

/** OCSF 1.1 Detection Finding (class 2004). */
export function toOcsf(a: Alert): Record<string, unknown> {
  const ms = (t: string) => Date.parse(t);
  return {
    class_uid: 2004,
    class_name: 'Detection Finding',
    category_uid: 2,
    category_name: 'Findings',
    activity_id: 1,
    type_uid: 200401,
    time: ms(a.lastSeen),
    severity_id: SEVERITY_ID[a.severity] ?? 0,
    severity: a.severity,
    status_id: a.suppressed ? 99 : (STATUS_ID[a.status] ?? 99),
    status: a.suppressed ? 'Suppressed' : a.status,
    risk_score: a.score,
    message: `${a.rootImage} → ${a.lolbinImage}: user execution chain, steps ${a.stepsFound.join(', ')}`,
    metadata: { version: '1.1.0', product: { name: 'lineage-hunter', vendor_name: 'lineage-hunter' } },
    finding_info: {
      uid: a.key,
      title: `${a.analytic} user execution chain`,
      created_time: ms(a.createdAt),
      first_seen_time: ms(a.firstSeen),
      last_seen_time: ms(a.lastSeen),
      analytic: { uid: a.analytic, name: `DET0478 ${a.analytic}`, type_id: 1, type: 'Rule' },
      attacks: [
        {
          technique: { uid: 'T1204', name: 'User Execution' },
          tactic: { uid: 'TA0002', name: 'Execution' },
        },
      ],
    },
    device: { hostname: a.host },
    actor: { user: { name: a.user } },
    unmapped: { steps_found: a.stepsFound, link: a.link, assignee: a.assignee },
  };
}

/** ECS alert document. */
export function toEcs(a: Alert): Record<string, unknown> {
  return {
    '@timestamp': a.lastSeen,
    event: {
      kind: 'alert',
      category: ['process', 'network'],
      type: ['info'],
      severity: SEVERITY_ID[a.severity] ?? 0,
      risk_score: a.score,
      start: a.firstSeen,
      end: a.lastSeen,
      id: a.key,
    },
    rule: { id: a.analytic, name: `DET0478 ${a.analytic} user execution chain`, ruleset: 'DET0478' },
    threat: {
      framework: 'MITRE ATT&CK',
      technique: [{ id: 'T1204', name: 'User Execution' }],
      tactic: { id: ['TA0002'], name: ['Execution'] },
    },
    host: { name: a.host },
    user: { name: a.user },
    message: `${a.rootImage} → ${a.lolbinImage}: user execution chain, steps ${a.stepsFound.join(', ')}`,
    labels: { status: a.status, suppressed: a.suppressed, link: a.link },
  };
}
