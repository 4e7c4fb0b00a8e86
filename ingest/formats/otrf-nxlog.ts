// OTRF Security-Datasets JSON lines: NXLog-flattened Windows events (EventData fields at the top level).
// Sysmon carries UtcTime; Security events only carry EventTime in the host's local time, so the host's
// UTC offset is recovered from @timestamp (UTC, at the collector) against EventReceivedTime (local).
import { mapWindowsRecord, USED_PROVIDERS } from '../windows-events.ts';
import { type Format, isObject } from './format.ts';

const LOCAL = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})$/;
const QUARTER_HOUR = 15 * 60 * 1000;

function localToUtc(local: unknown, receivedLocal: unknown, receivedUtc: unknown): string | undefined {
  if (typeof local !== 'string' || typeof receivedUtc !== 'string') return undefined;
  const l = LOCAL.exec(local);
  const utcMs = Date.parse(receivedUtc);
  if (!l || Number.isNaN(utcMs)) return undefined;
  const asUtc = Date.parse(`${l[1]}T${l[2]}Z`);
  const r = typeof receivedLocal === 'string' ? LOCAL.exec(receivedLocal) : null;
  const receivedAsUtc = r ? Date.parse(`${r[1]}T${r[2]}Z`) : asUtc;
  const offset = Math.round((utcMs - receivedAsUtc) / QUARTER_HOUR) * QUARTER_HOUR;
  return new Date(asUtc + offset).toISOString();
}

export const format: Format = {
  name: 'otrf-nxlog',
  description: 'OTRF Security-Datasets JSON lines (NXLog-flattened Sysmon and Security events)',
  detect: (r) =>
    isObject(r) &&
    typeof r.SourceName === 'string' &&
    r.EventID !== undefined &&
    (typeof r.Hostname === 'string' || typeof r['@timestamp'] === 'string'),
  map(r, ctx) {
    if (!isObject(r)) return { ok: false, reason: 'not a JSON object' };
    const eventId = Number(r.EventID);
    if (!Number.isInteger(eventId)) return { ok: false, reason: 'EventID is not a number' };
    const provider = String(r.SourceName);
    if (!USED_PROVIDERS.has(provider)) return { ok: 'skip', reason: `provider ${provider} not used` };
    const timeCreated =
      localToUtc(r.EventTime, r.EventReceivedTime, r['@timestamp']) ??
      (typeof r['@timestamp'] === 'string' ? new Date(Date.parse(r['@timestamp'])).toISOString() : undefined);
    return mapWindowsRecord(
      {
        provider,
        eventId,
        channel: String(r.Channel ?? provider),
        computer: String(r.Hostname ?? ''),
        recordId: r.RecordNumber === undefined ? undefined : String(r.RecordNumber),
        timeCreated,
        data: r,
      },
      { source: 'otrf-nxlog', volumeMap: ctx.volumeMap, fallbackId: `${ctx.file}:${ctx.line}` },
    );
  },
};
