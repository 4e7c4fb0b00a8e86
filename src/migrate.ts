// Applies the constraints and indexes derived from the graph model. Idempotent: run at every start.
import type { Db } from './db.ts';
import { schemaStatements } from './model.ts';

export async function migrate(db: Db): Promise<{ statements: number }> {
  const statements = schemaStatements();
  for (const s of statements) await db.write(s);
  await db.write('CALL db.awaitIndexes(120)');
  return { statements: statements.length };
}
