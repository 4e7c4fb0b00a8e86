// Deterministic node keys (schema/graph-model.json says what each key is made of).
import { isIP } from 'node:net';
import type { ProcessRef } from './canonical.ts';
import { baseName } from './windows-paths.ts';

export const hostKey = (host: string): string => host.trim().toLowerCase();

export const fold = (path: string, caseInsensitive: boolean): string =>
  caseInsensitive ? path.toLowerCase() : path;

export const fileKey = (host: string, path: string, caseInsensitive: boolean): string =>
  `${hostKey(host)}|${fold(path, caseInsensitive)}`;

export const appKey = (image: string, caseInsensitive: boolean): string => fold(image, caseInsensitive);

export const imageName = (image: string | undefined): string | undefined =>
  image ? baseName(image).toLowerCase() : undefined;

/** host|pid:N|start:ISO-second: the identity Security 4688 and Sysmon 1 share for one process. */
export function pidKey(host: string, ref: ProcessRef): string | undefined {
  if (ref.pid === undefined || !ref.startTime) return undefined;
  return `${hostKey(host)}|pid:${ref.pid}|start:${ref.startTime.slice(0, 19)}`;
}

/** The key of a process whose identity is known (GUID, or pid and start time). */
export function processKey(host: string, ref: ProcessRef): string | undefined {
  if (ref.guid) return `${hostKey(host)}|${ref.guid}`;
  return pidKey(host, ref);
}

/** The key of a process only ever seen by pid (a parent or a connection's owner) with no better match. */
export function stubKey(host: string, ref: ProcessRef, caseInsensitive: boolean): string {
  const image = ref.image ? fold(ref.image, caseInsensitive) : '?';
  return `${hostKey(host)}|pid:${ref.pid ?? '?'}|image:${image}`;
}

export function normaliseGuid(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  const g = raw
    .trim()
    .replace(/^\{|\}$/g, '')
    .toLowerCase();
  return /^[0-9a-f-]{36}$/.test(g) && !/^0{8}-/.test(g) ? g : undefined;
}

export interface IpFacts {
  ip: string;
  version: 4 | 6;
  /** IPv4 as an unsigned integer, so CIDR allow-lists can be matched in Cypher. */
  ipNum?: number;
  scope: 'loopback' | 'link-local' | 'private' | 'multicast' | 'unspecified' | 'public';
}

export function ipFacts(raw: string): IpFacts | undefined {
  let ip = raw.trim();
  const mapped = /^(?:0:0:0:0:0:ffff:|::ffff:)(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) ip = mapped[1]!;
  const v = isIP(ip);
  if (v === 4) {
    const o = ip.split('.').map(Number) as [number, number, number, number];
    const ipNum = ((o[0] << 24) >>> 0) + (o[1] << 16) + (o[2] << 8) + o[3];
    let scope: IpFacts['scope'] = 'public';
    if (o[0] === 127) scope = 'loopback';
    else if (o[0] === 169 && o[1] === 254) scope = 'link-local';
    else if (o[0] === 0) scope = 'unspecified';
    else if (o[0] >= 224 && o[0] <= 239) scope = 'multicast';
    else if (o[0] === 10 || (o[0] === 172 && o[1] >= 16 && o[1] <= 31) || (o[0] === 192 && o[1] === 168))
      scope = 'private';
    return { ip, version: 4, ipNum, scope };
  }
  if (v === 6) {
    const lower = ip.toLowerCase();
    let scope: IpFacts['scope'] = 'public';
    if (lower === '::1' || lower === '0:0:0:0:0:0:0:1') scope = 'loopback';
    else if (lower === '::' || lower === '0:0:0:0:0:0:0:0') scope = 'unspecified';
    else if (/^fe[89ab]/.test(lower)) scope = 'link-local';
    else if (/^f[cd]/.test(lower)) scope = 'private';
    else if (lower.startsWith('ff')) scope = 'multicast';
    return { ip: lower, version: 6, scope };
  }
  return undefined;
}

export const ipDestinationKey = (ip: string): string => `ip:${ip}`;
export const domainDestinationKey = (domain: string): string =>
  `dns:${domain.trim().replace(/\.$/, '').toLowerCase()}`;
