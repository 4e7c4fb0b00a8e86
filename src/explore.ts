// Exploring the graph from the API: a process's lineage up and down, any entity with its neighbourhood,
// lookups by host, user, file, destination or image, and campaigns (alerts that share a node). Each is
// one query, whatever the size of the answer: no round trip per row.
import { type AlertView, listAlerts } from './alerts.ts';
import { type EntityView, entityView } from './analytics.ts';
import { type Db, plain } from './db.ts';
import { LineageError } from './errors.ts';
import { type Label, label, MODEL, rel } from './model.ts';

const P = label('Process');
const SPAWNED = rel('SPAWNED');

/** A node from a query result as the API shows entities. */
const entity = (raw: unknown): EntityView | null => entityView(plain(raw));

export async function lineage(db: Db, key: string, up = 4, down = 4) {
  const res = await db.read(
    `MATCH (p:${P} {key: $key})
     OPTIONAL MATCH u = (a:${P})-[:${SPAWNED}*1..8]->(p) WHERE length(u) <= $up
     WITH p, a, min(length(u)) AS depth ORDER BY depth
     WITH p, collect(CASE WHEN a IS NULL THEN null ELSE a END) AS ancestors
     OPTIONAL MATCH d = (p)-[:${SPAWNED}*1..8]->(c:${P}) WHERE length(d) <= $down
     WITH p, ancestors, c, head(collect(last(relationships(d)))) AS edge
     ORDER BY c.startTime, c.key
     RETURN p, ancestors,
            collect(CASE WHEN c IS NULL THEN null ELSE {parent: startNode(edge).key, time: c.startTime, child: c} END) AS descendants`,
    { key, up: Math.max(0, Math.min(up, 8)), down: Math.max(0, Math.min(down, 8)) },
  );
  const r = res.records[0];
  if (!r) throw new LineageError('LH_ERR_NOT_FOUND', `no process ${key}`);
  return {
    process: entity(r.get('p'))!,
    ancestors: (r.get('ancestors') as unknown[]).map(entity).filter((x): x is EntityView => x !== null),
    descendants: (
      plain(r.get('descendants')) as Array<{ parent: string; time: string | null; child: unknown }>
    ).map((d) => ({ parent: d.parent, time: d.time, child: entity(d.child)! })),
  };
}

/** An entity and its latest relationships (both directions), newest first. */
export async function neighbourhood(db: Db, lbl: string, key: string, limit = 100) {
  if (!(lbl in MODEL.nodes)) throw new LineageError('LH_ERR_INPUT', `no label ${lbl} in the graph model`);
  const res = await db.read(
    `MATCH (n:${label(lbl as Label)} {key: $key})
     OPTIONAL MATCH (n)-[r]-(m)
     WITH n, r, m ORDER BY r.time DESC LIMIT toInteger($limit)
     RETURN n, collect(CASE WHEN r IS NULL THEN null ELSE
       {type: type(r), outgoing: startNode(r) = n, time: r.time, properties: properties(r), other: m} END) AS edges`,
    { key, limit: Math.max(1, Math.min(limit, 1000)) },
  );
  const r = res.records[0];
  if (!r) return null;
  return {
    entity: entity(r.get('n'))!,
    relationships: (r.get('edges') as Array<Record<string, unknown>>).map((e) => ({
      type: String(e.type),
      direction: e.outgoing ? 'out' : 'in',
      time: (plain(e.time) as string | null) ?? null,
      properties: plain(e.properties) as Record<string, unknown>,
      other: entity(e.other)!,
    })),
  };
}

export const LOOKUPS = ['host', 'user', 'fileHash', 'filePath', 'destination', 'image'] as const;
export type Lookup = (typeof LOOKUPS)[number];

/** Find entities by what a hunter knows about them (at most 50). */
export async function lookup(db: Db, kind: Lookup, value: string): Promise<EntityView[]> {
  const v = value.trim();
  const q: Record<Lookup, string> = {
    host: `MATCH (n:${label('Host')}) WHERE n.key = toLower($v) OR n.key STARTS WITH toLower($v) + '.' RETURN n`,
    user: `MATCH (n:${label('User')}) WHERE n.key = toLower($v) OR n.key ENDS WITH '\\\\' + toLower($v) OR n.sid = $v RETURN n`,
    fileHash: `MATCH (n:${P}) WHERE toUpper(n.hashes) CONTAINS '=' + toUpper($v) RETURN n`,
    filePath: `MATCH (n:${label('File')}) WHERE n.key ENDS WITH toLower($v) OR toLower(n.path) CONTAINS toLower($v) RETURN n`,
    destination: `MATCH (n:${label('Destination')}) WHERE n.key IN ['ip:' + toLower($v), 'dns:' + toLower($v)] OR n.domain ENDS WITH '.' + toLower($v) RETURN n`,
    image: `MATCH (n:${label('App')}) WHERE n.key = toLower($v) OR n.key ENDS WITH '\\\\' + toLower($v) OR n.name = toLower($v) RETURN n`,
  };
  if (!LOOKUPS.includes(kind))
    throw new LineageError('LH_ERR_INPUT', `lookup kind must be one of ${LOOKUPS.join(', ')}`);
  if (!v) throw new LineageError('LH_ERR_INPUT', 'lookup needs a value');
  const res = await db.read(`${q[kind]} LIMIT 50`, { v });
  return res.records.map((r) => entity(r.get('n'))!);
}

export interface Campaign {
  kind: 'destination' | 'fileHash' | 'image' | 'user';
  value: string;
  alerts: AlertView[];
}

/**
 * Alerts that share a destination, a file hash, an unusual image (one outside C:\Windows and the
 * program folders) or a user. One query gathers every alert's evidence nodes; grouping is done here.
 */
export async function campaigns(db: Db): Promise<Campaign[]> {
  const res = await db.read(
    `MATCH (a:${label('Alert')}) WHERE NOT coalesce(a.suppressed, false)
     OPTIONAL MATCH (a)-[:${rel('EVIDENCE')}]->(n)
     WHERE n:${label('Destination')} OR n:${P}
     RETURN a.key AS key, a.user AS user,
            collect(DISTINCT CASE WHEN n:${label('Destination')} THEN n.key END) AS destinations,
            collect(DISTINCT CASE WHEN n:${P} THEN n.hashes END) AS hashes,
            collect(DISTINCT CASE WHEN n:${P} THEN toLower(n.image) END) AS images`,
  );
  const groups = new Map<string, Set<string>>();
  const add = (kind: Campaign['kind'], value: string, key: string) => {
    const id = `${kind}\n${value}`;
    if (!groups.has(id)) groups.set(id, new Set());
    groups.get(id)!.add(key);
  };
  for (const r of res.records) {
    const key = r.get('key') as string;
    for (const d of r.get('destinations') as string[]) add('destination', d, key);
    for (const h of r.get('hashes') as string[])
      for (const m of h.matchAll(/SHA256=([0-9A-F]{64})/gi)) add('fileHash', m[1]!.toUpperCase(), key);
    for (const i of r.get('images') as string[])
      if (!/^(c:\\windows\\|c:\\program files)/.test(i)) add('image', i, key);
    const user = r.get('user') as string | null;
    if (user) add('user', user.toLowerCase(), key);
  }
  const shared = [...groups].filter(([, keys]) => keys.size > 1);
  if (shared.length === 0) return [];
  const all = new Map((await listAlerts(db, {}, 500)).alerts.map((a) => [a.key, a] as const));
  return shared.map(([id, keys]) => {
    const [kind, value] = id.split('\n') as [Campaign['kind'], string];
    return {
      kind,
      value,
      alerts: [...keys].map((k) => all.get(k)).filter((a): a is AlertView => a !== undefined),
    };
  });
}
