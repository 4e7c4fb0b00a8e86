// Settings from the environment, with the project's .env (or .env.example) as defaults. Secrets are
// read here and handed to the driver; they are never logged.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ERR } from './errors.ts';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

function parseEnvFile(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m || line.trimStart().startsWith('#')) continue;
    out[m[1]!] = m[2]!.replace(/^(['"])(.*)\1$/, '$2');
  }
  return out;
}

export interface Config {
  neo4j: { uri: string; user: string; password: string; database: string | undefined; local: boolean };
  api: { host: string; port: number };
  logLevel: string;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const file = [`${ROOT}.env`, `${ROOT}.env.example`].find((f) => existsSync(f));
  const defaults = file ? parseEnvFile(file) : {};
  const get = (k: string): string | undefined => env[k] ?? defaults[k];
  const password = get('NEO4J_PASSWORD');
  if (!password) throw ERR.config('NEO4J_PASSWORD is not set (put it in .env or the environment)');
  const uri = env.NEO4J_URI;
  const port = Number(get('LH_API_PORT') ?? 4000);
  if (!Number.isInteger(port) || port <= 0 || port > 65535)
    throw ERR.config(`LH_API_PORT ${get('LH_API_PORT')} is not a port`);
  return Object.freeze({
    neo4j: {
      uri: uri ?? `bolt://127.0.0.1:${get('NEO4J_BOLT_PORT') ?? 7687}`,
      user: get('NEO4J_USER') ?? 'neo4j',
      password,
      database: get('NEO4J_DATABASE') || undefined,
      local: !uri,
    },
    api: { host: get('LH_API_HOST') ?? '127.0.0.1', port },
    logLevel: get('LOG_LEVEL') ?? 'info',
  });
}
