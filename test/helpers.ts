// Shared test setup: a real Neo4j (the local test server that scripts/test.sh starts, or NEO4J_URI),
// and the public corpus in ../shared/datasets (or LINEAGE_CORPUS).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { loadConfig, ROOT } from '../src/config.ts';
import { connect, type Db } from '../src/db.ts';
import { migrate } from '../src/migrate.ts';

export { ROOT };

export async function testDb(): Promise<Db> {
  const db = await connect(loadConfig().neo4j);
  await migrate(db);
  return db;
}

/** Graph tests own the database they run against (the test server, never the demo's): they clear it. */
export async function clearGraph(db: Db): Promise<void> {
  for (;;) {
    const r = await db.write('MATCH (n) WITH n LIMIT 5000 DETACH DELETE n RETURN count(*) AS n');
    if (r.records[0]!.get('n') === 0) return;
  }
}

export async function countsByType(db: Db): Promise<Record<string, number>> {
  const nodes = await db.read('MATCH (n) RETURN labels(n)[0] AS k, count(*) AS c');
  const rels = await db.read('MATCH ()-[r]->() RETURN type(r) AS k, count(*) AS c');
  const out: Record<string, number> = {};
  for (const r of [...nodes.records, ...rels.records]) out[r.get('k') as string] = r.get('c') as number;
  return out;
}

/**
 * The public corpus (shared/datasets). Tests that read it fail with a clear message when it is missing;
 * LINEAGE_CORPUS=skip skips them instead, and says so.
 */
export function corpus(): { path?: string; skip?: string } {
  const env = process.env.LINEAGE_CORPUS;
  if (env === 'skip') return { skip: 'LINEAGE_CORPUS=skip: corpus tests not run' };
  const path = resolve(env ?? join(ROOT, '..', 'shared', 'datasets'));
  if (!existsSync(join(path, 'PROVENANCE.md')))
    throw new Error(
      `corpus not found at ${path}: set LINEAGE_CORPUS to the shared/datasets folder (or LINEAGE_CORPUS=skip to skip corpus tests)`,
    );
  return { path };
}

export const SAMPLE = join(ROOT, 'test', 'fixtures', 'otrf', 'empire_launcher_vbs.zip');
export const FIXTURES = join(ROOT, 'cypher', 'fixtures');

export interface GraphqlBody {
  data?: Record<string, any>;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
}

/** POST a GraphQL request through app.inject() (no socket); a 5xx fails the test. */
export async function askGraphql(
  app: FastifyInstance,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<GraphqlBody> {
  const res = await app.inject({ method: 'POST', url: '/graphql', payload: { query, variables } });
  assert.equal(res.statusCode < 500, true, res.body);
  return res.json() as GraphqlBody;
}
