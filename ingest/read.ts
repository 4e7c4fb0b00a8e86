// Inputs to records: files, folders, globs, .zip and .gz, and stdin ("-"). JSON lines are streamed;
// a file whose first line is not a JSON value is read as one JSON document (an object or an array).
// Binary .evtx files are read natively, chunk by chunk (ingest/evtx.ts).
import { createReadStream, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { glob } from 'tinyglobby';
import { ERR } from '../src/errors.ts';
import { readEvtx } from './evtx.ts';
import { xmlEventRecords } from './xml-events.ts';
import { zipEntries } from './zip.ts';

export interface RawRecord {
  /** File (and zip entry) the record came from. */
  file: string;
  /**
   * 1-based line, or element number inside a JSON array document. For .evtx, the record number from the
   * record's header (in a live log the event's EventRecordID; an exported log numbers its records from 1),
   * 0 for damage not tied to one record (a chunk, the file header).
   */
  line: number;
  value?: unknown;
  /** Set when the record could not be decoded; raw keeps a prefix of its text. */
  error?: string;
  raw?: string;
}

export interface InputFile {
  path: string;
  /** Why the file will not be read, when it will not. */
  unsupported?: string;
}

const READABLE = new Set(['.json', '.jsonl', '.ndjson', '.log', '.txt', '.xml', '.zip', '.gz', '.evtx']);
const KNOWN_OTHER: Record<string, string> = {};
const MAX_DOCUMENT = 256 * 1024 * 1024;

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(p)));
    else if (entry.isFile()) out.push(p);
  }
  return out;
}

/** Expand the command's arguments into input files, in a stable order. */
export async function expandInputs(args: string[]): Promise<InputFile[]> {
  const files: string[] = [];
  for (const arg of args) {
    if (arg === '-') {
      files.push('-');
      continue;
    }
    let st: ReturnType<typeof statSync> | undefined;
    try {
      st = statSync(arg);
    } catch {
      st = undefined;
    }
    if (st?.isDirectory()) files.push(...(await walk(arg)).sort());
    else if (st?.isFile()) files.push(arg);
    else {
      const matched = (await glob(arg, { absolute: false, onlyFiles: true })).sort();
      if (matched.length === 0) throw ERR.input(`no such file, folder or glob match: ${arg}`);
      files.push(...matched);
    }
  }
  return [...new Set(files)].map((path) => {
    if (path === '-') return { path };
    const ext = extname(path).toLowerCase();
    if (READABLE.has(ext)) return { path };
    return { path, unsupported: KNOWN_OTHER[ext] ?? `not a telemetry file (${ext || 'no extension'})` };
  });
}

/** Records of one text stream: JSON lines, or one JSON document when the first line is not JSON. */
async function* recordsOf(stream: Readable, file: string): AsyncGenerator<RawRecord> {
  const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  let lineNo = 0;
  let mode: 'unknown' | 'lines' | 'document' | 'records' = 'unknown';
  let doc = '';
  // evtx_dump -o json: "Record N" lines, each followed by one pretty-printed JSON document.
  let recordStart = 0;
  const record = (): RawRecord | undefined => {
    if (doc.trim() === '') return undefined;
    try {
      return { file, line: recordStart, value: JSON.parse(doc) };
    } catch (err) {
      return {
        file,
        line: recordStart,
        error: `invalid JSON: ${(err as Error).message}`,
        raw: doc.slice(0, 2000),
      };
    }
  };
  for await (const line of lines) {
    lineNo++;
    if ((mode === 'unknown' || mode === 'records') && /^Record \d+\s*$/.test(line)) {
      if (mode === 'records') {
        const r = record();
        if (r) yield r;
      }
      mode = 'records';
      doc = '';
      recordStart = lineNo + 1;
      continue;
    }
    if (mode === 'records') {
      doc += `${line}\n`;
      continue;
    }
    if (mode === 'document') {
      doc += `${line}\n`;
      if (doc.length > MAX_DOCUMENT) {
        yield { file, line: 1, error: `JSON document larger than ${MAX_DOCUMENT} bytes` };
        return;
      }
      continue;
    }
    const text = line.trim();
    if (text === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      if (mode === 'unknown' && (text.startsWith('{') || text.startsWith('['))) {
        mode = 'document';
        doc = `${line}\n`;
        continue;
      }
      yield {
        file,
        line: lineNo,
        error: `invalid JSON: ${(err as Error).message}`,
        raw: text.slice(0, 2000),
      };
      mode = 'lines';
      continue;
    }
    mode = 'lines';
    if (Array.isArray(value)) {
      let i = 0;
      for (const v of value) yield { file, line: lineNo, value: v, raw: `[element ${++i}]` };
    } else yield { file, line: lineNo, value };
  }
  if (mode === 'records') {
    const r = record();
    if (r) yield r;
  }
  if (mode === 'document') {
    let value: unknown;
    try {
      value = JSON.parse(doc);
    } catch (err) {
      yield {
        file,
        line: 1,
        error: `invalid JSON document: ${(err as Error).message}`,
        raw: doc.slice(0, 2000),
      };
      return;
    }
    if (Array.isArray(value)) {
      let i = 0;
      for (const v of value) yield { file, line: ++i, value: v };
    } else yield { file, line: 1, value };
  }
}

/** Every record of one input file (entries of a zip in order, gz decompressed, "-" is stdin). */
export async function* readInput(input: InputFile): AsyncGenerator<RawRecord> {
  const path = input.path;
  if (path === '-') {
    yield* recordsOf(process.stdin, '<stdin>');
    return;
  }
  const lower = path.toLowerCase();
  if (lower.endsWith('.evtx')) {
    // line is the record id; damaged chunks and records come as errors (raw says where) and reading goes on.
    for await (const item of readEvtx(path)) {
      if (item.error === undefined) yield { file: path, line: item.recordId, value: item.value };
      else yield { file: path, line: item.recordId, error: item.error, raw: item.error };
    }
    return;
  }
  if (lower.endsWith('.zip')) {
    for await (const entry of zipEntries(resolve(path))) {
      const name = `${path}!${entry.name}`;
      if (/\.xml(\.gz)?$/i.test(entry.name)) yield* xmlEventRecords(entry.stream, name);
      else yield* recordsOf(entry.stream, name);
    }
    return;
  }
  const stream = createReadStream(path);
  const text = lower.endsWith('.gz') ? stream.pipe(createGunzip()) : stream;
  if (/\.xml(\.gz)?$/.test(lower)) yield* xmlEventRecords(text, path);
  else yield* recordsOf(text, path);
}
