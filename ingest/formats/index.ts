// The format registry: every module in this folder that exports `format` is a telemetry format.
// Adding a format is adding one file here; nothing else needs an edit.
import { readdirSync } from 'node:fs';
import type { Format } from './format.ts';

const SKIP = new Set(['index.ts', 'format.ts']);

export async function loadFormats(): Promise<Format[]> {
  const dir = new URL('.', import.meta.url);
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !SKIP.has(f))
    .sort();
  const formats: Format[] = [];
  for (const f of files) {
    const mod = (await import(new URL(f, dir).href)) as { format?: Format };
    if (mod.format) formats.push(mod.format);
  }
  return formats;
}

export function detectFormat(formats: Format[], record: unknown): Format | undefined {
  return formats.find((f) => f.detect(record));
}
