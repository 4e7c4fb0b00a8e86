// The graph model, loaded once from schema/graph-model.json. Code names labels and relationship types
// only through label() and rel(), so nothing outside the model can reach a Cypher string.
import { readFileSync } from 'node:fs';

interface NodeSpec {
  key: string;
  description: string;
  indexes: string[];
}
interface RelSpec {
  from: string;
  to: string;
  timestamped: boolean;
  description: string;
}
export interface GraphModel {
  version: number;
  nodes: Record<string, NodeSpec>;
  relationships: Record<string, RelSpec>;
}

export const MODEL: GraphModel = Object.freeze(
  JSON.parse(readFileSync(new URL('../schema/graph-model.json', import.meta.url), 'utf8')) as GraphModel,
);

export type Label =
  | 'Host'
  | 'User'
  | 'App'
  | 'Process'
  | 'File'
  | 'Destination'
  | 'Container'
  | 'Instance'
  | 'Image'
  | 'Alert'
  | 'Job'
  | 'JobRun'
  | 'Suppression';

const IDENT = /^[A-Za-z][A-Za-z0-9_]*$/;

export function label(name: Label): string {
  if (!MODEL.nodes[name] || !IDENT.test(name)) throw new Error(`label ${name} is not in the graph model`);
  return name;
}

export function rel(name: string): string {
  if (!MODEL.relationships[name] || !IDENT.test(name))
    throw new Error(`relationship ${name} is not in the graph model`);
  return name;
}

/** Constraints and indexes derived from the model, each idempotent (IF NOT EXISTS). */
export function schemaStatements(model: GraphModel = MODEL): string[] {
  const out: string[] = [];
  for (const [name, spec] of Object.entries(model.nodes)) {
    if (!IDENT.test(name)) throw new Error(`bad label ${name} in graph model`);
    out.push(
      `CREATE CONSTRAINT ${name.toLowerCase()}_key IF NOT EXISTS FOR (n:${name}) REQUIRE n.key IS UNIQUE`,
    );
    for (const prop of spec.indexes) {
      if (!IDENT.test(prop)) throw new Error(`bad property ${prop} in graph model`);
      out.push(
        `CREATE INDEX ${name.toLowerCase()}_${prop.toLowerCase()} IF NOT EXISTS FOR (n:${name}) ON (n.${prop})`,
      );
    }
  }
  for (const [name, spec] of Object.entries(model.relationships)) {
    if (!IDENT.test(name)) throw new Error(`bad relationship type ${name} in graph model`);
    if (!spec.timestamped) continue;
    const low = name.toLowerCase();
    out.push(
      `CREATE CONSTRAINT ${low}_event IF NOT EXISTS FOR ()-[r:${name}]-() REQUIRE r.eventKey IS UNIQUE`,
    );
    out.push(`CREATE INDEX ${low}_time IF NOT EXISTS FOR ()-[r:${name}]-() ON (r.time)`);
  }
  return out;
}

/** The model as Markdown tables, for the README (a test keeps the two in step). */
export function modelMarkdown(model: GraphModel = MODEL): string {
  const row = (cells: string[]) =>
    `| ${cells.map((c) => c.replaceAll('\\', '\\\\').replaceAll('|', '\\|')).join(' | ')} |`;
  const lines = ['| label | key | what it is |', '|---|---|---|'];
  for (const [name, s] of Object.entries(model.nodes)) lines.push(row([name, s.key, s.description]));
  lines.push('', '| relationship | from → to | time-stamped | meaning |', '|---|---|---|---|');
  for (const [name, s] of Object.entries(model.relationships))
    lines.push(row([name, `${s.from} → ${s.to}`, s.timestamped ? 'yes' : 'no', s.description]));
  return lines.join('\n');
}
