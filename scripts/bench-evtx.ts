// Read throughput of the native EVTX reader (ingest/evtx.ts): records, seconds, records/s and MB/s per file
// and in total. Read only: nothing is mapped or loaded.
//
//   node --import tsx scripts/bench-evtx.ts [--repeat N] FILE.evtx...
//
// --repeat reads each file N times (small files finish in milliseconds; repeating steadies the figures).
import { statSync } from 'node:fs';
import { basename } from 'node:path';
import { readEvtx } from '../ingest/evtx.ts';

const args = process.argv.slice(2);
let repeat = 1;
const files: string[] = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  if (a === '--repeat') repeat = Math.max(1, Number(args[++i]) || 1);
  else files.push(a);
}
if (files.length === 0) {
  console.error('usage: node --import tsx scripts/bench-evtx.ts [--repeat N] FILE.evtx...');
  process.exit(2);
}

const row = (name: string, records: number, errors: number, bytes: number, secs: number) =>
  [
    name.length > 60 ? `…${name.slice(-59)}` : name.padEnd(60),
    String(records).padStart(9),
    String(errors).padStart(6),
    secs.toFixed(3).padStart(8),
    Math.round(records / secs)
      .toLocaleString('en-US')
      .padStart(10),
    (bytes / 1048576 / secs).toFixed(1).padStart(7),
  ].join('  ');

console.log(
  [
    'file'.padEnd(60),
    'records'.padStart(9),
    'errors'.padStart(6),
    'seconds'.padStart(8),
    'records/s'.padStart(10),
    'MB/s'.padStart(7),
  ].join('  '),
);
let total = { records: 0, errors: 0, bytes: 0, secs: 0 };
for (const file of files) {
  const bytes = statSync(file).size * repeat;
  let records = 0;
  let errors = 0;
  const start = process.hrtime.bigint();
  for (let r = 0; r < repeat; r++)
    for await (const item of readEvtx(file)) {
      if (item.error === undefined) records++;
      else errors++;
    }
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(row(basename(file), records, errors, bytes, secs));
  total = {
    records: total.records + records,
    errors: total.errors + errors,
    bytes: total.bytes + bytes,
    secs: total.secs + secs,
  };
}
console.log(
  row(
    `total (${files.length} files${repeat > 1 ? `, each read ${repeat}×` : ''})`,
    total.records,
    total.errors,
    total.bytes,
    total.secs,
  ),
);
