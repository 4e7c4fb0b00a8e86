// Windows events as XML: `wevtutil qe /f:xml` (concatenated <Event> elements, no root), Event Viewer's
// "Save as XML" (<Events> root, often UTF-16), Splunk's renderXml. Each <Event> is cut out of the text
// stream and parsed on its own, so one malformed event is rejected without losing the rest; it becomes
// the same {"Event":{"System","EventData"}} tree the windows-event-json format maps.
import type { Readable } from 'node:stream';
import { SaxesParser } from 'saxes';
import type { RawRecord } from './read.ts';

type Tree = Record<string, unknown>;

interface Frame {
  name: string;
  attributes: Record<string, string>;
  children: Array<[string, unknown]>;
  text: string;
}

/** xmltodict's shape: attributes under #attributes, text under #text when there is anything else. */
function finish(f: Frame): unknown {
  const text = f.text.trim() === '' ? '' : f.text;
  const hasAttrs = Object.keys(f.attributes).length > 0;
  if (!hasAttrs && f.children.length === 0) return text === '' ? null : text;
  const out: Tree = {};
  if (hasAttrs) out['#attributes'] = f.attributes;
  const byName = new Map<string, unknown[]>();
  for (const [name, value] of f.children) {
    const list = byName.get(name);
    if (list) list.push(value);
    else byName.set(name, [value]);
  }
  for (const [name, list] of byName) out[name] = list.length === 1 ? list[0] : list;
  if (text !== '') out['#text'] = text;
  return out;
}

/** Parse one <Event>…</Event> fragment into {Event: tree}. Throws on malformed XML. */
export function parseEventXml(xml: string): { Event: unknown } {
  const parser = new SaxesParser({ fragment: true, xmlns: false });
  const stack: Frame[] = [];
  let root: unknown;
  parser.on('opentag', (tag) => {
    const attributes: Record<string, string> = {};
    for (const [k, v] of Object.entries(tag.attributes)) attributes[k] = String(v);
    stack.push({ name: tag.name.replace(/^[^:]+:/, ''), attributes, children: [], text: '' });
  });
  parser.on('text', (t) => {
    const top = stack[stack.length - 1];
    if (top) top.text += t;
  });
  parser.on('cdata', (t) => {
    const top = stack[stack.length - 1];
    if (top) top.text += t;
  });
  parser.on('closetag', () => {
    const f = stack.pop()!;
    const value = finish(f);
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push([f.name, value]);
    else root = value;
  });
  parser.write(xml).close();
  return { Event: root };
}

function decoderFor(first: Buffer): TextDecoder {
  if (first[0] === 0xff && first[1] === 0xfe) return new TextDecoder('utf-16le');
  if (first[0] === 0xfe && first[1] === 0xff) return new TextDecoder('utf-16be');
  if (first.length > 1 && first[0] === 0x3c && first[1] === 0x00) return new TextDecoder('utf-16le');
  return new TextDecoder('utf-8');
}

const START = /<(?:[A-Za-z_][\w.-]*:)?Event[\s>]/g;
const END = /<\/(?:[A-Za-z_][\w.-]*:)?Event\s*>/g;

/** Records of an XML stream: one per <Event> element; `line` is the line the element starts on. */
export async function* xmlEventRecords(stream: Readable, file: string): AsyncGenerator<RawRecord> {
  let decoder: TextDecoder | undefined;
  let buf = '';
  let lineAtBuf = 1;
  const countLines = (s: string) => {
    let n = 0;
    for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) n++;
    return n;
  };
  const drain = function* (final: boolean): Generator<RawRecord> {
    for (;;) {
      START.lastIndex = 0;
      const s = START.exec(buf);
      if (!s) {
        // Keep a tail that might hold the start of a tag cut by the chunk boundary.
        const keep = final ? 0 : Math.min(buf.length, 64);
        lineAtBuf += countLines(buf.slice(0, buf.length - keep));
        buf = buf.slice(buf.length - keep);
        return;
      }
      END.lastIndex = s.index;
      const e = END.exec(buf);
      const line = lineAtBuf + countLines(buf.slice(0, s.index));
      if (!e) {
        if (final) {
          yield {
            file,
            line,
            error: 'unterminated <Event> element',
            raw: buf.slice(s.index, s.index + 2000),
          };
          buf = '';
        } else {
          lineAtBuf += countLines(buf.slice(0, s.index));
          buf = buf.slice(s.index);
        }
        return;
      }
      const xml = buf.slice(s.index, e.index + e[0].length);
      try {
        yield { file, line, value: parseEventXml(xml) };
      } catch (err) {
        yield {
          file,
          line,
          error: `invalid XML: ${(err as Error).message.split('\n')[0]}`,
          raw: xml.slice(0, 2000),
        };
      }
      lineAtBuf = line + countLines(xml);
      buf = buf.slice(e.index + e[0].length);
    }
  };
  for await (const chunk of stream) {
    const bytes = chunk as Buffer;
    decoder ??= decoderFor(bytes);
    buf += decoder.decode(bytes, { stream: true });
    yield* drain(false);
  }
  if (decoder) buf += decoder.decode();
  yield* drain(true);
}
