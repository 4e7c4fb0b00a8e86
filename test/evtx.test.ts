// The native EVTX reader (ingest/evtx.ts) on every .evtx of the corpus, checked record by record against an
// independent reader (Debian's python3-evtx, through test/evtx_reference.py) and against the evtx_dump JSON
// that SigmaHQ ships beside its regression EVTX; then on damaged copies, on synthetic Binary XML that
// exercises what the corpus does not (CDATA, references, optional and nested substitutions, arrays), and
// through readInput and the format registry.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { type EvtxItem, evtxValueText, readEvtx } from '../ingest/evtx.ts';
import { detectFormat, loadFormats } from '../ingest/formats/index.ts';
import { expandInputs, readInput } from '../ingest/read.ts';
import { corpus, ROOT } from './helpers.ts';

type Tree = Record<string, unknown>;
const isTree = (v: unknown): v is Tree => typeof v === 'object' && v !== null && !Array.isArray(v);

function evtxFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...evtxFiles(p));
    else if (e.name.toLowerCase().endsWith('.evtx')) out.push(p);
  }
  return out.sort();
}

async function readAll(path: string): Promise<EvtxItem[]> {
  const items: EvtxItem[] = [];
  for await (const item of readEvtx(path)) items.push(item);
  return items;
}

// ---------------------------------------------------------------------------------------------------------
// The reference reader

interface Ref {
  file: string;
  error?: string;
  /** With --count: the file's number of records. */
  count?: number;
  recordId: number;
  eventRecordId: string | null;
  provider: string | null;
  eventId: string | null;
  timeCreated: string | null;
  computer: string | null;
  channel: string | null;
  data: Array<[string | null, string]>;
  eventDataOther: Array<[string, string]>;
  userData: Array<[string, string]>;
}

const PYTHON = '/usr/bin/python3';

function reference(files: string[], mode: 'render' | 'count' = 'render'): Ref[] {
  if (files.length === 0) return [];
  try {
    execFileSync(PYTHON, ['-c', 'import Evtx.Evtx'], { stdio: 'pipe' });
  } catch {
    assert.fail(
      'python3-evtx is missing: the EVTX reader is checked against it. Install it with ' +
        '`apt-get install -y python3-evtx` (scripts/ensure-deps.sh does so when run as root).',
    );
  }
  const args = [join(ROOT, 'test', 'evtx_reference.py'), ...(mode === 'count' ? ['--count'] : []), ...files];
  const out = execFileSync(PYTHON, args, {
    encoding: 'utf8',
    maxBuffer: 512 << 20,
  });
  return out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Ref);
}

// ---------------------------------------------------------------------------------------------------------
// Our tree seen the way the reference reports a record

const text = (v: unknown): string => {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  return isTree(v) && typeof v['#text'] === 'string' ? v['#text'] : '';
};
const attr = (v: unknown, k: string): string | undefined =>
  isTree(v) && isTree(v['#attributes']) ? (v['#attributes'][k] as string | undefined) : undefined;

/** Leaves and attributes as [path, text], like the reference's flatten (xmlns declarations are not attributes). */
function flatten(name: string, v: unknown, path: string, out: Array<[string, string]>): void {
  const p = `${path}/${name}`;
  if (Array.isArray(v)) {
    for (const x of v) flatten(name, x, path, out);
    return;
  }
  if (!isTree(v)) {
    out.push([p, text(v)]);
    return;
  }
  const attrs = isTree(v['#attributes']) ? v['#attributes'] : {};
  for (const [k, a] of Object.entries(attrs))
    if (k !== 'xmlns' && !k.startsWith('xmlns:')) out.push([`${p}/@${k}`, String(a)]);
  const kids = Object.keys(v).filter((k) => !k.startsWith('#'));
  if (kids.length > 0) for (const k of kids) flatten(k, v[k], p, out);
  else out.push([p, text(v)]);
}

function view(item: EvtxItem): Omit<Ref, 'file'> {
  const ev = (item.value as Tree).Event as Tree;
  const sys = ev.System as Tree;
  const data: Array<[string | null, string]> = [];
  const other: Array<[string, string]> = [];
  const ed = ev.EventData;
  if (isTree(ed)) {
    const list = ed.Data === undefined ? [] : Array.isArray(ed.Data) ? ed.Data : [ed.Data];
    for (const d of list) data.push([attr(d, 'Name') ?? null, text(d)]);
    for (const [k, v] of Object.entries(ed)) if (k !== 'Data' && !k.startsWith('#')) flatten(k, v, '', other);
  }
  const userData: Array<[string, string]> = [];
  if (isTree(ev.UserData))
    for (const [k, v] of Object.entries(ev.UserData)) if (!k.startsWith('#')) flatten(k, v, '', userData);
  return {
    recordId: item.recordId,
    eventRecordId: text(sys.EventRecordID),
    provider: attr(sys.Provider, 'Name') ?? null,
    eventId: text(sys.EventID),
    timeCreated: attr(sys.TimeCreated, 'SystemTime') ?? null,
    computer: text(sys.Computer),
    channel: text(sys.Channel),
    data,
    eventDataOther: other,
    userData,
  };
}

// ---------------------------------------------------------------------------------------------------------
// What python-evtx renders differently from Windows, and how each difference is set aside. Our side is
// what Windows shows (Event Viewer's XML view, wevtutil): the reference is normalised towards it only where
// its rendering is known to differ, and every rule is counted so a run shows which ones were needed.

const used = new Map<string, number>();
const note = (rule: string): true => {
  used.set(rule, (used.get(rule) ?? 0) + 1);
  return true;
};

/** Microseconds since 1970 of our 2019-06-15T07:13:42.2941098Z or python-evtx's 2019-06-15 07:13:42.294109. */
function micros(s: string): number | undefined {
  const m = /^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.(\d{1,7}))?Z?$/.exec(s);
  if (!m) return undefined;
  const secs = Date.parse(`${m[1]}T${m[2]}Z`);
  if (Number.isNaN(secs)) return undefined;
  return secs * 1000 + Number(`${m[3] ?? ''}0000000`.slice(0, 7)) / 10;
}

// python-evtx drops these characters from values when it escapes them for XML.
// biome-ignore lint/suspicious/noControlCharactersInRegex: python-evtx's own list of the characters it drops
const RESTRICTED = /[\x01-\x08\x0B\x0C\x0E-\x1F\x7F-\x84\x86-\x9F]/g;

function same(ours: string, py: string): boolean {
  if (ours === py) return true;
  // XML parsing turns CR LF into LF (XML end-of-line handling), and python-evtx strips control characters.
  const o = ours.replace(/\r\n?/g, '\n').replace(RESTRICTED, '');
  if (o === py) return note('line ends and control characters (XML rendering of the reference)');
  // GUIDs: Windows shows them upper-case in braces, python-evtx lower-case.
  if (/^\{[0-9A-F]{8}(-[0-9A-F]{4}){3}-[0-9A-F]{12}\}$/.test(ours) && ours.toLowerCase() === py)
    return note('GUID case (python-evtx lower-case)');
  // Booleans: Windows true/false, python-evtx True/False.
  if ((ours === 'true' && py === 'True') || (ours === 'false' && py === 'False'))
    return note('boolean case (python-evtx True/False)');
  // HexInt32/64: Windows 0x3e7, python-evtx zero-pads to the type's width; size_t: Windows hex, python decimal.
  if (/^0x[0-9a-f]+$/.test(ours) && /^(0x[0-9a-f]+|\d+)$/.test(py) && BigInt(ours) === BigInt(py))
    return note(py.startsWith('0x') ? 'hex zero padding (python-evtx)' : 'size_t in decimal (python-evtx)');
  // FILETIME: python-evtx converts through a float (microseconds, a few off) and prints "YYYY-MM-DD hh:mm:ss".
  const a = micros(ours);
  const b = micros(py);
  if (a !== undefined && b !== undefined && /T.*Z$/.test(ours) && Math.abs(a - b) <= 3)
    return note('FILETIME via float, space separator (python-evtx)');
  // Binary: Windows shows hex, python-evtx base64.
  if (/^([0-9A-F]{2})+$/.test(ours) && Buffer.from(py, 'base64').toString('hex').toUpperCase() === ours)
    return note('binary as base64 (python-evtx)');
  return false;
}

/**
 * python-evtx renders a string array inside its one element as <string>item</string> markup (escaped into
 * the text); Windows repeats the element once per item (MS-EVEN6 3.1.4.7.5), as we do.
 */
function expandPyArrays(data: Array<[string | null, string]>): Array<[string | null, string]> {
  const out: Array<[string | null, string]> = [];
  for (const [name, value] of data) {
    if (/^(<string>[\s\S]*?<\/string>\n)+$/.test(value)) {
      note('string array as <string> markup (python-evtx)');
      for (const m of value.matchAll(/<string>([\s\S]*?)<\/string>\n/g)) out.push([name, m[1]!]);
    } else out.push([name, value]);
  }
  return out;
}

function compareRecord(ours: Omit<Ref, 'file'>, ref: Ref, where: string, diffs: string[]): void {
  const check = (field: string, a: string | null, b: string | null) => {
    if (a === b) return;
    if (a !== null && b !== null && same(a, b)) return;
    diffs.push(`${where} ${field}: ours ${JSON.stringify(a)}, python-evtx ${JSON.stringify(b)}`);
  };
  if (ours.recordId !== ref.recordId)
    diffs.push(`${where} record id: ours ${ours.recordId}, python-evtx ${ref.recordId}`);
  check('EventRecordID', ours.eventRecordId, ref.eventRecordId);
  check('Provider', ours.provider, ref.provider);
  check('EventID', ours.eventId, ref.eventId);
  check('TimeCreated', ours.timeCreated, ref.timeCreated);
  check('Computer', ours.computer, ref.computer);
  check('Channel', ours.channel, ref.channel);
  const refData = expandPyArrays(ref.data);
  if (ours.data.length !== refData.length)
    diffs.push(`${where} EventData: ${ours.data.length} Data elements, python-evtx ${refData.length}`);
  else
    for (const [i, [name, value]] of ours.data.entries()) {
      const [rName, rValue] = refData[i]!;
      check(`Data[${i}] name`, name, rName);
      check(`Data ${name ?? i}`, value, rValue);
    }
  const pairs = (label: string, a: Array<[string, string]>, b: Array<[string, string]>) => {
    const sa = [...a].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
    const sb = [...b].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
    if (sa.length !== sb.length || sa.some(([p], i) => p !== sb[i]![0]))
      diffs.push(`${where} ${label}: ours ${JSON.stringify(sa)}, python-evtx ${JSON.stringify(sb)}`);
    else for (const [i, [p, v]] of sa.entries()) check(`${label} ${p}`, v, sb[i]![1]);
  };
  pairs('EventData', ours.eventDataOther, ref.eventDataOther);
  pairs('UserData', ours.userData, ref.userData);
}

/** python3-evtx renders about 180 records/s: files larger than this are counted by it, not compared. */
const MAX_COMPARED = 2000;

test('every corpus .evtx reads completely, and every record matches python3-evtx', async (t) => {
  const c = corpus();
  if (c.skip) return t.skip(c.skip);
  const files = evtxFiles(join(c.path!, 'windows'));
  assert.ok(files.length >= 20, `only ${files.length} .evtx files under ${c.path}/windows`);
  const ours = new Map<string, EvtxItem[]>();
  for (const file of files) {
    const items = await readAll(file);
    assert.deepEqual(
      items.filter((i) => i.error !== undefined).map((e) => e.error),
      [],
      `${basename(file)}: reader errors`,
    );
    ours.set(file, items);
  }
  const small = files.filter((f) => ours.get(f)!.length <= MAX_COMPARED);
  const large = files.filter((f) => ours.get(f)!.length > MAX_COMPARED);
  const refs = reference(small);
  const counts = reference(large, 'count');
  assert.deepEqual(
    [...refs, ...counts].filter((r) => r.error),
    [],
    'python3-evtx failed on a corpus file',
  );
  const diffs: string[] = [];
  let total = 0;
  for (const file of files) {
    const items = ours.get(file)!;
    const fileRefs = refs.filter((r) => r.file === file);
    const theirs = large.includes(file) ? counts.find((r) => r.file === file)?.count : fileRefs.length;
    assert.equal(items.length, theirs, `${basename(file)}: ${items.length} records, python-evtx ${theirs}`);
    if (large.includes(file))
      t.diagnostic(`${basename(file)}: ${items.length} records (counted, not compared)`);
    else {
      for (const [i, item] of items.entries())
        compareRecord(view(item), fileRefs[i]!, `${basename(file)} #${item.recordId}`, diffs);
      t.diagnostic(`${basename(file)}: ${items.length} records`);
    }
    total += items.length;
  }
  for (const [rule, n] of used) t.diagnostic(`normalised ${n}×: ${rule}`);
  assert.deepEqual(diffs.slice(0, 50), [], `${diffs.length} differences from python3-evtx`);
  assert.ok(total >= 1000, `${total} records in the corpus`);
});

/**
 * Where SigmaHQ's JSON does not say what its EVTX holds: [in the EVTX, in the JSON]. The EVTX's own UTF-16
 * bytes, python3-evtx and this reader agree on the first.
 */
const JSON_NOT_FROM_THIS_EVTX: Record<string, Record<string, [string, string]>> = {
  'proc_creation_win_susp_right_to_left_override__ad691d92-15f2-4181-9aa4-723c74f9ddc3': {
    ParentCommandLine: ['C:\\Windows\\Explorer.EXE', 'C:\\Windows\\Explorer.exe'],
  },
};

test('the evtx_dump JSON SigmaHQ ships beside its EVTX: same System and EventData', async (t) => {
  const c = corpus();
  if (c.skip) return t.skip(c.skip);
  const dir = join(c.path!, 'windows', 'sigma-regression');
  const stems = readdirSync(dir)
    .filter((f) => f.endsWith('.evtx') && existsSync(join(dir, `${f.slice(0, -5)}.json`)))
    .map((f) => f.slice(0, -5));
  assert.ok(stems.length >= 8);
  // evtx_dump writes numbers as JSON numbers, GUIDs without Windows' braces, SystemTime with 6 or 9 digits (ours
  // has the 7 a FILETIME holds), and trims text (Sysmon's CommandLine often ends in a space, which Windows
  // and python3-evtx keep): those are brought to one form, nothing else.
  const GUID = /^[0-9A-F]{8}(-[0-9A-F]{4}){3}-[0-9A-F]{12}$/;
  const norm = (v: unknown): unknown => {
    if (typeof v === 'number') return String(v);
    if (typeof v === 'string') return GUID.test(v) ? `{${v}}` : v;
    if (Array.isArray(v)) return v.map(norm);
    if (isTree(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, norm(x)]));
    return v;
  };
  for (const stem of stems) {
    const items = await readAll(join(dir, `${stem}.evtx`));
    assert.equal(items.length, 1, stem);
    const ours = (items[0]!.value as Tree).Event as Tree;
    const theirs = norm((JSON.parse(readFileSync(join(dir, `${stem}.json`), 'utf8')) as Tree).Event) as Tree;
    const sys = structuredClone(ours.System) as Tree;
    const tc = (sys.TimeCreated as Tree)['#attributes'] as Tree;
    assert.match(tc.SystemTime as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/);
    // SigmaHQ's files come from evtx_dump versions printing 6 or 9 digits: compare the digits both have.
    const theirTc = ((theirs.System as Tree).TimeCreated as Tree)['#attributes'] as Tree;
    const [, theirBase, theirFrac] = /^(.*\.)(\d+)Z$/.exec(theirTc.SystemTime as string)!;
    const digits = Math.min(7, theirFrac!.length);
    assert.match(theirFrac!.slice(7), /^0*$/);
    tc.SystemTime = (tc.SystemTime as string).slice(0, 20 + digits);
    theirTc.SystemTime = `${theirBase}${theirFrac!.slice(0, digits)}`;
    assert.deepEqual(sys, theirs.System, stem);
    assert.deepEqual(ours['#attributes'], theirs['#attributes'], stem);
    const data = Object.fromEntries(view(items[0]!).data.map(([k, v]) => [k, v.trim()]));
    const expected = { ...(theirs.EventData as Tree) };
    for (const [field, [inEvtx, inJson]] of Object.entries(JSON_NOT_FROM_THIS_EVTX[stem] ?? {})) {
      assert.equal(expected[field], inJson, `${stem} ${field}`);
      assert.equal(data[field], inEvtx, `${stem} ${field}`);
      expected[field] = inEvtx;
    }
    assert.deepEqual(data, expected, stem);
  }
});

// ---------------------------------------------------------------------------------------------------------
// Damage

const FILE_HEADER = 0x1000;
const CHUNK = 0x10000;

function tmpCopy(src: string, name: string, edit: (b: Buffer) => Buffer | undefined): string {
  const dir = mkdtempSync(join(tmpdir(), 'lh-evtx-'));
  const b = readFileSync(src);
  const out = edit(b) ?? b;
  const p = join(dir, name);
  writeFileSync(p, out);
  return p;
}

const byId = (items: EvtxItem[]) => new Map(items.filter((i) => !i.error).map((i) => [i.recordId, i]));

test('damaged copies: errors are reported with their chunk and offset, everything else is still read', async (t) => {
  const c = corpus();
  if (c.skip) return t.skip(c.skip);
  const src = join(c.path!, 'windows', 'hayabusa-sample-evtx', 'PanacheSysmon_vs_AtomicRedTeam01.evtx');
  const clean = await readAll(src);
  assert.ok(clean.every((i) => !i.error));
  const cleanIds = byId(clean);
  const inChunk = (n: number) => clean.filter((i) => i.chunk === n);
  assert.ok(inChunk(1).length > 10 && inChunk(2).length > 10 && inChunk(3).length > 10);

  // 1. Flipped bytes in the middle of chunk 1's records.
  const hitAt = FILE_HEADER + CHUNK + 0x200 + 0x6000;
  const flipped = await readAll(
    tmpCopy(src, 'flipped.evtx', (b) => {
      for (let i = 0; i < 48; i++) b[hitAt + i]! ^= 0x5a;
      return b;
    }),
  );
  const errors = flipped.filter((i) => i.error);
  assert.ok(
    errors.some(
      (e) => e.chunk === 1 && /chunk 1 at file offset 0x11000: record data CRC mismatch/.test(e.error!),
    ),
  );
  for (const e of errors) assert.equal(e.chunk, 1, `only chunk 1 is damaged: ${e.error}`);
  const got = byId(flipped);
  for (const item of clean)
    if (item.chunk !== 1)
      assert.deepEqual(got.get(item.recordId)?.value, item.value, `record ${item.recordId}`);
  // In chunk 1, the records before the damage are intact, and so are most after it.
  const chunk1 = inChunk(1);
  const hitRecord = chunk1.filter((i) => i.offset <= hitAt).at(-1)!;
  let intact = 0;
  for (const item of chunk1) {
    const mine = got.get(item.recordId);
    if (item.offset < hitRecord.offset) assert.deepEqual(mine?.value, item.value, `record ${item.recordId}`);
    if (mine && JSON.stringify(mine.value) === JSON.stringify(item.value)) intact++;
  }
  assert.ok(intact >= chunk1.length / 2, `${intact} of ${chunk1.length} records of the damaged chunk intact`);
  t.diagnostic(
    `flipped bytes: ${errors.length} errors, ${intact}/${chunk1.length} records of chunk 1 intact`,
  );

  // 2. A chunk whose signature is gone is skipped whole, and said so.
  const noMagic = await readAll(
    tmpCopy(src, 'nomagic.evtx', (b) => {
      b.write('XXXXXXX', FILE_HEADER + 2 * CHUNK, 'latin1');
      return b;
    }),
  );
  const nm = noMagic.filter((i) => i.error);
  assert.equal(nm.length, 1);
  assert.match(nm[0]!.error!, /chunk 2 at file offset 0x21000: no ElfChnk signature/);
  assert.equal(noMagic.length - 1, clean.length - inChunk(2).length);
  for (const item of noMagic.filter((i) => !i.error))
    assert.deepEqual(item.value, cleanIds.get(item.recordId)!.value);

  // 3. A record whose size field is broken: the reader finds the next record of the chunk.
  const victim = inChunk(3)[5]!;
  const badSize = await readAll(
    tmpCopy(src, 'badsize.evtx', (b) => {
      b.writeUInt32LE(0xfffff, victim.offset + 4);
      return b;
    }),
  );
  const bs = badSize.filter((i) => i.error);
  assert.ok(
    bs.some((e) => /bad record header/.test(e.error!) && e.offset === victim.offset),
    JSON.stringify(bs),
  );
  const bsIds = byId(badSize);
  assert.ok(!bsIds.has(victim.recordId));
  for (const item of clean)
    if (item.recordId !== victim.recordId)
      assert.ok(bsIds.has(item.recordId), `record ${item.recordId} lost`);

  // 4. A file cut short in the middle of a chunk: what is there is read, the cut is reported.
  const cutAt = FILE_HEADER + 4 * CHUNK + 0x5000;
  const cut = await readAll(tmpCopy(src, 'cut.evtx', (b) => b.subarray(0, cutAt)));
  assert.ok(cut.some((i) => i.error && i.chunk === 4 && /truncated/.test(i.error)));
  const before = clean.filter((i) => i.chunk! < 4);
  const cutIds = byId(cut);
  for (const item of before) assert.deepEqual(cutIds.get(item.recordId)?.value, item.value);
  const kept4 = cut.filter((i) => !i.error && i.chunk === 4);
  assert.ok(kept4.length > 0 && kept4.length < inChunk(4).length);
  for (const item of kept4) assert.ok(item.offset + 8 < cutAt);
});

test('not EVTX at all, an empty file, and a missing file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lh-evtx-'));
  const junk = join(dir, 'junk.evtx');
  writeFileSync(junk, Buffer.alloc(3 * CHUNK + FILE_HEADER, 'not an event log '));
  const items = await readAll(junk);
  assert.equal(items.length, 2);
  assert.match(items[0]!.error!, /no ElfFile signature/);
  assert.match(items[1]!.error!, /chunks 0-2 at file offset 0x1000: no ElfChnk signature/);
  const empty = join(dir, 'empty.evtx');
  writeFileSync(empty, '');
  assert.equal((await readAll(empty)).length, 1);
  await assert.rejects(readAll(join(dir, 'missing.evtx')), /ENOENT/);
});

// ---------------------------------------------------------------------------------------------------------
// Value types, as Windows renders them

test('every value type renders as Windows shows it', () => {
  const le = (bytes: number[]) => Buffer.from(bytes);
  const u64 = (v: bigint) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(v);
    return b;
  };
  const filetime = (iso: string, extraTicks: bigint) =>
    u64((BigInt(Date.parse(iso)) / 1000n + 11644473600n) * 10000000n + extraTicks);
  const cases: Array<[number, Buffer, string | null]> = [
    [0x00, Buffer.alloc(0), null],
    [0x01, Buffer.from('C:\\Windows\\x.exe\0', 'utf16le'), 'C:\\Windows\\x.exe'],
    [0x01, Buffer.from('no terminator', 'utf16le'), 'no terminator'],
    [0x02, Buffer.from('ansi\0', 'latin1'), 'ansi'],
    [0x03, le([0xff]), '-1'],
    [0x04, le([0xff]), '255'],
    [0x05, le([0xfe, 0xff]), '-2'],
    [0x06, le([0xfe, 0xff]), '65534'],
    [0x07, le([0xfd, 0xff, 0xff, 0xff]), '-3'],
    [0x08, le([0xff, 0xff, 0xff, 0xff]), '4294967295'],
    [0x09, u64(0xfffffffffffffffbn), '-5'],
    [0x0a, u64(0xffffffffffffffffn), '18446744073709551615'],
    [0x0a, u64(7648n), '7648'],
    [0x0b, le([0, 0, 0xc0, 0x3f]), '1.5'],
    [0x0b, le([0xcd, 0xcc, 0xcc, 0x3d]), '0.1'],
    [0x0c, le([0x9a, 0x99, 0x99, 0x99, 0x99, 0x99, 0xb9, 0x3f]), '0.1'],
    [0x0d, le([1, 0, 0, 0]), 'true'],
    [0x0d, le([0, 0, 0, 0]), 'false'],
    [0x0e, le([0x0a, 0xbc, 0x00]), '0ABC00'],
    [
      0x0f,
      le([0x5f, 0x38, 0x70, 0x57, 0x2a, 0xc2, 0xe0, 0x43, 0xbf, 0x4c, 0x06, 0xf5, 0x69, 0x8f, 0xfb, 0xd9]),
      '{5770385F-C22A-43E0-BF4C-06F5698FFBD9}',
    ],
    [0x10, u64(0x1a2cn), '0x1a2c'],
    [0x10, le([0x2c, 0x1a, 0, 0]), '0x1a2c'],
    [0x11, filetime('2019-06-15T07:13:42Z', 2941098n), '2019-06-15T07:13:42.2941098Z'],
    [0x11, u64(0n), '1601-01-01T00:00:00.0000000Z'],
    [
      0x12,
      le([0xe3, 0x07, 6, 0, 6, 0, 15, 0, 7, 0, 13, 0, 42, 0, 0x16, 0x01]),
      '2019-06-15T07:13:42.2780000Z',
    ],
    [0x13, le([1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0]), 'S-1-5-18'],
    [
      0x13,
      le([1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0xf4, 0x01, 0, 0]),
      'S-1-5-21-1-2-3-500',
    ],
    [0x14, le([0xe7, 0x03, 0, 0]), '0x3e7'],
    [0x15, u64(0x8000000000000000n), '0x8000000000000000'],
    [0x15, u64(0x80000000000000n), '0x80000000000000'],
    [0x15, u64(0xc47e5n), '0xc47e5'],
    [0x15, u64(0n), '0x0'],
    [0x81, Buffer.from('a\0b\0\0', 'utf16le'), 'a,b,'],
    [0x86, le([1, 0, 2, 0, 3, 0]), '1,2,3'],
    [0x8f, Buffer.alloc(32), '{00000000-0000-0000-0000-000000000000},{00000000-0000-0000-0000-000000000000}'],
    [
      0x93,
      le([1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 5, 19, 0, 0, 0]),
      'S-1-5-18,S-1-5-19',
    ],
    [0x94, le([1, 0, 0, 0, 0xff, 0, 0, 0]), '0x1,0xff'],
  ];
  for (const [type, bytes, want] of cases)
    assert.equal(evtxValueText(bytes, type), want, `type 0x${type.toString(16)} ${bytes.toString('hex')}`);
  assert.throws(() => evtxValueText(Buffer.alloc(2), 0x08), /needs 4/);
  assert.throws(() => evtxValueText(Buffer.alloc(4), 0x7f), /unknown value type/);
});

// ---------------------------------------------------------------------------------------------------------
// Synthetic Binary XML: what the corpus does not exercise

function crc32(b: Buffer): number {
  let c = ~0;
  for (const byte of b) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return ~c >>> 0;
}

/** Writes one chunk: records of Binary XML, names and template definitions inline on first use. */
class ChunkWriter {
  readonly buf = Buffer.alloc(CHUNK);
  pos = 0x200;
  private readonly names = new Map<string, number>();
  readonly records: Array<{ id: number; offset: number }> = [];

  u8(v: number) {
    this.buf[this.pos++] = v;
  }
  u16(v: number) {
    this.pos = this.buf.writeUInt16LE(v, this.pos);
  }
  u32(v: number) {
    this.pos = this.buf.writeUInt32LE(v, this.pos);
  }
  bytes(b: Buffer) {
    this.pos += b.copy(this.buf, this.pos);
  }
  name(s: string) {
    const known = this.names.get(s);
    if (known !== undefined) return this.u32(known);
    const at = this.pos + 4;
    this.names.set(s, at);
    this.u32(at);
    this.u32(0); // next name in the hash bucket
    this.u16(0); // hash (not checked by readers)
    this.u16(s.length);
    this.bytes(Buffer.from(`${s}\0`, 'utf16le'));
  }
  open(name: string, attrs = false) {
    this.u8(attrs ? 0x41 : 0x01);
    this.u16(0xffff); // dependency id
    this.u32(0); // data size (readers go token by token)
    this.name(name);
    if (attrs) this.u32(0); // attribute list size
  }
  attr(name: string) {
    this.u8(0x06);
    this.name(name);
  }
  text(s: string) {
    this.u8(0x05);
    this.u8(0x01);
    this.u16(s.length);
    this.bytes(Buffer.from(s, 'utf16le'));
  }
  sub(index: number, type: number, optional = false) {
    this.u8(optional ? 0x0e : 0x0d);
    this.u16(index);
    this.u8(type);
  }
  fragment() {
    this.bytes(Buffer.from([0x0f, 0x01, 0x01, 0x00]));
  }
  /** A template instance whose definition is inline (first use) or, given its offset, a reference. */
  instance(body: (() => void) | number): number {
    this.u8(0x0c);
    this.u8(0x01);
    this.u32(0x1234);
    if (typeof body === 'number') {
      this.u32(body);
      return body;
    }
    const def = this.pos + 4;
    this.u32(def);
    this.u32(0); // next template in the bucket
    this.bytes(Buffer.alloc(16, 0x11)); // template GUID
    const sizeAt = this.pos;
    this.u32(0);
    body();
    this.buf.writeUInt32LE(this.pos - sizeAt - 4, sizeAt);
    return def;
  }
  values(list: Array<[number, Buffer | (() => void)]>) {
    this.u32(list.length);
    const descriptors = this.pos;
    for (const [type, v] of list) {
      this.u16(typeof v === 'function' ? 0 : v.length);
      this.u8(type);
      this.u8(0);
    }
    for (const [i, [, v]] of list.entries()) {
      const start = this.pos;
      if (typeof v === 'function') {
        v();
        this.buf.writeUInt16LE(this.pos - start, descriptors + 4 * i);
      } else this.bytes(v);
    }
  }
  record(id: number, body: () => void) {
    const start = this.pos;
    this.u32(0x2a2a);
    const sizeAt = this.pos;
    this.u32(0);
    this.buf.writeBigUInt64LE(BigInt(id), this.pos);
    this.pos += 8;
    this.buf.writeBigUInt64LE(WHEN, this.pos); // written time
    this.pos += 8;
    body();
    this.pos = (this.pos + 3) & ~3;
    const size = this.pos + 4 - start;
    this.u32(size);
    this.buf.writeUInt32LE(size, sizeAt);
    this.records.push({ id, offset: start });
  }
  /** The chunk, its header saying the records end at `freeSpace` (by default, where they do). */
  finish(freeSpace = this.pos): Buffer {
    const b = this.buf;
    b.write('ElfChnk\0', 0, 'latin1');
    const first = this.records[0]!;
    const last = this.records.at(-1)!;
    b.writeBigUInt64LE(BigInt(first.id), 8);
    b.writeBigUInt64LE(BigInt(last.id), 16);
    b.writeBigUInt64LE(BigInt(first.id), 24);
    b.writeBigUInt64LE(BigInt(last.id), 32);
    b.writeUInt32LE(0x80, 40);
    b.writeUInt32LE(last.offset, 44);
    b.writeUInt32LE(freeSpace, 48);
    b.writeUInt32LE(crc32(b.subarray(0x200, freeSpace)), 52);
    b.writeUInt32LE(crc32(Buffer.concat([b.subarray(0, 120), b.subarray(128, 0x200)])), 124);
    return b;
  }
}

function evtxFile(chunks: Buffer[]): Buffer {
  const h = Buffer.alloc(FILE_HEADER);
  h.write('ElfFile\0', 0, 'latin1');
  h.writeUInt32LE(0x80, 32);
  h.writeUInt16LE(1, 36);
  h.writeUInt16LE(3, 38);
  h.writeUInt16LE(FILE_HEADER, 40);
  h.writeUInt16LE(chunks.length, 42);
  h.writeUInt32LE(crc32(h.subarray(0, 120)), 124);
  return Buffer.concat([h, ...chunks, Buffer.alloc(CHUNK)]); // and one unused slot
}

const str = (s: string) => Buffer.from(`${s}\0`, 'utf16le');
const u16 = (n: number) => Buffer.from([n & 0xff, n >> 8]);
const u64 = (n: number | bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};
/** 2024-01-01T12:34:05.1234567Z as a FILETIME. */
const WHEN = (BigInt(Date.parse('2024-01-01T12:34:05Z')) / 1000n + 11644473600n) * 10000000n + 1234567n;
const NS = 'http://schemas.microsoft.com/win/2004/08/events/event';
const GUID_BYTES = Buffer.from('5f3870572ac2e043bf4c06f5698ffbd9', 'hex');
const SID_500 = Buffer.from([
  1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0xf4, 1, 0, 0,
]);
const NULL = Buffer.alloc(0);

function syntheticChunk(staleHeader = false): Buffer {
  const w = new ChunkWriter();
  // <Event xmlns=…><System>…</System><EventData>…</EventData></Event> with 12 substitutions.
  const template = () => {
    w.fragment();
    w.open('Event', true);
    w.attr('xmlns');
    w.text(NS);
    w.u8(0x02);
    w.open('System');
    w.u8(0x02);
    w.open('Provider', true);
    w.attr('Name');
    w.text('Synthetic-Provider');
    w.attr('Guid');
    w.sub(0, 0x0f, true);
    w.u8(0x03);
    w.open('EventID', true);
    w.attr('Qualifiers');
    w.sub(1, 0x06, true);
    w.u8(0x02);
    w.sub(2, 0x06);
    w.u8(0x04);
    w.open('TimeCreated', true);
    w.attr('SystemTime');
    w.sub(3, 0x11);
    w.u8(0x03);
    w.open('EventRecordID');
    w.u8(0x02);
    w.sub(4, 0x0a);
    w.u8(0x04);
    w.open('Correlation', true);
    w.attr('ActivityID');
    w.sub(5, 0x0f, true);
    w.u8(0x03);
    w.open('Channel');
    w.u8(0x02);
    w.text('Synthetic');
    w.u8(0x04);
    w.open('Computer');
    w.u8(0x02);
    w.sub(6, 0x01);
    w.u8(0x04);
    w.open('Security', true);
    w.attr('UserID');
    w.sub(7, 0x13, true);
    w.u8(0x03);
    w.u8(0x04); // </System>
    w.open('EventData');
    w.u8(0x02);
    // <Data Name="Text">a &amp; b<![CDATA[<c>]]>&#x41;%8</Data>
    w.open('Data', true);
    w.attr('Name');
    w.text('Text');
    w.u8(0x02);
    w.text('a ');
    w.u8(0x09);
    w.name('amp');
    w.text(' b');
    w.u8(0x07);
    w.u16(3);
    w.bytes(Buffer.from('<c>', 'utf16le'));
    w.u8(0x08);
    w.u16(0x41);
    w.sub(8, 0x01);
    w.u8(0x04);
    w.open('Data', true);
    w.attr('Name');
    w.text('List');
    w.u8(0x02);
    w.sub(9, 0x81);
    w.u8(0x04);
    w.open('Data', true);
    w.attr('Name');
    w.text('Nums');
    w.u8(0x02);
    w.sub(10, 0x86);
    w.u8(0x04);
    w.sub(11, 0x21, true); // a Binary XML value, expanded in place
    w.u8(0x0a); // <?target data?> is dropped
    w.name('target');
    w.u8(0x0b);
    w.u16(4);
    w.bytes(Buffer.from('data', 'utf16le'));
    w.u8(0x04); // </EventData>
    w.u8(0x04); // </Event>
    w.u8(0x00);
  };
  const nested = () => {
    // A fragment holding its own template instance (inline definition) with one value.
    w.fragment();
    w.instance(() => {
      w.fragment();
      w.open('Data', true);
      w.attr('Name');
      w.text('Nested');
      w.u8(0x02);
      w.sub(0, 0x01);
      w.u8(0x04);
      w.u8(0x00);
    });
    w.values([[0x01, str('inner value')]]);
    w.u8(0x00);
  };
  let def = 0;
  w.record(1, () => {
    w.fragment();
    def = w.instance(template);
    w.values([
      [0x00, NULL],
      [0x00, NULL],
      [0x06, u16(4688)],
      [0x11, u64(WHEN)],
      [0x0a, u64(1)],
      [0x00, NULL],
      [0x01, str('HOST')],
      [0x13, SID_500],
      [0x01, str(' sub')],
      [0x81, Buffer.from('x\0y\0\0', 'utf16le')], // x, y and an empty item
      [0x86, Buffer.from([1, 0, 2, 0, 3, 0])],
      [0x21, nested],
    ]);
    w.u8(0x00);
  });
  w.record(2, () => {
    w.fragment();
    w.instance(def);
    w.values([
      [0x0f, GUID_BYTES],
      [0x06, u16(0)],
      [0x06, u16(4624)],
      [0x11, u64(WHEN)],
      [0x0a, u64(2)],
      [0x0f, GUID_BYTES],
      [0x01, str('HOST')],
      [0x00, NULL],
      [0x01, str('')],
      [0x81, Buffer.from('only\0', 'utf16le')],
      [0x86, Buffer.from([7, 0])],
      [0x00, NULL],
    ]);
    w.u8(0x00);
  });
  return w.finish(staleHeader ? w.records[1]!.offset : w.pos);
}

/** A second chunk reusing the first one's offsets for a different template: caches are per chunk. */
function otherChunk(): Buffer {
  const w = new ChunkWriter();
  w.record(3, () => {
    w.fragment();
    w.instance(() => {
      w.fragment();
      w.open('Event');
      w.u8(0x02);
      w.open('UserData');
      w.u8(0x02);
      w.open('Other', true);
      w.attr('xmlns');
      w.text('urn:other');
      w.u8(0x02);
      w.open('Field');
      w.u8(0x02);
      w.sub(0, 0x08);
      w.u8(0x04);
      w.open('Field');
      w.u8(0x02);
      w.sub(1, 0x14);
      w.u8(0x04);
      w.u8(0x04);
      w.u8(0x04);
      w.u8(0x04);
      w.u8(0x00);
    });
    w.values([
      [0x08, Buffer.from([42, 0, 0, 0])],
      [0x14, Buffer.from([0xe7, 3, 0, 0])],
    ]);
    w.u8(0x00);
  });
  return w.finish();
}

test('synthetic Binary XML: references, CDATA, optional and nested substitutions, arrays, per-chunk caches', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lh-evtx-'));
  const path = join(dir, 'synthetic.evtx');
  writeFileSync(path, evtxFile([syntheticChunk(), otherChunk()]));
  const items = await readAll(path);
  assert.deepEqual(
    items.map((i) => i.error),
    [undefined, undefined, undefined],
  );
  assert.deepEqual(
    items.map((i) => [i.recordId, i.chunk, i.offset]),
    [
      [1, 0, FILE_HEADER + 0x200],
      [2, 0, items[1]!.offset],
      [3, 1, FILE_HEADER + CHUNK + 0x200],
    ],
  );
  const system = (extra: Tree) => ({
    Provider: { '#attributes': { Name: 'Synthetic-Provider', ...(extra.guid ? { Guid: extra.guid } : {}) } },
    EventID: extra.eventId,
    TimeCreated: { '#attributes': { SystemTime: '2024-01-01T12:34:05.1234567Z' } },
    EventRecordID: extra.id,
    Correlation: extra.correlation,
    Channel: 'Synthetic',
    Computer: 'HOST',
    Security: extra.security,
  });
  const data = (name: string, text?: string) => ({
    '#attributes': { Name: name },
    ...(text ? { '#text': text } : {}),
  });
  assert.deepEqual(items[0]!.value, {
    Event: {
      '#attributes': { xmlns: NS },
      System: system({
        eventId: '4688',
        id: '1',
        correlation: null,
        security: { '#attributes': { UserID: 'S-1-5-21-1-2-3-500' } },
      }),
      EventData: {
        Data: [
          data('Text', 'a & b<c>A sub'),
          data('List', 'x'),
          data('List', 'y'),
          data('List'),
          data('Nums', '1'),
          data('Nums', '2'),
          data('Nums', '3'),
          data('Nested', 'inner value'),
        ],
      },
    },
  });
  const guid = '{5770385F-C22A-43E0-BF4C-06F5698FFBD9}';
  assert.deepEqual(items[1]!.value, {
    Event: {
      '#attributes': { xmlns: NS },
      System: system({
        guid,
        eventId: { '#attributes': { Qualifiers: '0' }, '#text': '4624' },
        id: '2',
        correlation: { '#attributes': { ActivityID: guid } },
        security: null,
      }),
      EventData: { Data: [data('Text', 'a & b<c>A'), data('List', 'only'), data('Nums', '7')] },
    },
  });
  assert.deepEqual(items[2]!.value, {
    Event: { UserData: { Other: { '#attributes': { xmlns: 'urn:other' }, Field: ['42', '0x3e7'] } } },
  });

  // The same file with the first record's template body damaged: that record and the next (which uses
  // the same template) are reported; the other chunk is untouched.
  const broken = evtxFile([syntheticChunk(), otherChunk()]);
  broken[FILE_HEADER + 0x200 + 24 + 4 + 10 + 24 + 4] = 0x77; // the template's first element token
  const path2 = join(dir, 'broken.evtx');
  writeFileSync(path2, broken);
  const items2 = await readAll(path2);
  assert.equal(items2.length, 4);
  assert.match(items2[0]!.error!, /record data CRC mismatch/);
  assert.match(items2[1]!.error!, /record 1 at chunk offset 0x200: unexpected token 0x77/);
  assert.match(items2[2]!.error!, /record 2 at chunk offset 0x[0-9a-f]+: unexpected token 0x77/);
  assert.deepEqual(items2[3]!.value, items[2]!.value);

  // A chunk header written before its last record (a log copied while in use): the record that carries on
  // the numbering past the free-space offset is read; zeros after it end the chunk.
  const path3 = join(dir, 'stale.evtx');
  writeFileSync(path3, evtxFile([syntheticChunk(true), otherChunk()]));
  const items3 = await readAll(path3);
  assert.deepEqual(
    items3.map((i) => i.value),
    items.map((i) => i.value),
  );
});

test('readInput reads .evtx (line is the record id) and the windows-event-json format maps what it yields', async (t) => {
  const c = corpus();
  if (c.skip) return t.skip(c.skip);
  const file = join(
    c.path!,
    'windows',
    'evtx-attack-samples',
    'sysmon_mshta_sharpshooter_stageless_meterpreter.evtx',
  );
  const inputs = await expandInputs([file]);
  assert.deepEqual(inputs, [{ path: file }]);
  const formats = await loadFormats();
  const recs = [];
  for await (const r of readInput(inputs[0]!)) recs.push(r);
  assert.deepEqual(
    recs.map((r) => [r.file, r.line, r.error]),
    [
      [file, 1, undefined],
      [file, 2, undefined],
      [file, 3, undefined],
    ],
  );
  const events = recs.flatMap((r) => {
    const fmt = detectFormat(formats, r.value);
    assert.equal(fmt?.name, 'windows-event-json');
    const m = fmt!.map(r.value, { file: r.file, line: r.line, volumeMap: {} });
    return m.ok === true ? m.events : [];
  });
  const mshta = events.find((e) => e.kind === 'process.start' && e.process.image?.endsWith('mshta.exe'));
  assert.ok(mshta && mshta.kind === 'process.start');
  assert.equal(mshta.time, '2019-06-15T07:13:42.278Z');
  assert.equal(mshta.host, 'iewin7');
  assert.equal(mshta.process.guid, '365abb72-9aa6-5d04-0000-00109c850f00');
  assert.equal(mshta.parent.image, 'C:\\Program Files\\Internet Explorer\\iexplore.exe');
  const conn = events.find((e) => e.kind === 'network.connection');
  assert.ok(conn && conn.kind === 'network.connection');
  assert.equal(conn.dstIp, '10.0.2.18');
  assert.equal(conn.dstPort, 4443);

  // Damage comes through as records with error and the record id as line, the rest as values.
  const broken = tmpCopy(file, 'broken.evtx', (b) => {
    b.writeUInt32LE(0xffff, FILE_HEADER + 0x200 + 4);
    return b;
  });
  const got = [];
  for await (const r of readInput({ path: broken })) got.push(r);
  assert.deepEqual(
    got.filter((r) => r.error).map((r) => [r.line, r.error?.replace(/:.*/, '')]),
    [
      [0, 'EVTX chunk damaged'],
      [0, 'EVTX record damaged'],
    ],
  );
  assert.match(
    got[0]!.error!,
    /^EVTX chunk damaged: chunk 0 at file offset 0x1000: record data CRC mismatch/,
  );
  assert.match(
    got[1]!.error!,
    /^EVTX record damaged: chunk 0 at file offset 0x1000, chunk offset 0x200: bad record header/,
  );
  assert.equal(got[1]!.raw, got[1]!.error);
  assert.deepEqual(
    got.filter((r) => !r.error).map((r) => r.line),
    [2, 3],
  );
});

test('random damage never makes the reader throw or hang (seeded)', async (t) => {
  const c = corpus();
  if (c.skip) return t.skip(c.skip);
  const dir = join(c.path!, 'windows', 'evtx-attack-samples');
  const sources = ['sysmon_zipexec.evtx', 'exec_emotet_ps_4104.evtx', 'rogue_msi_url_1040_1042.evtx'].map(
    (f) => readFileSync(join(dir, f)),
  );
  let seed = 20240611;
  const rnd = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  const tmp = mkdtempSync(join(tmpdir(), 'lh-evtx-'));
  const path = join(tmp, 'fuzz.evtx');
  let good = 0;
  let bad = 0;
  for (let i = 0; i < 300; i++) {
    const b = Buffer.from(sources[i % sources.length]!);
    const chunks = Math.floor((b.length - FILE_HEADER) / CHUNK);
    for (let k = 1 + Math.floor(rnd() * 8); k > 0; k--) {
      // Mostly inside the first records of a chunk, where the template definitions and names live.
      const at =
        rnd() < 0.8
          ? FILE_HEADER + Math.floor(rnd() * chunks) * CHUNK + Math.floor(rnd() * 0x2000)
          : Math.floor(rnd() * b.length);
      b[at] = rnd() < 0.5 ? b[at]! ^ (1 << Math.floor(rnd() * 8)) : Math.floor(rnd() * 256);
    }
    writeFileSync(path, rnd() < 0.1 ? b.subarray(0, Math.floor(rnd() * b.length)) : b);
    for (const item of await readAll(path)) {
      if (item.error === undefined) good++;
      else {
        bad++;
        assert.match(item.error, /^EVTX (file header|chunk|record) damaged: |^EVTX read error: /);
        assert.ok(item.error.length < 400, item.error);
      }
    }
  }
  t.diagnostic(`300 damaged files: ${good} records read, ${bad} errors reported`);
  assert.ok(good > 0 && bad > 0);
});

test('SigmaHQ regression data: the .evtx and its evtx_dump .json map to the same canonical events', async (t) => {
  const c = corpus();
  if (c.skip) return t.skip(c.skip);
  const dir = join(c.path!, 'windows', 'sigma-regression');
  const formats = await loadFormats();
  const mapped = async (path: string) => {
    const out: unknown[] = [];
    for (const input of await expandInputs([path]))
      for await (const r of readInput(input)) {
        assert.equal(r.error, undefined, `${path}:${r.line}`);
        const fmt = detectFormat(formats, r.value);
        assert.equal(fmt?.name, 'windows-event-json', path);
        const m = fmt!.map(r.value, { file: r.file, line: r.line, volumeMap: {} });
        assert.equal(m.ok, true, `${path}: ${m.ok === true ? '' : m.reason}`);
        if (m.ok === true) out.push(...m.events);
      }
    return out;
  };
  const stems = readdirSync(dir)
    .filter((f) => f.endsWith('.evtx') && existsSync(join(dir, `${f.slice(0, -5)}.json`)))
    .map((f) => f.slice(0, -5));
  assert.ok(stems.length >= 8);
  for (const stem of stems) {
    const fromEvtx = await mapped(join(dir, `${stem}.evtx`));
    const fromJson = (await mapped(join(dir, `${stem}.json`))) as Array<{ parent?: Tree }>;
    // Where the JSON does not say what the EVTX holds (see JSON_NOT_FROM_THIS_EVTX).
    const known = JSON_NOT_FROM_THIS_EVTX[stem]?.ParentCommandLine;
    if (known)
      for (const e of fromJson) if (e.parent?.commandLine === known[1]) e.parent.commandLine = known[0];
    assert.deepEqual(fromEvtx, fromJson, stem);
  }
});
