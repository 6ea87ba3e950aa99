import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { LineageResolver } from '../../src/ingest/lineage-resolver.ts';
import { readOwnLineage } from '../../src/ingest/normalizer.ts';
import { envSchema, loadConfig } from '../../src/config.ts';
import { ChdbExecutor } from '../../src/storage/clickhouse/chdb-executor.ts';
import { ClickHouseSpanStore } from '../../src/storage/clickhouse/clickhouse-span-store.ts';
import { createSpan, newTraceId } from '../helpers/factories.ts';
import { removeDir, tempDataDir } from '../helpers/server.ts';

// There is no Docker engine on this project's machines, so docker-compose.yml is checked as data:
// images pinned, health checks, ports, and the promptline service's environment against the
// configuration schema. The Grafana dashboard's SQL runs on the real schema (in-process engine).

const ROOT = resolve(import.meta.dirname, '../..');
type Service = {
  image?: string;
  build?: unknown;
  environment?: Record<string, string | number | boolean>;
  ports?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
};
const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as { services: Record<string, Service>; volumes: Record<string, unknown> };

/** The compose file's ${VAR} and ${VAR:?msg} placeholders, filled in as a user's shell would. */
const fill = (v: string) => v.replace(/\$\{(\w+)(?::\?[^}]*)?\}/g, (_m, name: string) => `test-${name.toLowerCase()}`);

describe('Dockerfile', () => {
  // The instructions of the image's last stage, one per line (continuations joined).
  const stages = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')).join('\n').split(/^FROM /m);
  const last = stages.at(-1)!.split('\n');
  const at = (re: RegExp) => last.findIndex((l) => re.test(l));

  it('makes the data volume owned by the user the server runs as, before it is a volume, so a fresh container can write it', () => {
    const user = /^USER (\S+)/.exec(last[at(/^USER /)] ?? '')?.[1];
    expect(user).toBeDefined();
    expect(user).not.toBe('root');
    const volume = at(/^VOLUME \[?"?\/data"?\]?/);
    const made = at(new RegExp(`^RUN .*mkdir -p /data.*chown ${user}(:${user})? /data`));
    expect({ volume: volume >= 0, made: made >= 0, madeBeforeVolume: made < volume }).toEqual({ volume: true, made: true, madeBeforeVolume: true });
    const env = last.find((l) => l.startsWith('ENV ') && l.includes('PROMPTLINE_DATA_DIR='));
    expect(env).toMatch(/PROMPTLINE_DATA_DIR=\/data(\s|$)/);
  });
});

describe('docker-compose.yml', () => {
  it('runs ClickHouse, Neo4j 5.26, Promptline and Grafana, each with a health check', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['clickhouse', 'grafana', 'neo4j', 'promptline']);
    expect(compose.services.neo4j!.image).toBe('neo4j:5.26');
    for (const [name, svc] of Object.entries(compose.services)) {
      expect(svc.healthcheck?.test.length, name).toBeGreaterThan(0);
      if (name !== 'promptline') expect(svc.image, name).toMatch(/^[\w./-]+:\d+(\.\d+)+$/); // a pinned version, never latest
    }
    expect(compose.services.promptline!.build).toBeDefined();
  });

  it('gives Promptline only variables its configuration schema knows, and a valid configuration', () => {
    const env = compose.services.promptline!.environment!;
    const known = new Set(Object.keys(envSchema.def.shape ?? {}));
    expect(Object.keys(env).filter((k) => !known.has(k))).toEqual([]);
    const config = loadConfig(Object.fromEntries(Object.entries(env).map(([k, v]) => [k, fill(String(v))])));
    expect(config.clickhouseUrl).toMatch(/^http:\/\/promptline:test-clickhouse_password@clickhouse:8123\/promptline$/);
    expect(config.neo4j).toEqual({ url: 'bolt://neo4j:7687', user: 'neo4j', password: 'test-neo4j_password' });
    expect(config.host).toBe('0.0.0.0');
    expect(compose.services.promptline!.ports).toEqual([`127.0.0.1:${config.port}:${config.port}`, `127.0.0.1:${config.grpc!.port}:${config.grpc!.port}`]);
  });

  it('starts Promptline only once its stores are healthy, keeps its spool on a volume, and publishes on loopback only', () => {
    expect(compose.services.promptline!.depends_on).toEqual({ clickhouse: { condition: 'service_healthy' }, neo4j: { condition: 'service_healthy' } });
    expect(compose.services.promptline!.volumes).toEqual(['promptline-spool:/data']);
    for (const svc of Object.values(compose.services)) for (const p of svc.ports ?? []) expect(p).toMatch(/^127\.0\.0\.1:/);
  });

  it('provisions Grafana with the ClickHouse data source reading otel_traces as traces, and the dashboards folder', () => {
    const ds = parse(readFileSync(join(ROOT, 'dashboards/provisioning/datasources/clickhouse.yaml'), 'utf8')) as {
      datasources: Array<{ type: string; uid: string; jsonData: { host: string; port: number; username: string; defaultDatabase: string; traces: { defaultTable: string; otelEnabled: boolean } } }>;
    };
    const source = ds.datasources[0]!;
    expect(source.type).toBe('grafana-clickhouse-datasource');
    expect(source.jsonData.traces).toMatchObject({ defaultTable: 'otel_traces', otelEnabled: true });
    const ch = compose.services.clickhouse!.environment!;
    expect([source.jsonData.host, source.jsonData.username, source.jsonData.defaultDatabase]).toEqual(['clickhouse', ch.CLICKHOUSE_USER, ch.CLICKHOUSE_DB]);
    const providers = parse(readFileSync(join(ROOT, 'dashboards/provisioning/dashboards/promptline.yaml'), 'utf8')) as { providers: Array<{ options: { path: string } }> };
    const mounted = compose.services.grafana!.volumes!.map((v) => v.split(':')[1]);
    expect(mounted).toContain(providers.providers[0]!.options.path);
    const dashboard = JSON.parse(readFileSync(join(ROOT, 'dashboards/promptline-lineage.json'), 'utf8')) as { panels: Array<{ targets: Array<{ datasource: { uid: string } }> }> };
    for (const p of dashboard.panels) for (const t of p.targets) expect(t.datasource.uid).toBe(source.uid);
  });
});

describe('the Grafana dashboard', () => {
  const dir = tempDataDir('dashboard-sql-');
  const exec = new ChdbExecutor(join(dir, 'clickhouse'));
  const store = new ClickHouseSpanStore(exec);
  const dashboard = JSON.parse(readFileSync(join(ROOT, 'dashboards/promptline-lineage.json'), 'utf8')) as {
    panels: Array<{ title: string; targets: Array<{ rawSql: string }> }>;
    templating: { list: Array<{ name: string; query: string; current: { value: string | string[] } }> };
  };
  const variable = (name: string) => dashboard.templating.list.find((v) => v.name === name)!;
  /** How Grafana's ClickHouse data source substitutes the project variable: one quoted value. */
  const PROJECT = '${project:singlequote}';

  beforeAll(async () => {
    await store.migrate();
    // The same prompt in two projects: a panel shows only the project its variable names.
    for (const project of ['default', 'other-team']) {
      const traceId = newTraceId();
      const step = createSpan({ traceId, attrs: { 'gen_ai.prompt.name': 'support-answer', 'gen_ai.prompt.version': 3, 'promptline.prompt.alias': 'production' } });
      const call = createSpan({ traceId, parentSpanId: step.spanId, attrs: { 'gen_ai.response.model': 'gpt-4o', 'gen_ai.provider.name': 'openai', 'gen_ai.response.id': `dash-${project}` } });
      const out = await new LineageResolver({ load: async () => [] }).resolve(project, [step, call].map((span) => ({ span, own: readOwnLineage(span) })));
      await (await store.stageSpans(project, out.spans)).write(`dashboard-${project}`);
    }
  });
  afterAll(async () => {
    await store.close();
    removeDir(dir);
  });

  /** Grafana's macros and the dashboard's variables, as Grafana would expand them for the last day. */
  const expand = (sql: string, project: string) =>
    sql
      .replaceAll(/\$__timeFilter\((\w+)\)/g, '$1 >= now() - INTERVAL 1 DAY AND $1 <= now() + INTERVAL 1 HOUR')
      .replaceAll(/\$__timeInterval\((\w+)\)/g, 'toStartOfMinute($1)')
      .replaceAll(PROJECT, `'${project}'`)
      .replaceAll('${prompt:singlequote}', "'support-answer'");

  it('filters every panel and the prompt list by the project variable, which defaults to the default project', () => {
    expect(variable('project').current.value).toBe('default');
    for (const panel of dashboard.panels) for (const t of panel.targets) expect(t.rawSql, panel.title).toContain(`ProjectId = ${PROJECT}`);
    expect(variable('prompt').query).toContain(`ProjectId = ${PROJECT}`);
  });

  it('has panels whose SQL runs on the real schema and finds the response of the chosen project only', async () => {
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(4);
    for (const panel of dashboard.panels) {
      for (const t of panel.targets) {
        const rows = await exec.query<Record<string, unknown>>(expand(t.rawSql, 'default'));
        expect(rows.length, panel.title).toBeGreaterThan(0);
        expect(await exec.query(expand(t.rawSql, 'no-such-project')), panel.title).toEqual([]);
      }
    }
    const latest = dashboard.panels.find((p) => p.title === 'Latest responses and their lineage')!;
    const responses = async (project: string) => (await exec.query<{ response_id: string }>(expand(latest.targets[0]!.rawSql, project))).map((r) => r.response_id);
    expect(await responses('default')).toEqual(['dash-default']);
    expect(await responses('other-team')).toEqual(['dash-other-team']);
    const projects = await exec.query<{ ProjectId: string }>(expand(variable('project').query, 'default'));
    expect(projects.map((r) => r.ProjectId)).toEqual(['default', 'other-team']);
    const names = await exec.query<{ PromptName: string }>(expand(variable('prompt').query, 'default'));
    expect(names.map((r) => r.PromptName)).toEqual(['support-answer']);
  });
});
