// A small, tolerant zip reader: entries are found through the central directory (the end record is
// searched for, so a wrong comment length or trailing bytes do not matter) and streamed one at a time
// through raw inflate; the archive is never read into memory.
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { createGunzip, createInflateRaw } from 'node:zlib';

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

interface Entry {
  name: string;
  method: number;
  compressedSize: number;
  localOffset: number;
}

export class ZipError extends Error {}

async function readAt(
  fh: Awaited<ReturnType<typeof open>>,
  position: number,
  length: number,
): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await fh.read(buf, 0, length, position);
  return buf.subarray(0, bytesRead);
}

async function centralDirectory(path: string): Promise<Entry[]> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const tailLen = Math.min(size, 22 + 0xffff + 20);
    const tail = await readAt(fh, size - tailLen, tailLen);
    let at = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === EOCD) {
        at = i;
        break;
      }
    }
    if (at < 0) throw new ZipError('no zip end-of-central-directory record (not a zip, or truncated)');
    let count = tail.readUInt16LE(at + 10);
    let cdSize = tail.readUInt32LE(at + 12);
    let cdOffset = tail.readUInt32LE(at + 16);
    if ((count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) && at >= 20) {
      if (tail.readUInt32LE(at - 20) === ZIP64_LOCATOR) {
        const rec = await readAt(fh, Number(tail.readBigUInt64LE(at - 12)), 56);
        count = Number(rec.readBigUInt64LE(32));
        cdSize = Number(rec.readBigUInt64LE(40));
        cdOffset = Number(rec.readBigUInt64LE(48));
      }
    }
    const cd = await readAt(fh, cdOffset, cdSize);
    const entries: Entry[] = [];
    let p = 0;
    while (p + 46 <= cd.length && cd.readUInt32LE(p) === CENTRAL && entries.length < count) {
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      let compressedSize = cd.readUInt32LE(p + 20);
      const uncompressed = cd.readUInt32LE(p + 24);
      let localOffset = cd.readUInt32LE(p + 42);
      const name = cd.toString('utf8', p + 46, p + 46 + nameLen);
      // Zip64 extra field: 64-bit values for whichever fields are 0xffffffff, in this order.
      let e = p + 46 + nameLen;
      const end = e + extraLen;
      while (e + 4 <= end) {
        const id = cd.readUInt16LE(e);
        const len = cd.readUInt16LE(e + 2);
        if (id === 1) {
          let q = e + 4;
          if (uncompressed === 0xffffffff) q += 8;
          if (compressedSize === 0xffffffff) {
            compressedSize = Number(cd.readBigUInt64LE(q));
            q += 8;
          }
          if (localOffset === 0xffffffff) localOffset = Number(cd.readBigUInt64LE(q));
        }
        e += 4 + len;
      }
      entries.push({ name, method: cd.readUInt16LE(p + 10), compressedSize, localOffset });
      p = end + commentLen;
    }
    if (entries.length === 0 && count > 0) throw new ZipError('zip central directory is unreadable');
    for (const entry of entries) {
      const local = await readAt(fh, entry.localOffset, 30);
      if (local.length < 30 || local.readUInt32LE(0) !== LOCAL)
        throw new ZipError(`zip entry ${entry.name}: bad local header`);
      entry.localOffset += 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
    }
    return entries;
  } finally {
    await fh.close();
  }
}

/** Every file entry of the archive, in directory order, as a decompressed stream. */
export async function* zipEntries(path: string): AsyncGenerator<{ name: string; stream: Readable }> {
  for (const entry of await centralDirectory(path)) {
    if (entry.name.endsWith('/')) continue;
    if (entry.method !== 0 && entry.method !== 8)
      throw new ZipError(`zip entry ${entry.name}: compression method ${entry.method} is not supported`);
    const raw =
      entry.compressedSize === 0
        ? Readable.from([])
        : createReadStream(path, {
            start: entry.localOffset,
            end: entry.localOffset + entry.compressedSize - 1,
          });
    let stream: Readable = entry.method === 8 ? raw.pipe(createInflateRaw()) : raw;
    raw.on('error', (err: Error) => stream.destroy(err));
    if (entry.name.endsWith('.gz')) stream = stream.pipe(createGunzip());
    yield { name: entry.name, stream };
  }
}
