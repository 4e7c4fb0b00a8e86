// Windows events as {"Event":{"System":…,"EventData":…}} JSON (xmltodict-style, as SigmaHQ's
// regression data and evtx_dump ship them).
import { isoUtc, mapWindowsRecord } from '../windows-events.ts';
import { type Format, isObject } from './format.ts';

const attr = (v: unknown, name: string): unknown =>
  isObject(v) && isObject(v['#attributes']) ? v['#attributes'][name] : undefined;

/** EventID may be a number, a string, or {"#text": n, "#attributes": {Qualifiers}}. */
const text = (v: unknown): unknown => (isObject(v) ? (v['#text'] ?? v.value) : v);

/** EventData is a map of names to values, or a Data array of {"#attributes":{"Name"}, "#text"}. */
function eventData(raw: unknown): Record<string, unknown> {
  if (!isObject(raw)) return {};
  // A single <Data> arrives as an object, several as an array; unnamed ones (Application Error) as
  // strings, kept in order as param1, param2, … as Windows names them.
  const data = raw.Data;
  const list = data === undefined ? undefined : Array.isArray(data) ? data : [data];
  if (list) {
    const out: Record<string, unknown> = {};
    for (const [i, item] of list.entries()) {
      const name = attr(item, 'Name');
      out[typeof name === 'string' ? name : `param${i + 1}`] = text(item);
    }
    return out;
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) if (k !== '#attributes') out[k] = text(v);
  return out;
}

export const format: Format = {
  name: 'windows-event-json',
  description: 'Windows events as {"Event":{"System","EventData"}} JSON (SigmaHQ regression data, evtx_dump)',
  detect: (r) => isObject(r) && isObject(r.Event) && isObject(r.Event.System),
  map(r, ctx) {
    if (!isObject(r) || !isObject(r.Event) || !isObject(r.Event.System))
      return { ok: false, reason: 'no Event.System object' };
    const sys = r.Event.System;
    const provider = attr(sys.Provider, 'Name');
    const eventId = Number(text(sys.EventID));
    if (typeof provider !== 'string') return { ok: false, reason: 'no System.Provider Name' };
    if (!Number.isInteger(eventId)) return { ok: false, reason: 'System.EventID is not a number' };
    const recordId = text(sys.EventRecordID);
    return mapWindowsRecord(
      {
        provider,
        eventId,
        channel: String(text(sys.Channel) ?? provider),
        computer: String(text(sys.Computer) ?? ''),
        recordId: recordId === undefined || recordId === null ? undefined : String(recordId),
        timeCreated: isoUtc(attr(sys.TimeCreated, 'SystemTime')),
        data: eventData(r.Event.EventData),
      },
      { source: 'windows-event-json', volumeMap: ctx.volumeMap, fallbackId: `${ctx.file}:${ctx.line}` },
    );
  },
};
