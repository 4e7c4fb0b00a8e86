// Ingest: inputs → records → formats → canonical events → batched writes, with progress, a summary
// and a rejects file. A malformed record is counted, reported with its file and line, and skipped.
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import type { Db } from '../src/db.ts';
import { log } from '../src/log.ts';
import type { CanonicalEvent } from './canonical.ts';
import type { Format, MapContext } from './formats/format.ts';
import { detectFormat, loadFormats } from './formats/index.ts';
import { expandInputs, type InputFile, readInput } from './read.ts';
import { writeBatch } from './writer.ts';

export interface IngestOptions {
  batchSize?: number;
  /** Where rejected records go (JSON lines: file, line, reason, record). */
  rejectsPath?: string;
  volumeMap?: Record<string, string>;
  /** Called after each batch is committed, with its events and the commit time (live alerting). */
  onBatch?: (events: CanonicalEvent[], committedAt: number) => Promise<unknown>;
  /** Called about once a second and at the end of each file. */
  onProgress?: (p: IngestProgress) => void;
}

export interface IngestProgress {
  file: string;
  filesDone: number;
  filesTotal: number;
  read: number;
  loaded: number;
}

export interface IngestSummary {
  files: number;
  filesSkipped: Array<{ file: string; reason: string }>;
  /** Files that failed part-way or could not be opened. */
  filesFailed: Array<{ file: string; reason: string }>;
  read: number;
  /** Canonical events written (one record may yield none or several). */
  loaded: number;
  /** Well-formed records of kinds no analytic uses, by reason. */
  skipped: Record<string, number>;
  rejected: Record<string, number>;
  rejectedTotal: number;
  byFormat: Record<string, number>;
  nodesCreated: number;
  relationshipsCreated: number;
  rejectsPath: string | undefined;
  seconds: number;
}

export async function ingest(db: Db, args: string[], opts: IngestOptions = {}): Promise<IngestSummary> {
  const started = Date.now();
  const formats = await loadFormats();
  const inputs = await expandInputs(args);
  const batchSize = opts.batchSize ?? 2000;
  const summary: IngestSummary = {
    files: 0,
    filesSkipped: [],
    filesFailed: [],
    read: 0,
    loaded: 0,
    skipped: {},
    rejected: {},
    rejectedTotal: 0,
    byFormat: {},
    nodesCreated: 0,
    relationshipsCreated: 0,
    rejectsPath: undefined,
    seconds: 0,
  };
  let rejects: WriteStream | undefined;
  const reject = (file: string, line: number, reason: string, record: unknown) => {
    summary.rejected[reason] = (summary.rejected[reason] ?? 0) + 1;
    summary.rejectedTotal++;
    if (!opts.rejectsPath) return;
    if (!rejects) {
      mkdirSync(dirname(opts.rejectsPath), { recursive: true });
      rejects = createWriteStream(opts.rejectsPath, { flags: 'w' });
      summary.rejectsPath = opts.rejectsPath;
    }
    const text = typeof record === 'string' ? record : JSON.stringify(record);
    rejects.write(`${JSON.stringify({ file, line, reason, record: text?.slice(0, 4000) })}\n`);
  };

  let batch: CanonicalEvent[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const c = await writeBatch(db, batch);
    if (opts.onBatch) await opts.onBatch(batch, Date.now());
    summary.loaded += c.events;
    summary.nodesCreated += c.nodesCreated;
    summary.relationshipsCreated += c.relationshipsCreated;
    batch = [];
  };

  const readable = inputs.filter((i): i is InputFile => {
    if (i.unsupported) summary.filesSkipped.push({ file: i.path, reason: i.unsupported });
    return !i.unsupported;
  });
  let lastProgress = Date.now();
  let filesDone = 0;
  for (const input of readable) {
    summary.files++;
    let last: Format | undefined;
    try {
      for await (const rec of readInput(input)) {
        summary.read++;
        if (rec.error) {
          reject(rec.file, rec.line, rec.error.replace(/:.*/, ''), rec.raw ?? '');
          continue;
        }
        const fmt = last?.detect(rec.value) ? last : detectFormat(formats, rec.value);
        if (!fmt) {
          reject(rec.file, rec.line, 'no format recognises the record', rec.value);
          continue;
        }
        last = fmt;
        const ctx: MapContext = { file: rec.file, line: rec.line, volumeMap: opts.volumeMap ?? {} };
        let result: ReturnType<Format['map']>;
        try {
          result = fmt.map(rec.value, ctx);
        } catch (err) {
          result = { ok: false, reason: `${fmt.name} failed: ${(err as Error).message}` };
        }
        if (result.ok === 'skip') {
          summary.skipped[result.reason] = (summary.skipped[result.reason] ?? 0) + 1;
          continue;
        }
        if (!result.ok) {
          reject(rec.file, rec.line, result.reason, rec.value);
          continue;
        }
        summary.byFormat[fmt.name] = (summary.byFormat[fmt.name] ?? 0) + 1;
        batch.push(...result.events);
        if (batch.length >= batchSize) await flush();
        if (opts.onProgress && Date.now() - lastProgress > 1000) {
          lastProgress = Date.now();
          opts.onProgress({
            file: input.path,
            filesDone,
            filesTotal: readable.length,
            read: summary.read,
            loaded: summary.loaded + batch.length,
          });
        }
      }
    } catch (err) {
      // A file that cannot be opened or decoded (a broken archive, a read error) is reported and the
      // other inputs still load; what was read from it before the error is kept.
      const reason = `file could not be read: ${(err as Error).message}`;
      summary.filesFailed.push({ file: input.path, reason });
      reject(input.path, 0, 'file could not be read', reason);
    }
    // Each file ends committed, so an interrupted run loses at most the file in progress, and a
    // rerun (idempotent) completes it.
    await flush();
    filesDone++;
    log.debug({ file: input.path, read: summary.read, loaded: summary.loaded }, 'file ingested');
    opts.onProgress?.({
      file: input.path,
      filesDone,
      filesTotal: readable.length,
      read: summary.read,
      loaded: summary.loaded,
    });
  }
  await flush();
  if (rejects) await new Promise<void>((ok) => rejects!.end(ok));
  summary.seconds = (Date.now() - started) / 1000;
  log.info(
    {
      files: summary.files,
      read: summary.read,
      loaded: summary.loaded,
      rejected: summary.rejectedTotal,
      seconds: summary.seconds,
    },
    'ingest finished',
  );
  return summary;
}
