// The one place a Neo4j driver is made. Everything else receives a Db.
import neo4j, {
  type Driver,
  type ManagedTransaction,
  type QueryResult,
  type RecordShape,
} from 'neo4j-driver';
import type { Config } from './config.ts';
import { ERR } from './errors.ts';

export interface Db {
  driver: Driver;
  database: string | undefined;
  uri: string;
  read<T extends RecordShape = RecordShape>(
    cypher: string,
    params?: Record<string, unknown>,
  ): Promise<QueryResult<T>>;
  write<T extends RecordShape = RecordShape>(
    cypher: string,
    params?: Record<string, unknown>,
  ): Promise<QueryResult<T>>;
  /** Run work in one write transaction; transient errors (leader switch, deadlock, restart) are retried. */
  writeTx<T>(work: (tx: ManagedTransaction) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export async function connect(cfg: Config['neo4j']): Promise<Db> {
  const driver = neo4j.driver(cfg.uri, neo4j.auth.basic(cfg.user, cfg.password), {
    disableLosslessIntegers: true,
    maxTransactionRetryTime: 60_000,
    connectionAcquisitionTimeout: 30_000,
    logging: { level: 'error', logger: () => {} },
  });
  try {
    await driver.verifyConnectivity(cfg.database ? { database: cfg.database } : {});
  } catch (err) {
    await driver.close();
    const code = (err as { code?: string }).code ?? '';
    if (code.includes('Security.Unauthorized') || code.includes('AuthenticationRateLimit'))
      throw ERR.neo4jAuth(cfg.uri, cfg.user);
    throw ERR.neo4jUnavailable(cfg.uri, err);
  }
  const db = cfg.database;
  const sessionOpts = (mode: 'READ' | 'WRITE') => ({
    defaultAccessMode: mode === 'READ' ? neo4j.session.READ : neo4j.session.WRITE,
    ...(db ? { database: db } : {}),
  });
  return {
    driver,
    database: db,
    uri: cfg.uri,
    read: (cypher, params = {}) =>
      driver.executeQuery(cypher, params, { routing: 'READ', ...(db ? { database: db } : {}) }),
    write: (cypher, params = {}) =>
      driver.executeQuery(cypher, params, { routing: 'WRITE', ...(db ? { database: db } : {}) }),
    async writeTx(work) {
      const session = driver.session(sessionOpts('WRITE'));
      try {
        return await session.executeWrite(work);
      } finally {
        await session.close();
      }
    },
    close: () => driver.close(),
  };
}

/** Neo4j temporal and graph values to plain JSON-friendly values. */
export function plain(v: unknown): unknown {
  if (v === null || v === undefined) return v ?? null;
  if (Array.isArray(v)) return v.map(plain);
  if (neo4j.isDateTime(v as never) || neo4j.isDate(v as never) || neo4j.isLocalDateTime(v as never)) {
    const dt = v as { toString(): string; year: number };
    try {
      return new Date(dt.toString()).toISOString();
    } catch {
      return dt.toString();
    }
  }
  if (neo4j.isDuration(v as never)) return (v as { toString(): string }).toString();
  if (neo4j.isNode(v as never)) {
    const n = v as unknown as { labels: string[]; properties: Record<string, unknown>; elementId: string };
    return { labels: n.labels, elementId: n.elementId, properties: plain(n.properties) };
  }
  if (neo4j.isRelationship(v as never)) {
    const r = v as unknown as { type: string; properties: Record<string, unknown>; elementId: string };
    return { type: r.type, elementId: r.elementId, properties: plain(r.properties) };
  }
  if (typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = plain(x);
    return out;
  }
  return v;
}
