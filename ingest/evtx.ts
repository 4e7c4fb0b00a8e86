// A native reader for Windows XML Event Log files (.evtx): no external program, one 64 KiB chunk in memory
// at a time (two with read-ahead), whatever the file's size.
//
// Layout (little-endian throughout):
//   file header  4 KiB: "ElfFile\0", chunk count at 42, flags at 120 (dirty, full), CRC32 of bytes 0..120 at
//                124. The chunk count is not trusted (a dirty header lags behind): every 64 KiB slot after
//                the header is looked at.
//   chunk        64 KiB: "ElfChnk\0", free-space offset at 48 (end of the records), CRC32 of the records at
//                52, CRC32 of header bytes 0..120 and 128..512 at 124; records from offset 512. Names and
//                templates are addressed by chunk-relative offsets, so they are cached per chunk.
//   record       "**\0\0", size, record id (u64), written time (FILETIME), Binary XML, size again.
//   Binary XML   a token stream: fragment header, template instance (template id, definition offset; the
//                definition is inline the first time a chunk uses it), then the substitution values
//                (count, size+type descriptors, the values). The template holds the elements, attributes
//                and text with substitution slots (normal, or optional: omitted when the value is null).
//
// Each record becomes the tree xmltodict would make of the XML Windows renders: attributes under
// "#attributes", text under "#text" when the element also has attributes or children, the text alone
// otherwise, null for an empty element, an array for a repeated child (EventData.Data). Every value is a
// string formatted as Windows shows it: FILETIME as 2019-06-15T07:13:42.2780000Z (7 digits, the full
// 100 ns precision), GUIDs as {5770385F-C22A-43E0-BF4C-06F5698FFBD9}, HexInt32/64 and size_t as 0x3e7
// (lower-case, unpadded, so Keywords read 0x8000000000000000), booleans as true/false, binary as
// upper-case hex, SIDs as S-1-5-18, strings up to their first NUL, ANSI strings as Latin-1. An array value
// repeats the element it stands in once per item (MS-EVEN6 3.1.4.7.5: a classic event's insertion strings
// become one <Data> each); where it cannot, its items are joined by commas (as evtx_dump does).
// Substituted Binary XML (UserData, classic EventData) is expanded in place.
//
// Damage never stops the reader: a chunk with a bad signature, a CRC mismatch or a truncated body, and a
// record that does not parse, become items with `error` (saying which chunk, record and offset), and
// reading goes on with the next record or chunk. Records of a chunk whose CRC does not match are still
// read (each either parses or is reported); the chunk's error item says they may be damaged.
import { open } from 'node:fs/promises';
import * as zlib from 'node:zlib';

export interface EvtxItem {
  /**
   * Record number from the record's header: in a live log the event's EventRecordID, in an exported log
   * the file's own numbering from 1. 0 when an error is not tied to one record.
   */
  recordId: number;
  /** {"Event": {...}} in xmltodict style. */
  value?: unknown;
  /** Set instead of value when the record (or chunk, or file header) is damaged. */
  error?: string;
  /** Byte offset in the file of the record (or of the chunk, for a chunk error). */
  offset: number;
  /** 0-based index of the chunk, when the item belongs to one. */
  chunk?: number;
}

const FILE_HEADER_SIZE = 0x1000;
const CHUNK_SIZE = 0x10000;
const CHUNK_HEADER_SIZE = 0x200;
const RECORD_MAGIC = 0x00002a2a;
const MAX_NESTING = 32;

const hex = (n: number): string => `0x${n.toString(16)}`;

class BinXmlError extends Error {}

const fail = (message: string, offset: number): never => {
  throw new BinXmlError(`${message} at chunk offset ${hex(offset)}`);
};

// ---------------------------------------------------------------------------------------------------------
// CRC32 (zlib's when this Node has it, else a table)

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();
const nativeCrc = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

function crc32(buf: Buffer, start: number, end: number, crc = 0): number {
  if (nativeCrc) return nativeCrc(buf.subarray(start, end), crc);
  let c = ~crc;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

// ---------------------------------------------------------------------------------------------------------
// Values

const HEX_UPPER: string[] = Array.from({ length: 256 }, (_, i) =>
  i.toString(16).padStart(2, '0').toUpperCase(),
);

/** UTF-16LE up to the first NUL (values are C strings; most carry their terminator). */
function utf16(b: Buffer, o: number, n: number): string {
  if (n < 2) return '';
  const s = b.toString('utf16le', o, o + (n & ~1));
  const z = s.indexOf('\0');
  return z < 0 ? s : s.slice(0, z);
}

function ansi(b: Buffer, o: number, n: number): string {
  const s = b.toString('latin1', o, o + n);
  const z = s.indexOf('\0');
  return z < 0 ? s : s.slice(0, z);
}

function u64(b: Buffer, o: number): string {
  const lo = b.readUInt32LE(o);
  const hi = b.readUInt32LE(o + 4);
  return hi < 0x200000 ? String(hi * 0x100000000 + lo) : b.readBigUInt64LE(o).toString();
}

const hex32 = (b: Buffer, o: number): string => hex(b.readUInt32LE(o));

function hex64(b: Buffer, o: number): string {
  const lo = b.readUInt32LE(o);
  const hi = b.readUInt32LE(o + 4);
  return hi === 0 ? hex(lo) : `${hex(hi)}${lo.toString(16).padStart(8, '0')}`;
}

function guid(b: Buffer, o: number): string {
  const h = HEX_UPPER;
  return `{${h[b[o + 3]!]}${h[b[o + 2]!]}${h[b[o + 1]!]}${h[b[o]!]}-${h[b[o + 5]!]}${h[b[o + 4]!]}-${h[b[o + 7]!]}${h[b[o + 6]!]}-${h[b[o + 8]!]}${h[b[o + 9]!]}-${h[b[o + 10]!]}${h[b[o + 11]!]}${h[b[o + 12]!]}${h[b[o + 13]!]}${h[b[o + 14]!]}${h[b[o + 15]!]}}`;
}

// Records close in time share the date and second: the last one is kept.
let lastSecs = -1;
let lastPrefix = '';

/** FILETIME (100 ns ticks since 1601) as ISO UTC with 7 fractional digits. */
function filetime(b: Buffer, o: number): string {
  const lo = b.readUInt32LE(o);
  const hi = b.readUInt32LE(o + 4);
  let secs: number;
  let frac: number;
  if (hi < 0x4000000) {
    // 2^32 = 429 * 10^7 + 4967296, so the arithmetic stays below 2^53.
    const t = hi * 4967296 + lo;
    secs = hi * 429 + Math.floor(t / 1e7);
    frac = t % 1e7;
  } else {
    const t = b.readBigUInt64LE(o);
    secs = Number(t / 10000000n);
    frac = Number(t % 10000000n);
  }
  if (secs !== lastSecs) {
    lastSecs = secs;
    lastPrefix = new Date((secs - 11644473600) * 1000).toISOString().slice(0, -4);
  }
  return `${lastPrefix}${String(frac).padStart(7, '0')}Z`;
}

const pad = (n: number, w: number): string => String(n).padStart(w, '0');

function systemtime(b: Buffer, o: number): string {
  const r = (i: number) => b.readUInt16LE(o + 2 * i);
  return `${pad(r(0), 4)}-${pad(r(1), 2)}-${pad(r(3), 2)}T${pad(r(4), 2)}:${pad(r(5), 2)}:${pad(r(6), 2)}.${pad(r(7), 3)}0000Z`;
}

/** A SID and its byte length. */
function sid(b: Buffer, o: number, n: number): [string, number] {
  if (n < 8) fail('SID shorter than 8 bytes', o);
  const count = b[o + 1]!;
  const len = 8 + 4 * count;
  if (len > n) fail('SID longer than its value', o);
  const auth = b.readUIntBE(o + 2, 6);
  let s = `S-${b[o]}-${auth < 0x100000000 ? auth : `0x${auth.toString(16).padStart(12, '0').toUpperCase()}`}`;
  for (let i = 0; i < count; i++) s += `-${b.readUInt32LE(o + 8 + 4 * i)}`;
  return [s, len];
}

/** The shortest decimal that reads back as the same float32. */
function real32(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  for (let p = 1; p < 10; p++) {
    const s = Number(v.toPrecision(p));
    if (Math.fround(s) === v) return String(s);
  }
  return String(v);
}

/** Size of one item of the fixed-size value types (for arrays and size checks). */
const FIXED_SIZE: Record<number, number> = {
  3: 1,
  4: 1,
  5: 2,
  6: 2,
  7: 4,
  8: 4,
  9: 8,
  10: 8,
  11: 4,
  12: 8,
  13: 4,
  15: 16,
  17: 8,
  18: 16,
  20: 4,
  21: 8,
};

/** A substitution value as the text Windows renders; null for the null type. BinXml is handled by callers. */
function valueText(b: Buffer, o: number, n: number, type: number): string | null {
  if (type === 0x01) return utf16(b, o, n);
  if (type === 0x00) return null;
  const want = FIXED_SIZE[type];
  if (want !== undefined && n < want) fail(`value of type ${hex(type)} has ${n} bytes, needs ${want}`, o);
  switch (type) {
    case 0x02:
      return ansi(b, o, n);
    case 0x03:
      return String(b.readInt8(o));
    case 0x04:
      return String(b[o]);
    case 0x05:
      return String(b.readInt16LE(o));
    case 0x06:
      return String(b.readUInt16LE(o));
    case 0x07:
      return String(b.readInt32LE(o));
    case 0x08:
      return String(b.readUInt32LE(o));
    case 0x09:
      return b.readBigInt64LE(o).toString();
    case 0x0a:
      return u64(b, o);
    case 0x0b:
      return real32(b.readFloatLE(o));
    case 0x0c:
      return String(b.readDoubleLE(o));
    case 0x0d:
      return b.readInt32LE(o) !== 0 ? 'true' : 'false';
    case 0x0e:
      return b.toString('hex', o, o + n).toUpperCase();
    case 0x0f:
      return guid(b, o);
    case 0x10: // size_t: a pointer-sized integer, shown in hex
    case 0x20: // EvtHandle
      if (n >= 8) return hex64(b, o);
      if (n >= 4) return hex32(b, o);
      return fail(`size_t value of ${n} bytes`, o);
    case 0x11:
      return filetime(b, o);
    case 0x12:
      return systemtime(b, o);
    case 0x13:
      return sid(b, o, n)[0];
    case 0x14:
      return hex32(b, o);
    case 0x15:
      return hex64(b, o);
    case 0x23: // EvtXml: XML text
      return utf16(b, o, n);
    default:
      if (type & 0x80) return arrayText(b, o, n, type & 0x7f);
      return fail(`unknown value type ${hex(type)}`, o);
  }
}

/** An array value (type | 0x80) joined by commas (where it cannot repeat its element). */
const arrayText = (b: Buffer, o: number, n: number, item: number): string =>
  arrayItems(b, o, n, item).join(',');

/** The items of an array value (type | 0x80, given without the flag). */
function arrayItems(b: Buffer, o: number, n: number, item: number): string[] {
  if (item === 0x01 || item === 0x02) {
    const s = item === 0x01 ? b.toString('utf16le', o, o + (n & ~1)) : b.toString('latin1', o, o + n);
    const parts = s.split('\0');
    if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
    return parts;
  }
  const parts: string[] = [];
  if (item === 0x13) {
    for (let p = o; p < o + n; ) {
      const [s, len] = sid(b, p, o + n - p);
      parts.push(s);
      p += len;
    }
    return parts;
  }
  if (item === 0x10) item = 0x15;
  const size = FIXED_SIZE[item];
  if (size === undefined) return fail(`unsupported array type ${hex(item | 0x80)}`, o);
  for (let p = o; p + size <= o + n; p += size) parts.push(valueText(b, p, size, item)!);
  return parts;
}

// ---------------------------------------------------------------------------------------------------------
// Binary XML: templates are compiled once per chunk into a small tree with substitution slots.

class Sub {
  constructor(
    readonly index: number,
    readonly optional: boolean,
  ) {}
}

interface Attr {
  name: string;
  /** The name can be set with a plain assignment. */
  plain: boolean;
  parts: Array<string | Sub>;
}

class Elem {
  /** Substitutions standing directly in the element (its attributes and content), in document order. */
  readonly subs: number[] = [];
  /** The name can be set with a plain assignment. */
  readonly plain: boolean;
  constructor(
    readonly name: string,
    readonly attrs: Attr[],
    readonly content: Content[],
  ) {
    this.plain = plainKey(name);
    for (const c of content) if (c instanceof Sub) this.subs.push(c.index);
    for (const a of attrs) for (const p of a.parts) if (p instanceof Sub) this.subs.push(p.index);
  }
}

/**
 * A template instance with its values. Its values are read from the chunk buffer each time it is expanded:
 * an instance inside a template body (its values constants there) lives in the chunk's template cache,
 * which lasts no longer than the buffer.
 */
class Instance {
  constructor(
    readonly template: Template,
    readonly values: Values,
  ) {}
}

type Content = string | Sub | Elem | Instance;

interface Template {
  nodes: Content[];
}

const NO_CONTENT: Content[] = [];
const NO_ATTRS: Attr[] = [];

/** Per-chunk state: the buffer, and its name and template caches (keyed by chunk offset). */
class ChunkCtx {
  readonly names = new Map<number, string>();
  readonly templates = new Map<number, Template | BinXmlError>();
  depth = 0;
  constructor(
    readonly buf: Buffer,
    readonly len: number,
  ) {}

  template(offset: number): Template {
    const cached = this.templates.get(offset);
    if (cached instanceof BinXmlError) throw cached;
    if (cached) return cached;
    let t: Template;
    try {
      if (offset < CHUNK_HEADER_SIZE || offset + 24 > this.len)
        fail('template definition outside the chunk', offset);
      const end = offset + 24 + this.buf.readUInt32LE(offset + 20);
      if (end > this.len) fail('template definition runs past the chunk', offset);
      const p = new Parser(this, offset + 24, end, true);
      t = { nodes: p.fragment() };
    } catch (err) {
      const e = err instanceof BinXmlError ? err : new BinXmlError(String((err as Error).message));
      this.templates.set(offset, e);
      throw e;
    }
    this.templates.set(offset, t);
    return t;
  }
}

/** The substitution values of one template instance. */
class Values {
  constructor(
    readonly ctx: ChunkCtx,
    readonly offsets: number[],
    readonly sizes: number[],
    readonly types: number[],
  ) {}
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

class Parser {
  private readonly buf: Buffer;
  constructor(
    private readonly ctx: ChunkCtx,
    public pos: number,
    private readonly end: number,
    private readonly inTemplate: boolean,
  ) {
    this.buf = ctx.buf;
  }

  private need(n: number): void {
    if (this.pos + n > this.end) fail(`truncated Binary XML (${n} bytes needed)`, this.pos);
  }

  private u16(o: number): number {
    return this.buf[o]! | (this.buf[o + 1]! << 8);
  }

  private u32(o: number): number {
    return this.buf.readUInt32LE(o);
  }

  /** A name by chunk offset; skipped over when it is stored right here (its first use in the chunk). */
  private name(offset: number): string {
    if (offset === this.pos) {
      this.need(8);
      const n = this.u16(offset + 6);
      this.need(10 + 2 * n);
      this.pos = offset + 10 + 2 * n;
    }
    const names = this.ctx.names;
    const cached = names.get(offset);
    if (cached !== undefined) return cached;
    if (offset + 8 > this.ctx.len) fail('name outside the chunk', offset);
    const n = this.u16(offset + 6);
    if (offset + 8 + 2 * n > this.ctx.len) fail('name runs past the chunk', offset);
    const s = this.buf.toString('utf16le', offset + 8, offset + 8 + 2 * n);
    names.set(offset, s);
    return s;
  }

  /** Tokens up to the end of the stream (or of the region). */
  fragment(): Content[] {
    const out: Content[] = [];
    const buf = this.buf;
    while (this.pos < this.end) {
      const t = buf[this.pos]!;
      switch (t) {
        case 0x00:
          this.pos++;
          return out;
        case 0x0f:
          this.need(4);
          this.pos += 4;
          break;
        case 0x0c:
          out.push(this.instance());
          break;
        case 0x01:
        case 0x41:
          out.push(this.element());
          break;
        case 0x0a:
        case 0x0b:
          this.pi(t);
          break;
        default:
          this.content(t, out);
      }
    }
    return out;
  }

  /** Text, references and substitutions (what may stand in element content or an attribute value). */
  private content(t: number, out: Content[] | Array<string | Sub>): void {
    const buf = this.buf;
    switch (t) {
      case 0x05:
      case 0x45: {
        this.need(4);
        const type = buf[this.pos + 1]!;
        const n = this.u16(this.pos + 2);
        this.pos += 4;
        let s: string;
        if (type === 0x01) {
          this.need(2 * n);
          s = this.buf.toString('utf16le', this.pos, this.pos + 2 * n);
          this.pos += 2 * n;
        } else if (type === 0x02) {
          this.need(n);
          s = this.buf.toString('latin1', this.pos, this.pos + n);
          this.pos += n;
        } else s = fail(`value text of type ${hex(type)}`, this.pos - 4);
        pushText(out, s);
        return;
      }
      case 0x07:
      case 0x47: {
        this.need(3);
        const n = this.u16(this.pos + 1);
        this.pos += 3;
        this.need(2 * n);
        pushText(out, this.buf.toString('utf16le', this.pos, this.pos + 2 * n));
        this.pos += 2 * n;
        return;
      }
      case 0x08:
      case 0x48:
        this.need(3);
        pushText(out, String.fromCharCode(this.u16(this.pos + 1)));
        this.pos += 3;
        return;
      case 0x09:
      case 0x49: {
        this.need(5);
        const off = this.u32(this.pos + 1);
        this.pos += 5;
        const name = this.name(off);
        pushText(out, ENTITIES[name] ?? `&${name};`);
        return;
      }
      case 0x0d:
      case 0x0e: {
        if (!this.inTemplate) fail('substitution outside a template', this.pos);
        this.need(4);
        out.push(new Sub(this.u16(this.pos + 1), t === 0x0e));
        this.pos += 4;
        return;
      }
      default:
        fail(`unexpected token ${hex(t)}`, this.pos);
    }
  }

  /** Processing instructions are read and dropped (xmltodict drops them too). */
  private pi(t: number): void {
    if (t === 0x0a) {
      this.need(5);
      const off = this.u32(this.pos + 1);
      this.pos += 5;
      this.name(off);
    } else {
      this.need(3);
      const n = this.u16(this.pos + 1);
      this.pos += 3;
      this.need(2 * n);
      this.pos += 2 * n;
    }
  }

  private element(): Elem {
    const buf = this.buf;
    const t = buf[this.pos]!;
    // token, dependency id (2), data size (4), name offset (4)
    this.need(11);
    const nameOffset = this.u32(this.pos + 7);
    this.pos += 11;
    const name = this.name(nameOffset);
    let attrs = NO_ATTRS;
    if (t & 0x40) {
      this.need(4);
      this.pos += 4; // attribute list size
      attrs = [];
      for (;;) {
        this.need(1);
        const a = buf[this.pos]!;
        if (a !== 0x06 && a !== 0x46) break;
        this.need(5);
        const off = this.u32(this.pos + 1);
        this.pos += 5;
        const attrName = this.name(off);
        const parts: Array<string | Sub> = [];
        for (;;) {
          this.need(1);
          const v = buf[this.pos]!;
          if (!isValueToken(v)) break;
          this.content(v, parts);
        }
        attrs.push({ name: attrName, plain: plainKey(attrName), parts });
      }
    }
    this.need(1);
    const close = buf[this.pos]!;
    if (close === 0x03) {
      this.pos++;
      return new Elem(name, attrs, NO_CONTENT);
    }
    if (close !== 0x02)
      fail(`expected the end of <${name.slice(0, 40)}>'s start tag, found token ${hex(close)}`, this.pos);
    this.pos++;
    const content: Content[] = [];
    for (;;) {
      this.need(1);
      const c = buf[this.pos]!;
      switch (c) {
        case 0x04:
          this.pos++;
          return new Elem(name, attrs, content);
        case 0x01:
        case 0x41:
          content.push(this.element());
          break;
        case 0x0c:
          content.push(this.instance());
          break;
        case 0x0a:
        case 0x0b:
          this.pi(c);
          break;
        case 0x0f:
          this.need(4);
          this.pos += 4;
          break;
        default:
          this.content(c, content);
      }
    }
  }

  private instance(): Instance {
    // token, unknown (1), template id (4), definition offset (4)
    this.need(10);
    const defOffset = this.u32(this.pos + 6);
    this.pos += 10;
    const ctx = this.ctx;
    if (++ctx.depth > MAX_NESTING) fail('templates nested too deep', this.pos);
    try {
      const template = ctx.template(defOffset);
      if (defOffset === this.pos) {
        // The definition is inline (first use in this chunk): next (4), GUID (16), size (4), body.
        this.pos = defOffset + 24 + this.u32(defOffset + 20);
        if (this.pos > this.end) fail('inline template runs past its record', defOffset);
      }
      this.need(4);
      const count = this.u32(this.pos);
      this.pos += 4;
      if (count * 4 > this.end - this.pos) fail(`${count} substitution values cannot fit`, this.pos - 4);
      const offsets = new Array<number>(count);
      const sizes = new Array<number>(count);
      const types = new Array<number>(count);
      let v = this.pos + 4 * count;
      for (let i = 0; i < count; i++) {
        const d = this.pos + 4 * i;
        const size = this.u16(d);
        offsets[i] = v;
        sizes[i] = size;
        types[i] = this.buf[d + 2]!;
        v += size;
      }
      if (v > this.end) fail('substitution values run past their record', this.pos);
      this.pos = v;
      return new Instance(template, new Values(ctx, offsets, sizes, types));
    } finally {
      ctx.depth--;
    }
  }
}

const isValueToken = (t: number): boolean =>
  t === 0x05 ||
  t === 0x45 ||
  t === 0x0d ||
  t === 0x0e ||
  t === 0x08 ||
  t === 0x48 ||
  t === 0x09 ||
  t === 0x49 ||
  t === 0x07 ||
  t === 0x47;

function pushText(out: Array<Content> | Array<string | Sub>, s: string): void {
  const last = out.length - 1;
  if (last >= 0 && typeof out[last] === 'string') out[last] = (out[last] as string) + s;
  else out.push(s);
}

// ---------------------------------------------------------------------------------------------------------
// Expansion: compiled template + values -> xmltodict tree. Children are added straight into their parent
// object; a name repeated among siblings turns into an array.

type Tree = Record<string, unknown>;

/** Whether a name can be set with a plain assignment (not __proto__, constructor, toString, …). */
const plainKey = (name: string): boolean => !(name in Object.prototype);

function addChild(obj: Tree, name: string, plain: boolean, value: unknown): void {
  if (plain) {
    const prev = obj[name];
    if (prev === undefined) obj[name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else obj[name] = [prev, value];
    return;
  }
  const set = (v: unknown) =>
    Object.defineProperty(obj, name, { value: v, enumerable: true, writable: true });
  if (!Object.hasOwn(obj, name)) set(value);
  else {
    const prev = obj[name];
    if (Array.isArray(prev)) prev.push(value);
    else set([prev, value]);
  }
}

/** The elements of a node list, added to `obj` (text outside any element has no place in the tree). */
function expandInto(obj: Tree, nodes: Content[], values: Values | undefined): void {
  for (const node of nodes) {
    if (node instanceof Elem) buildInto(obj, node, values);
    else if (node instanceof Instance) expandInto(obj, node.template.nodes, node.values);
    else if (node instanceof Sub && values && values.types[node.index] === 0x21)
      expandBinXml(obj, values, node.index);
  }
}

/** A substituted Binary XML value: a fragment of its own, expanded in place. */
function expandBinXml(obj: Tree, values: Values, i: number): void {
  const ctx = values.ctx;
  const size = values.sizes[i]!;
  if (size === 0) return;
  if (++ctx.depth > MAX_NESTING) fail('Binary XML nested too deep', values.offsets[i]!);
  try {
    const start = values.offsets[i]!;
    const p = new Parser(ctx, start, start + size, false);
    expandInto(obj, p.fragment(), undefined);
  } finally {
    ctx.depth--;
  }
}

function subText(values: Values | undefined, i: number, over: number, item: string): string | null {
  if (i === over) return item;
  if (!values || i >= values.types.length) return null;
  const type = values.types[i]!;
  if (type === 0x21) return '';
  return valueText(values.ctx.buf, values.offsets[i]!, values.sizes[i]!, type);
}

/**
 * An element, added to its parent, or several: an array value standing directly in an element repeats the
 * element once per item (MS-EVEN6 3.1.4.7.5), as classic events' insertion strings become one <Data> each.
 * Only the first such array repeats the element; any other array in it is joined by commas.
 */
function buildInto(obj: Tree, e: Elem, values: Values | undefined): void {
  if (values && e.subs.length > 0) {
    const types = values.types;
    for (const i of e.subs) {
      const type = types[i];
      if (type === undefined || (type & 0x80) === 0) continue;
      const items = arrayItems(values.ctx.buf, values.offsets[i]!, values.sizes[i]!, type & 0x7f);
      if (items.length < 2) continue;
      for (const item of items) addChild(obj, e.name, e.plain, build(e, values, i, item));
      return;
    }
  }
  addChild(obj, e.name, e.plain, build(e, values, -1, ''));
}

/** One element's value; substitution `over` (if not -1) stands for `item`, one item of an array value. */
function build(e: Elem, values: Values | undefined, over: number, item: string): unknown {
  if (--budget < 0) throw new BinXmlError(`record expands to more than ${MAX_ELEMENTS} elements`);
  let out: Tree | undefined;
  const attrs = e.attrs;
  if (attrs.length > 0) {
    let map: Tree | undefined;
    for (let a = 0; a < attrs.length; a++) {
      const attr = attrs[a]!;
      const parts = attr.parts;
      let s = '';
      let present = parts.length === 0;
      for (let j = 0; j < parts.length; j++) {
        const p = parts[j]!;
        if (typeof p === 'string') {
          s += p;
          present = true;
        } else {
          const v = subText(values, p.index, over, item);
          if (v !== null) {
            s += v;
            present = true;
          } else if (!p.optional) present = true;
        }
      }
      if (present) {
        map ??= {};
        if (attr.plain) map[attr.name] = s;
        else addChild(map, attr.name, false, s);
      }
    }
    if (map) out = { '#attributes': map };
  }
  let text = '';
  const content = e.content;
  for (let k = 0; k < content.length; k++) {
    const c = content[k]!;
    if (typeof c === 'string') text += c;
    else if (c instanceof Sub) {
      if (values !== undefined && values.types[c.index] === 0x21) {
        out ??= {};
        expandBinXml(out, values, c.index);
      } else {
        const v = subText(values, c.index, over, item);
        if (v !== null) text += v;
      }
    } else if (c instanceof Elem) {
      out ??= {};
      buildInto(out, c, values);
    } else {
      out ??= {};
      expandInto(out, c.template.nodes, c.values);
    }
  }
  if (out === undefined) return text === '' ? null : text;
  if (text !== '') out['#text'] = text;
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Chunks and records

function isZero(buf: Buffer, len: number): boolean {
  for (let i = 0; i < len; i++) if (buf[i] !== 0) return false;
  return true;
}

const CHUNK_MAGIC = Buffer.from('ElfChnk\0', 'latin1');
const FILE_MAGIC = Buffer.from('ElfFile\0', 'latin1');

/** Next plausible record header at or after `from` (signature, sane size, size repeated at its end). */
function resync(buf: Buffer, from: number, end: number, limit: number): number {
  for (let p = from; p + 28 <= end; p++) {
    if (buf[p] !== 0x2a || buf[p + 1] !== 0x2a || buf[p + 2] !== 0 || buf[p + 3] !== 0) continue;
    const size = buf.readUInt32LE(p + 4);
    if (size >= 28 && p + size <= limit && buf.readUInt32LE(p + size - 4) === size) return p;
  }
  return -1;
}

// Templates may nest templates: a crafted file could make a record expand exponentially. Real records have
// tens of elements; each record gets this many.
const MAX_ELEMENTS = 100_000;
let budget = 0;

function parseRecord(ctx: ChunkCtx, pos: number, size: number): unknown {
  budget = MAX_ELEMENTS;
  const p = new Parser(ctx, pos + 24, pos + size - 4, false);
  const out: Tree = {};
  expandInto(out, p.fragment(), undefined);
  if (Object.keys(out).length === 0) fail('record holds no element', pos + 24);
  return out;
}

/** Every item of one chunk slot; none for an unused (all-zero) slot. */
function parseChunk(buf: Buffer, len: number, index: number, fileOffset: number): EvtxItem[] {
  const items: EvtxItem[] = [];
  const where = `chunk ${index} at file offset ${hex(fileOffset)}`;
  const chunkError = (msg: string) =>
    items.push({
      recordId: 0,
      offset: fileOffset,
      chunk: index,
      error: `EVTX chunk damaged: ${where}: ${msg}`,
    });
  if (len < CHUNK_HEADER_SIZE) {
    chunkError(`file ends ${len} bytes into the chunk`);
    return items;
  }
  const storedHeaderCrc = buf.readUInt32LE(124);
  const headerCrc = crc32(buf, 128, CHUNK_HEADER_SIZE, crc32(buf, 0, 120));
  if (storedHeaderCrc !== headerCrc) chunkError('header CRC mismatch');
  const truncated = len < CHUNK_SIZE;
  if (truncated) chunkError(`truncated: the file ends ${len} bytes into the chunk`);
  const freeSpace = buf.readUInt32LE(48);
  const freeSpaceValid = freeSpace >= CHUNK_HEADER_SIZE && freeSpace <= len;
  if (!freeSpaceValid && storedHeaderCrc === headerCrc && !(truncated && freeSpace <= CHUNK_SIZE))
    chunkError(`free-space offset ${hex(freeSpace)} outside the chunk; records read to its end`);
  const dataEnd = freeSpaceValid ? freeSpace : len;
  if (freeSpaceValid && buf.readUInt32LE(52) !== crc32(buf, CHUNK_HEADER_SIZE, freeSpace))
    chunkError('record data CRC mismatch: its records may be damaged');

  const ctx = new ChunkCtx(buf, len);
  let pos = CHUNK_HEADER_SIZE;
  let lastId = -1;
  for (;;) {
    // A chunk header written before its last records (a log copied while in use) ends them early: records
    // past its free-space offset are read while they carry on the numbering.
    if (pos + 24 > dataEnd && !(lastId >= 0 && continues(buf, pos, len, lastId))) break;
    const magic = buf.readUInt32LE(pos);
    const size = buf.readUInt32LE(pos + 4);
    if (
      magic !== RECORD_MAGIC ||
      size < 28 ||
      pos + size > (pos + 24 > dataEnd ? len : dataEnd) ||
      buf.readUInt32LE(pos + size - 4) !== size
    ) {
      if (!freeSpaceValid && magic === 0) break; // end of the records when the header cannot say
      if (truncated && magic === RECORD_MAGIC && pos + size > len && size <= CHUNK_SIZE) {
        const id = pos + 16 <= len ? buf.readUInt32LE(pos + 12) * 0x100000000 + buf.readUInt32LE(pos + 8) : 0;
        items.push({
          recordId: id,
          offset: fileOffset + pos,
          chunk: index,
          error: `EVTX record damaged: ${where}, record ${id} at chunk offset ${hex(pos)}: cut off by the end of the file`,
        });
        break;
      }
      const next = resync(buf, pos + 1, dataEnd, dataEnd);
      const skipped = (next < 0 ? dataEnd : next) - pos;
      items.push({
        recordId: 0,
        offset: fileOffset + pos,
        chunk: index,
        error: `EVTX record damaged: ${where}, chunk offset ${hex(pos)}: bad record header (signature ${hex(magic)}, size ${size}); ${skipped} bytes skipped`,
      });
      if (next < 0) break;
      pos = next;
      continue;
    }
    const idLo = buf.readUInt32LE(pos + 8);
    const idHi = buf.readUInt32LE(pos + 12);
    const recordId = idHi * 0x100000000 + idLo;
    try {
      items.push({ recordId, value: parseRecord(ctx, pos, size), offset: fileOffset + pos, chunk: index });
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      items.push({
        recordId,
        offset: fileOffset + pos,
        chunk: index,
        error: `EVTX record damaged: ${where}, record ${recordId} at chunk offset ${hex(pos)}: ${msg}`,
      });
    }
    lastId = recordId;
    pos += size;
  }
  return items;
}

/** Whether a sound record header numbered lastId + 1 stands at pos. */
function continues(buf: Buffer, pos: number, len: number, lastId: number): boolean {
  if (pos + 28 > len || buf.readUInt32LE(pos) !== RECORD_MAGIC) return false;
  const size = buf.readUInt32LE(pos + 4);
  if (size < 28 || pos + size > len || buf.readUInt32LE(pos + size - 4) !== size) return false;
  return buf.readUInt32LE(pos + 12) * 0x100000000 + buf.readUInt32LE(pos + 8) === lastId + 1;
}

async function readFull(
  fh: import('node:fs/promises').FileHandle,
  buf: Buffer,
  position: number,
): Promise<number> {
  let got = 0;
  while (got < buf.length) {
    const { bytesRead } = await fh.read(buf, got, buf.length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got;
}

/**
 * Every record of an .evtx file, in file order, as {"Event": …} trees; damaged chunks and records as items
 * with `error`. Throws only when the file cannot be opened.
 */
export async function* readEvtx(path: string): AsyncGenerator<EvtxItem> {
  const fh = await open(path, 'r');
  let pending: Promise<number> | undefined;
  try {
    let size: number;
    const header = Buffer.alloc(FILE_HEADER_SIZE);
    let got: number;
    try {
      size = (await fh.stat()).size;
      got = await readFull(fh, header, 0);
    } catch (err) {
      yield { recordId: 0, offset: 0, error: `EVTX read error: ${(err as Error).message}` };
      return;
    }
    if (got < FILE_MAGIC.length || !header.subarray(0, 8).equals(FILE_MAGIC))
      yield {
        recordId: 0,
        offset: 0,
        error:
          'EVTX file header damaged: no ElfFile signature (not an EVTX file?); looking for chunks anyway',
      };
    const slots = size > FILE_HEADER_SIZE ? Math.ceil((size - FILE_HEADER_SIZE) / CHUNK_SIZE) : 0;
    const bufs = [Buffer.allocUnsafe(CHUNK_SIZE), Buffer.allocUnsafe(CHUNK_SIZE)];
    const readSlot = (i: number) => readFull(fh, bufs[i & 1]!, FILE_HEADER_SIZE + i * CHUNK_SIZE);
    // Consecutive slots without a chunk signature are reported once.
    let badFrom = -1;
    const flushBad = (upTo: number): EvtxItem | undefined => {
      if (badFrom < 0) return undefined;
      const from = badFrom;
      badFrom = -1;
      const off = FILE_HEADER_SIZE + from * CHUNK_SIZE;
      const which = upTo - 1 === from ? `chunk ${from}` : `chunks ${from}-${upTo - 1}`;
      return {
        recordId: 0,
        offset: off,
        chunk: from,
        error: `EVTX chunk damaged: ${which} at file offset ${hex(off)}: no ElfChnk signature; skipped`,
      };
    };
    if (slots > 0) pending = readSlot(0);
    for (let i = 0; i < slots; i++) {
      let len: number;
      try {
        len = await pending!;
      } catch (err) {
        pending = undefined;
        yield {
          recordId: 0,
          offset: FILE_HEADER_SIZE + i * CHUNK_SIZE,
          chunk: i,
          error: `EVTX read error: ${(err as Error).message}`,
        };
        return;
      }
      const buf = bufs[i & 1]!;
      pending = i + 1 < slots ? readSlot(i + 1) : undefined;
      const offset = FILE_HEADER_SIZE + i * CHUNK_SIZE;
      if (len < CHUNK_MAGIC.length || !buf.subarray(0, 8).equals(CHUNK_MAGIC)) {
        if (isZero(buf, len)) {
          const bad = flushBad(i);
          if (bad) yield bad;
        } else if (badFrom < 0) badFrom = i;
        continue;
      }
      const bad = flushBad(i);
      if (bad) yield bad;
      for (const item of parseChunk(buf, len, i, offset)) yield item;
    }
    const bad = flushBad(slots);
    if (bad) yield bad;
  } finally {
    await pending?.catch(() => undefined);
    await fh.close();
  }
}

/** How a substitution value of `type` holding `bytes` reads (for tests); null for the null type. */
export function evtxValueText(bytes: Buffer, type: number): string | null {
  return valueText(bytes, 0, bytes.length, type);
}
