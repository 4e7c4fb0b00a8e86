// Windows path normalisation: the same file reaches the graph under one key whichever sensor saw it.

const SYSTEM_VARS: Record<string, string> = {
  systemroot: 'C:\\Windows',
  windir: 'C:\\Windows',
  systemdrive: 'C:',
  programfiles: 'C:\\Program Files',
  'programfiles(x86)': 'C:\\Program Files (x86)',
  programdata: 'C:\\ProgramData',
  public: 'C:\\Users\\Public',
};

/** Per-user variables, resolved when the event names its user (DOMAIN\name). */
const USER_VARS: Record<string, string> = {
  userprofile: '',
  appdata: '\\AppData\\Roaming',
  localappdata: '\\AppData\\Local',
  temp: '\\AppData\\Local\\Temp',
  tmp: '\\AppData\\Local\\Temp',
};

function userName(user: string | undefined): string | undefined {
  if (!user) return undefined;
  const name = user.includes('\\') ? user.slice(user.lastIndexOf('\\') + 1) : user;
  if (!name || /^(system|local service|network service|-)$/i.test(name)) return undefined;
  return name;
}

/**
 * Normalise a Windows path: strip NT prefixes (\??\, \\?\), resolve environment variables where
 * the value is known, resolve \Device\HarddiskVolumeN through the volume map, unify separators.
 * The original case is kept; keys fold it.
 */
export function normaliseWindowsPath(
  raw: string,
  user?: string,
  volumeMap: Record<string, string> = {},
): string {
  let p = raw.trim().replace(/\//g, '\\');
  if (p.startsWith('"') && p.endsWith('"') && p.length > 1) p = p.slice(1, -1);
  p = p.replace(/^\\\?\?\\/, '').replace(/^\\\\\?\\/, '');
  const volume = /^\\device\\(harddiskvolume\d+)\\/i.exec(p);
  if (volume) {
    const drive = volumeMap[volume[1]!.toLowerCase()];
    if (drive) p = `${drive}\\${p.slice(volume[0].length)}`;
  }
  const name = userName(user);
  p = p.replace(/%([^%\\]+)%/g, (whole, v: string) => {
    const key = v.toLowerCase();
    const sys = SYSTEM_VARS[key];
    if (sys !== undefined) return sys;
    const suffix = USER_VARS[key];
    if (suffix !== undefined && name) return `C:\\Users\\${name}${suffix}`;
    return whole;
  });
  return p.replace(/\\{2,}/g, (m, offset: number) => (offset === 0 ? m : '\\'));
}

export function baseName(path: string): string {
  const i = Math.max(path.lastIndexOf('\\'), path.lastIndexOf('/'));
  return i >= 0 ? path.slice(i + 1) : path;
}

// A path-like token with an extension: C:\..., \\server\share\..., %VAR%\..., or a bare file name.
const PATH_TOKEN = /^(?:[a-z]:\\|\\\\[^\\]+\\|%[^%]+%\\|\.{0,2}\\)?[^<>|*?\r\n]*\.[a-z0-9]{1,8}$/i;

/** Split a Windows command line into arguments (CommandLineToArgvW rules, simplified). */
export function splitCommandLine(cmd: string): string[] {
  const args: string[] = [];
  let cur = '';
  let quoted = false;
  let has = false;
  for (const ch of cmd) {
    if (ch === '"') {
      quoted = !quoted;
      has = true;
    } else if (!quoted && (ch === ' ' || ch === '\t')) {
      if (has) args.push(cur);
      cur = '';
      has = false;
    } else {
      cur += ch;
      has = true;
    }
  }
  if (has) args.push(cur);
  return args;
}

/**
 * Files named on a command line, besides the program itself: documents, scripts, archives, links.
 * Relative names are resolved against the current directory when it is known.
 */
export function filesOnCommandLine(
  commandLine: string | undefined,
  opts: { user?: string; currentDirectory?: string; volumeMap?: Record<string, string> } = {},
): string[] {
  if (!commandLine) return [];
  const args = splitCommandLine(commandLine).slice(1);
  const out: string[] = [];
  for (let arg of args) {
    // control.exe "x.cpl", and similar: list separators glued to an argument are not part of it.
    arg = arg.replace(/[,;]+$/, '');
    // Options like /u:path or -File=path carry the path after the separator.
    const opt = /^[-/][a-z]+[:=](.+)$/i.exec(arg);
    if (opt) arg = opt[1]!;
    if (arg.startsWith('-') || (arg.startsWith('/') && !arg.includes('\\'))) continue;
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(arg)) continue;
    if (!PATH_TOKEN.test(arg) || /^\d+(\.\d+)+$/.test(arg)) continue;
    if (!/[\\%]/.test(arg)) {
      if (!opts.currentDirectory) continue;
      arg = `${opts.currentDirectory.replace(/\\+$/, '')}\\${arg}`;
    }
    out.push(normaliseWindowsPath(arg, opts.user, opts.volumeMap));
  }
  return [...new Set(out)];
}
