// The contract every telemetry format module fulfils. A format is pure: one decoded record in,
// canonical events out. Adding a format is adding one module to this folder (see index.ts).
import type { MapResult } from '../canonical.ts';

export interface MapContext {
  /** File the record came from and its 1-based line (or record number), for reject reports. */
  file: string;
  line: number;
  /** \Device\HarddiskVolumeN to drive letter, where the operator knows it. */
  volumeMap: Record<string, string>;
}

export interface Format {
  name: string;
  description: string;
  /** True when the decoded JSON record is of this format. Must not throw. */
  detect(record: unknown): boolean;
  map(record: unknown, ctx: MapContext): MapResult;
}

export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
