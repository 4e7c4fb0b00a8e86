// The GraphQL API through app.inject() (no sockets), against the real Neo4j.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { ingest } from '../ingest/pipeline.ts';
import { raiseAlerts } from '../src/alerts.ts';
import { getAnalytic, hunt } from '../src/analytics.ts';
import { buildApp } from '../src/app.ts';
import type { Db } from '../src/db.ts';
import { Scheduler } from '../src/scheduler.ts';
import { askGraphql, clearGraph, SAMPLE, testDb } from './helpers.ts';

let db: Db;
let app: FastifyInstance;
before(async () => {
  db = await testDb();
  await clearGraph(db);
  await ingest(db, [SAMPLE]);
  const scheduler = new Scheduler(db, {
    owner: 'api-test',
    startAt: new Date('2020-09-04T20:00:00Z'),
    clock: () => new Date('2020-09-04T20:05:00Z'),
  });
  await scheduler.ensureJobs();
  app = await buildApp({ db, scheduler });
});
after(async () => {
  await app?.close();
  await clearGraph(db);
  await db.close();
});

const gql = (query: string, variables: Record<string, unknown> = {}) => askGraphql(app, query, variables);

test('analytics lists AN1314 with its parameters, types, defaults and descriptions', async () => {
  const r = await gql(
    '{ analytics { id technique alertPolicy browserParams parameters { name type default description } } }',
  );
  assert.equal(r.errors, undefined);
  const a = r.data!.analytics.find((x: { id: string }) => x.id === 'AN1314');
  assert.ok(a);
  assert.equal(a.technique, 'T1204');
  assert.match(a.alertPolicy, /ALERT needs steps 3 and 4/);
  const p = Object.fromEntries(a.parameters.map((x: { name: string }) => [x.name, x]));
  assert.equal(p.timeWindowMinutes.type, 'Int');
  assert.equal(p.timeWindowMinutes.default, 15);
  assert.ok(p.highRiskChildren.default.includes('mshta.exe'));
  for (const x of a.parameters) assert.ok(x.description.length > 10, x.name);
  assert.match(a.browserParams, /^:params \{/);
});

test('hunt returns the empire chain with its steps and evidence', async () => {
  const r = await gql(
    `query($p: JSON) { hunt(analytic: "AN1314", from: "2020-09-04T00:00:00Z", to: "2020-09-05T00:00:00Z", params: $p) {
      alertCount parameters chains { alert score stepsFound host user root { name } lolbin { name key }
        lineage { name } steps { step found evidence { what time relation process { name } target { label name } via { name } } } } } }`,
    { p: { timeWindowMinutes: 10 } },
  );
  assert.equal(r.errors, undefined, JSON.stringify(r.errors));
  const h = r.data!.hunt;
  assert.equal(h.alertCount, 1);
  assert.equal(h.parameters.timeWindowMinutes, 10);
  const c = h.chains[0];
  assert.deepEqual(c.stepsFound, [1, 3, 4]);
  assert.equal(c.root.name, 'explorer.exe');
  assert.equal(c.lolbin.name, 'wscript.exe');
  // Evidence comes in time order: Security 5156 (whole seconds), then Sysmon 3.
  assert.deepEqual(
    c.steps[3].evidence.map((e: any) => [
      e.time,
      e.relation,
      e.process.name,
      e.target.name,
      e.via.map((v: any) => v.name),
    ]),
    [
      [
        '2020-09-04T20:09:59.000Z',
        'CONNECTED',
        'powershell.exe',
        '10.10.10.5',
        ['wscript.exe', 'powershell.exe'],
      ],
      [
        '2020-09-04T20:09:59.621Z',
        'CONNECTED',
        'powershell.exe',
        '10.10.10.5',
        ['wscript.exe', 'powershell.exe'],
      ],
    ],
  );
});

test('bad hunts get coded errors', async () => {
  const unknown = await gql('{ hunt(analytic: "AN9999") { alertCount } }');
  assert.equal(unknown.errors?.[0]?.extensions?.code, 'LH_ERR_UNKNOWN_ANALYTIC');
  const badType = await gql(
    '{ hunt(analytic: "AN1314", params: {timeWindowMinutes: "soon"}) { alertCount } }',
  );
  assert.equal(badType.errors?.[0]?.extensions?.code, 'LH_ERR_BAD_PARAMETER');
  const badName = await gql('{ hunt(analytic: "AN1314", params: {dropTables: true}) { alertCount } }');
  assert.equal(badName.errors?.[0]?.extensions?.code, 'LH_ERR_BAD_PARAMETER');
  const badDate = await gql('{ hunt(analytic: "AN1314", from: "yesterday") { alertCount } }');
  assert.ok(badDate.errors?.length);
});

test('GraphiQL is served and health reports Neo4j', async () => {
  const page = await app.inject({ method: 'GET', url: '/graphiql' });
  assert.equal(page.statusCode, 200);
  assert.match(page.body, /graphiql/i);
  const h = await gql('{ health { neo4j analytics } }');
  assert.deepEqual(h.data!.health, { neo4j: true, analytics: 1 });
});

test('alerts: list with filters and cursor, detail with evidence by step, triage by mutation', async () => {
  const { chains } = await hunt(db, { analytic: 'AN1314' });
  await raiseAlerts(db, getAnalytic('AN1314'), chains);
  const list = await gql(
    '{ alerts(filter: {analytic: "AN1314", status: new}) { total hasMore endCursor alerts { key severity score rootImage lolbinImage stepsFound } } }',
  );
  assert.equal(list.errors, undefined, JSON.stringify(list.errors));
  const page = list.data!.alerts;
  assert.equal(page.total, 1);
  assert.equal(page.hasMore, false);
  const key = page.alerts[0].key;
  assert.equal(page.endCursor, key);
  assert.deepEqual([page.alerts[0].rootImage, page.alerts[0].lolbinImage], ['explorer.exe', 'wscript.exe']);
  const next = await gql('query($after: String) { alerts(after: $after) { alerts { key } } }', {
    after: key,
  });
  assert.deepEqual(next.data!.alerts.alerts, []);
  const detail = await gql('query($k: ID!) { alert(key: $k) { status evidence { step label key } } }', {
    k: key,
  });
  const steps = new Set(detail.data!.alert.evidence.map((e: any) => e.step));
  assert.deepEqual([...steps].sort(), [1, 3, 4]);
  const triaged = await gql(
    'mutation($k: ID!) { updateAlert(key: $k, status: false_positive, assignee: "sam", note: "lab test", by: "sam") { status assignee notes history } }',
    { k: key },
  );
  assert.equal(triaged.errors, undefined, JSON.stringify(triaged.errors));
  assert.equal(triaged.data!.updateAlert.status, 'false_positive');
  assert.equal(triaged.data!.updateAlert.history.length, 2);
  const missing = await gql('mutation { updateAlert(key: "AN1314-nope", status: closed) { key } }');
  assert.equal(missing.errors?.[0]?.extensions?.code, 'LH_ERR_NOT_FOUND');
});

test('jobs: list, pause, run now, history', async () => {
  const jobs = await gql('{ jobs { id intervalSeconds lookbackSeconds watermark paused } }');
  assert.deepEqual(jobs.data!.jobs[0], {
    id: 'AN1314',
    intervalSeconds: 300,
    lookbackSeconds: 1200,
    watermark: '2020-09-04T20:00:00.000Z',
    paused: false,
  });
  const paused = await gql('mutation { pauseJob(id: "AN1314") { paused } }');
  assert.equal(paused.data!.pauseJob.paused, true);
  const ran = await gql('mutation { runJob(id: "AN1314") { kind status windowStart windowEnd chains } }');
  assert.equal(ran.errors, undefined, JSON.stringify(ran.errors));
  assert.deepEqual(ran.data!.runJob[0], {
    kind: 'scheduled',
    status: 'ok',
    windowStart: '2020-09-04T20:00:00.000Z',
    windowEnd: '2020-09-04T20:05:00.000Z',
    chains: 0,
  });
  const history = await gql('{ jobHistory(id: "AN1314") { windowEnd status } }');
  assert.equal(history.data!.jobHistory.length, 1);
  await gql('mutation { resumeJob(id: "AN1314") { paused } }');
});

test('every type and field of the API schema is described', async () => {
  const { readFileSync } = await import('node:fs');
  const { buildSchema, isInputObjectType, isObjectType } = await import('graphql');
  const schema = buildSchema(readFileSync(new URL('../schema/api.graphql', import.meta.url), 'utf8'));
  const missing: string[] = [];
  const builtIn = new Set(['Query', 'Mutation', 'Subscription', 'String', 'Int', 'Float', 'Boolean', 'ID']);
  for (const t of Object.values(schema.getTypeMap())) {
    if (t.name.startsWith('__')) continue;
    if (!t.description && !builtIn.has(t.name)) missing.push(t.name);
    if (isObjectType(t) || isInputObjectType(t))
      for (const f of Object.values(t.getFields())) if (!f.description) missing.push(`${t.name}.${f.name}`);
  }
  assert.deepEqual(missing, []);
});
