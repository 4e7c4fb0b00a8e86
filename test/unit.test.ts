// Pure functions: paths, keys, command lines, the model's derived schema, the analytic headers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ipFacts, normaliseGuid, pidKey, processKey } from '../ingest/keys.ts';
import { parsePid } from '../ingest/windows-events.ts';
import { filesOnCommandLine, normaliseWindowsPath, splitCommandLine } from '../ingest/windows-paths.ts';
import { loadAnalytics, parseAnalytic, resolveParams } from '../src/analytics.ts';
import type { LineageError } from '../src/errors.ts';
import { MODEL, rel, schemaStatements } from '../src/model.ts';

test('Windows paths: NT prefixes, variables and device volumes are resolved', () => {
  assert.equal(
    normaliseWindowsPath('\\??\\C:\\windows\\system32\\conhost.exe'),
    'C:\\windows\\system32\\conhost.exe',
  );
  assert.equal(
    normaliseWindowsPath('%TEMP%\\info.txt', 'LAB\\ieuser'),
    'C:\\Users\\ieuser\\AppData\\Local\\Temp\\info.txt',
  );
  assert.equal(normaliseWindowsPath('%SystemRoot%\\x.exe'), 'C:\\Windows\\x.exe');
  // A per-user variable with no known user stays as it is rather than guessing.
  assert.equal(normaliseWindowsPath('%APPDATA%\\a.js', 'NT AUTHORITY\\SYSTEM'), '%APPDATA%\\a.js');
  assert.equal(
    normaliseWindowsPath('\\device\\harddiskvolume2\\windows\\x.exe', undefined, { harddiskvolume2: 'C:' }),
    'C:\\windows\\x.exe',
  );
  assert.equal(
    normaliseWindowsPath('\\device\\harddiskvolume2\\windows\\x.exe'),
    '\\device\\harddiskvolume2\\windows\\x.exe',
  );
  assert.equal(normaliseWindowsPath('\\\\server\\share\\a.doc'), '\\\\server\\share\\a.doc');
});

test('command lines: arguments and the files they name', () => {
  assert.deepEqual(splitCommandLine('"C:\\a b\\w.exe" /n "C:\\x y.docm" -z'), [
    'C:\\a b\\w.exe',
    '/n',
    'C:\\x y.docm',
    '-z',
  ]);
  assert.deepEqual(
    filesOnCommandLine('"C:\\windows\\System32\\WScript.exe" "C:\\Users\\p\\Desktop\\launcher.vbs" '),
    ['C:\\Users\\p\\Desktop\\launcher.vbs'],
  );
  assert.deepEqual(
    filesOnCommandLine('wscript.exe launcher.vbs', { currentDirectory: 'C:\\Users\\p\\Desktop\\' }),
    ['C:\\Users\\p\\Desktop\\launcher.vbs'],
  );
  assert.deepEqual(filesOnCommandLine('powershell -noP -enc SQBmAA== http://x.example/a.ps1'), []);
  assert.deepEqual(
    filesOnCommandLine('"C:\\Windows\\System32\\control.exe" "C:\\Users\\u\\Downloads\\Invoice@0582.cpl",'),
    ['C:\\Users\\u\\Downloads\\Invoice@0582.cpl'],
  );
  assert.deepEqual(filesOnCommandLine('mshta.exe /u:%TEMP%\\a.hta', { user: 'LAB\\bob' }), [
    'C:\\Users\\bob\\AppData\\Local\\Temp\\a.hta',
  ]);
});

test('keys: GUIDs, pids and IP facts', () => {
  assert.equal(
    normaliseGuid('{860BA2E3-9F13-5F52-2603-000000000400}'),
    '860ba2e3-9f13-5f52-2603-000000000400',
  );
  assert.equal(normaliseGuid('00000000-0000-0000-0000-000000000000'), undefined);
  assert.equal(parsePid('0x988'), 2440);
  assert.equal(parsePid('2440'), 2440);
  assert.equal(parsePid('-'), undefined);
  const ref = { pid: 2440, startTime: '2020-09-04T20:09:55.035Z' };
  assert.equal(pidKey('HOST', ref), 'host|pid:2440|start:2020-09-04T20:09:55');
  assert.equal(processKey('HOST', { ...ref, guid: 'abc' }), 'host|abc');
  assert.deepEqual(ipFacts('10.10.10.5'), {
    ip: '10.10.10.5',
    version: 4,
    ipNum: 168430085,
    scope: 'private',
  });
  assert.equal(ipFacts('0:0:0:0:0:0:0:1')?.scope, 'loopback');
  assert.equal(ipFacts('::ffff:104.40.17.153')?.ip, '104.40.17.153');
  assert.equal(ipFacts('169.254.169.254')?.scope, 'link-local');
  assert.equal(ipFacts('not an ip'), undefined);
});

test('the graph model derives one uniqueness constraint per label and an event-time index per time-stamped edge', () => {
  const s = schemaStatements();
  for (const label of Object.keys(MODEL.nodes))
    assert.ok(
      s.some((x) => x.includes(`(n:${label}) REQUIRE n.key IS UNIQUE`)),
      label,
    );
  for (const [type, spec] of Object.entries(MODEL.relationships)) {
    const indexed = s.some((x) => x.includes(`[r:${type}]-() ON (r.time)`));
    assert.equal(indexed, spec.timestamped, type);
  }
  assert.ok(s.every((x) => x.includes('IF NOT EXISTS')));
  assert.throws(() => rel('DROP_EVERYTHING'), /not in the graph model/);
});

test('analytic headers are validated strictly', () => {
  const good = loadAnalytics();
  assert.ok(good.length >= 1);
  const text = good[0]!.cypher;
  const err = (t: string) => {
    try {
      parseAnalytic('x.cypher', t);
    } catch (e) {
      return (e as LineageError).code;
    }
    return 'no error';
  };
  assert.equal(err('MATCH (n) RETURN n'), 'LH_ERR_ANALYTIC_FILE');
  assert.equal(
    err(text.replace('// surface: windows\n', '// surface: windows\n// colour: blue\n')),
    'LH_ERR_ANALYTIC_FILE',
  );
  assert.equal(err(text.replace("type: '[String]'", 'type: List')), 'LH_ERR_ANALYTIC_FILE');
  const a = good.find((x) => x.id === 'AN1314')!;
  assert.throws(() => resolveParams(a, { timeWindowMinutes: 'soon' }), { code: 'LH_ERR_BAD_PARAMETER' });
  assert.throws(() => resolveParams(a, { nope: 1 }), { code: 'LH_ERR_BAD_PARAMETER' });
  assert.throws(() => resolveParams(a, { maxDepth: 9 }), { code: 'LH_ERR_BAD_PARAMETER' });
  assert.throws(() => resolveParams(a, { from: '2021-01-01T00:00:00Z', to: '2020-01-01T00:00:00Z' }), {
    code: 'LH_ERR_BAD_PARAMETER',
  });
  assert.equal(resolveParams(a, { timeWindowMinutes: 5 }).timeWindowMinutes, 5);
});

test("the README's model tables are the model's", async () => {
  const { readFileSync } = await import('node:fs');
  const { modelMarkdown } = await import('../src/model.ts');
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.split('<!-- model:start -->\n')[1]?.split('<!-- model:end -->')[0]?.trim();
  assert.equal(
    section,
    modelMarkdown(),
    'run: npm run cli -- model, and paste it between the README markers',
  );
});
