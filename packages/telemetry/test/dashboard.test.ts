// The provisioned Grafana dashboard: valid against Grafana's schema, every panel on the pinned datasource, and a
// provisioning config that serves it read-only.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { WORKER_METRIC } from '../src/names';
import { checkDashboardSchema, dirOf } from './support/grafana-schema';
import {
  allPanels,
  DASHBOARD_PROVIDER_FILE,
  DATASOURCE_FILE,
  dashboardQueries,
  provisionedDatasourceUid,
  readDashboard,
} from './support/infra-files';
import { expandGrafanaVariables, structureOf } from './support/promql';

// The gradq series without a `run` label: a worker stands by for every run at once, and computes every run on one
// engine.
const RUNLESS = new Set<string>([WORKER_METRIC.standby, WORKER_METRIC.engine]);

describe('grafana dashboard gradq-training.json', () => {
  const dashboard = readDashboard();
  const panels = allPanels(dashboard);

  test('is valid against the @grafana/schema dashboard and panel types', () => {
    const problems = checkDashboardSchema(dashboard, dirOf(import.meta.url));
    assert.deepEqual(
      problems.map((p) => `${p.where}: ${p.message}`),
      [],
    );
  });

  test('the schema check catches mistakes (so the previous test means something)', () => {
    const broken = structuredClone(dashboard) as typeof dashboard & { graphTooltip?: unknown };
    broken.graphTooltip = 7;
    const stat = broken.panels?.find((p) => p.type === 'stat');
    assert.ok(stat);
    (stat.options as Record<string, unknown>).colorMode = 'rainbow';
    const problems = checkDashboardSchema(broken, dirOf(import.meta.url));
    assert.ok(problems.some((p) => p.where === 'dashboard' && /DashboardCursorSync/.test(p.message)));
    assert.ok(problems.some((p) => p.where.includes(`"${stat.title}"`) && /rainbow/.test(p.message)));
  });

  test('every panel and every query uses the provisioned datasource uid', () => {
    const uid = provisionedDatasourceUid();
    for (const panel of panels) {
      if (panel.type === 'row') continue;
      assert.deepEqual(panel.datasource, { type: 'prometheus', uid }, `panel "${panel.title}"`);
      assert.ok((panel.targets ?? []).length > 0, `panel "${panel.title}" has no query`);
      for (const target of panel.targets ?? []) {
        assert.equal(target.datasource?.uid, uid, `panel "${panel.title}" query ${target.refId}`);
      }
    }
  });

  test('a run variable lists the runs (label_values of the run label), All by default', () => {
    const variables = (dashboard.templating?.list ?? []) as Array<Record<string, unknown>>;
    const run = variables.find((v) => v.name === 'run');
    assert.ok(run, 'no template variable "run"');
    assert.equal(run.type, 'query');
    assert.deepEqual(run.datasource, { type: 'prometheus', uid: provisionedDatasourceUid() });
    assert.match(String((run.query as { query?: string }).query), /^label_values\(gradq_\w+, run\)$/);
    assert.equal(run.includeAll, true);
    assert.equal(run.allValue, '.*');
    assert.deepEqual((run.current as { value?: unknown }).value, ['$__all']);
    // Refreshed when the time range changes, so a run started since the dashboard opened shows up.
    assert.equal(run.refresh, 2);
  });

  test('every gradq selector filters by $run, and every aggregation of them keeps run apart', () => {
    const queries = dashboardQueries();
    let filtered = 0;
    for (const { where, expr } of queries) {
      const { selectors, aggregations } = structureOf(expandGrafanaVariables(expr));
      for (const s of selectors) {
        if (!s.name.startsWith('gradq_') || RUNLESS.has(s.name)) continue;
        assert.ok(s.matchers.includes('run=~$run'), `${where}: ${s.name} is not filtered by run=~"$run" (${expr})`);
        filtered++;
      }
      for (const a of aggregations) {
        const withRun = [...a.metrics].some((name) => name.startsWith('gradq_') && !RUNLESS.has(name));
        if (withRun) assert.ok(a.by?.includes('run'), `${where}: ${a.text} merges runs (no "by (run, ...)")`);
      }
    }
    assert.ok(filtered > 20, `only ${filtered} selectors checked`);
  });

  test('panel ids are unique and panels fit the 24-column grid without overlapping', () => {
    const ids = panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'duplicate panel id');
    const cells = new Map<string, string>();
    for (const panel of panels) {
      const g = panel.gridPos;
      assert.ok(g, `panel "${panel.title}" has no gridPos`);
      assert.ok(g.x >= 0 && g.w > 0 && g.x + g.w <= 24, `panel "${panel.title}" is outside the grid`);
      for (let x: number = g.x; x < g.x + g.w; x++) {
        for (let y: number = g.y; y < g.y + g.h; y++) {
          const other = cells.get(`${x},${y}`);
          assert.equal(other, undefined, `panels "${other}" and "${panel.title}" overlap at ${x},${y}`);
          cells.set(`${x},${y}`, String(panel.title));
        }
      }
    }
  });

  test('covers what an operator asks first', () => {
    const titles = panels.map((p) => p.title ?? '');
    for (const want of [
      'Loss',
      'Throughput',
      'Step time breakdown',
      'Workers seen',
      'Queue depth by state',
      'Duplicates and rejections',
      'Checkpoint duration',
      'Checkpoint failures (1h)',
      'Time since last checkpoint',
      'Gradient compute time per worker',
      'Bytes moved',
    ]) {
      assert.ok(titles.includes(want), `no panel "${want}"`);
    }
    const breakdown = panels.find((p) => p.title === 'Step time breakdown');
    const custom = breakdown?.fieldConfig?.defaults?.custom as { stacking?: { mode?: string } } | undefined;
    assert.equal(custom?.stacking?.mode, 'normal', 'the step time breakdown is stacked');
  });
});

describe('grafana provisioning', () => {
  test('the datasource points at the compose Prometheus with a pinned uid', () => {
    const config = parseYaml(readFileSync(DATASOURCE_FILE, 'utf8')) as {
      apiVersion: number;
      datasources: Array<Record<string, unknown>>;
    };
    assert.equal(config.apiVersion, 1);
    assert.equal(config.datasources.length, 1);
    assert.deepEqual(
      { uid: config.datasources[0]?.uid, type: config.datasources[0]?.type, url: config.datasources[0]?.url },
      { uid: 'gradq-prometheus', type: 'prometheus', url: 'http://prometheus:9090' },
    );
  });

  test('the dashboard provider loads files read-only from the mounted directory', () => {
    const config = parseYaml(readFileSync(DASHBOARD_PROVIDER_FILE, 'utf8')) as {
      apiVersion: number;
      providers: Array<{ type?: string; allowUiUpdates?: boolean; options?: { path?: string } }>;
    };
    assert.equal(config.apiVersion, 1);
    const [provider] = config.providers;
    assert.equal(provider?.type, 'file');
    assert.equal(provider?.allowUiUpdates, false);
    assert.equal(provider?.options?.path, '/var/lib/grafana/dashboards');
  });
});
