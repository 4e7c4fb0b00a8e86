// Windows event XML (wevtutil and Event Viewer shapes) and tolerant zip reading, on real files.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { CanonicalEvent } from '../ingest/canonical.ts';
import { detectFormat, loadFormats } from '../ingest/formats/index.ts';
import { expandInputs, type RawRecord, readInput } from '../ingest/read.ts';
import { corpus } from './helpers.ts';

// Debian's python3-evtx renders each record's XML as Windows does: our XML input, from an independent reader.
const RENDER = `
import sys, Evtx.Evtx as E
with E.Evtx(sys.argv[1]) as log:
    for r in log.records(): sys.stdout.write(r.xml())
`;

function renderXml(evtx: string): string {
  try {
    return execFileSync('/usr/bin/python3', ['-c', RENDER, evtx], { encoding: 'utf8', maxBuffer: 64 << 20 });
  } catch (err) {
    throw new Error(
      `python3-evtx is needed to render reference XML (apt-get install python3-evtx): ${(err as Error).message}`,
    );
  }
}

async function records(path: string): Promise<RawRecord[]> {
  const out: RawRecord[] = [];
  for (const input of await expandInputs([path])) for await (const r of readInput(input)) out.push(r);
  return out;
}

async function mapped(recs: RawRecord[]): Promise<CanonicalEvent[]> {
  const formats = await loadFormats();
  const events: CanonicalEvent[] = [];
  for (const r of recs) {
    if (r.error) continue;
    const m = detectFormat(formats, r.value)!.map(r.value, { file: r.file, line: r.line, volumeMap: {} });
    if (m.ok === true) events.push(...m.events);
  }
  return events;
}

test('XML rendered from SigmaHQ EVTX maps to the same events as SigmaHQ JSON of the same records', async (t) => {
  const c = corpus();
  if (c.skip) return t.skip(c.skip);
  const dir = join(c.path!, 'windows', 'sigma-regression');
  const tmp = mkdtempSync(join(tmpdir(), 'lh-xml-'));
  const stems = readdirSync(dir)
    .filter((f) => f.endsWith('.evtx'))
    .map((f) => f.slice(0, -5));
  assert.ok(stems.length >= 8);
  for (const stem of stems) {
    const xmlPath = join(tmp, `${stem}.xml`);
    // wevtutil's shape: <Event> elements one after another, no root element.
    writeFileSync(xmlPath, renderXml(join(dir, `${stem}.evtx`)));
    const fromXml = await mapped(await records(xmlPath));
    const fromJson = await mapped(await records(join(dir, `${stem}.json`)));
    assert.ok(fromXml.length > 0, stem);
    // The JSON sidecars were rendered by another tool: identities, times, images and paths agree with
    // the EVTX; command-line text does not always (case and trailing blanks), so it is left out here.
    const key = (e: CanonicalEvent) => ({
      id: e.id,
      time: e.time,
      host: e.host,
      kind: e.kind,
      process: { guid: e.process.guid, pid: e.process.pid, image: e.process.image, user: e.process.user },
      parent:
        e.kind === 'process.start' ? { guid: e.parent.guid, pid: e.parent.pid, image: e.parent.image } : null,
      path: 'path' in e ? e.path : null,
    });
    assert.deepEqual(fromXml.map(key), fromJson.map(key), stem);
  }
});

test("Event Viewer's UTF-16 export with an <Events> root, and a malformed event among good ones", async (t) => {
  const c = corpus();
  if (c.skip) return t.skip(c.skip);
  const evtx = join(
    c.path!,
    'windows',
    'evtx-attack-samples',
    'sysmon_mshta_sharpshooter_stageless_meterpreter.evtx',
  );
  const xml = renderXml(evtx);
  const tmp = mkdtempSync(join(tmpdir(), 'lh-xml-'));
  const utf16 = join(tmp, 'export.xml');
  const doc = `<?xml version="1.0" encoding="UTF-16"?>\r\n<Events>${xml}</Events>`;
  writeFileSync(utf16, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(doc, 'utf16le')]));
  const recs = await records(utf16);
  assert.equal(recs.length, 3);
  assert.ok(recs.every((r) => !r.error));
  const events = await mapped(recs);
  const mshta = events.find((e) => e.kind === 'process.start' && e.process.image?.endsWith('mshta.exe'));
  assert.ok(mshta && mshta.kind === 'process.start');
  assert.equal(mshta.time, '2019-06-15T07:13:42.278Z');
  assert.equal(mshta.parent.image, 'C:\\Program Files\\Internet Explorer\\iexplore.exe');

  const parts = xml.split('</Event>');
  const broken = join(tmp, 'broken.xml');
  writeFileSync(
    broken,
    `${parts[0]}</Event>\n${parts[1]!.replace('<Data Name="Image">', '<Data Name="Image>')}</Event>\n${parts[2]}</Event>\n`,
  );
  const mixed = await records(broken);
  assert.equal(mixed.length, 3);
  assert.equal(mixed.filter((r) => r.error).length, 1);
  assert.match(mixed[1]!.error!, /invalid XML/);
  assert.ok(mixed[1]!.line > 1);
});

test('a zip whose end record has a wrong comment length is still read (OTRF empire_launcher_sct_regsvr32)', async (t) => {
  const c = corpus();
  if (c.skip) return t.skip(c.skip);
  const recs = await records(join(c.path!, 'windows', 'otrf', 'empire_launcher_sct_regsvr32.zip'));
  assert.equal(recs.length, 2390);
  assert.ok(recs.every((r) => !r.error));
  assert.match(
    recs[0]!.file,
    /empire_launcher_sct_regsvr32\.zip!empire_launcher_sct_regsvr32_2020-07-21232741\.json$/,
  );
});

test('a file that is not a zip is reported, not a crash', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'lh-zip-'));
  const fake = join(tmp, 'fake.zip');
  writeFileSync(fake, 'this is not a zip archive');
  await assert.rejects(records(fake), /end-of-central-directory/);
});
