// Every metric the dashboard and the alert rules query must be one the services export. The exported set is read
// from a live /metrics of servers built with createCoordinatorMetrics and createWorkerMetrics (plus the default
// process metrics), so a rename in the package, or a typo in infra/, fails here rather than as an empty panel.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  createCoordinatorMetrics,
  createMetricsRegistry,
  createWorkerMetrics,
  type MetricsServer,
  startMetricsServer,
} from '../src/index';
import { GRADQ_METRIC_NAMES } from '../src/names';
import { alertQueries, dashboardQueries, type QuerySource } from './support/infra-files';
import { expandGrafanaVariables, metricNamesOf } from './support/promql';

// Series Prometheus itself attaches to every target; no service exports them.
const SCRAPE_SERIES = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped', 'scrape_series_added']);

/** Series names in a Prometheus text exposition, with a histogram's _bucket/_sum/_count and a summary's parts. */
function exportedSeriesNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const match of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name = '', type] = match;
    names.add(name);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(name + suffix);
  }
  return names;
}

describe('metrics queried by infra/ exist', () => {
  const servers: MetricsServer[] = [];
  const exported = new Set<string>();

  before(async () => {
    const coordinator = createMetricsRegistry({ role: 'coordinator', run: 'r' });
    createCoordinatorMetrics(coordinator);
    const worker = createMetricsRegistry({ role: 'worker' });
    createWorkerMetrics(worker);
    for (const registry of [coordinator, worker]) {
      const server = await startMetricsServer(registry, { port: 0, host: '127.0.0.1' });
      servers.push(server);
      const text = await (await fetch(`${server.url}/metrics`)).text();
      for (const name of exportedSeriesNames(text)) exported.add(name);
    }
  });
  after(() => Promise.all(servers.map((s) => s.close())));

  const check = (queries: QuerySource[]) => {
    assert.ok(queries.length > 0);
    const used = new Set<string>();
    for (const { where, expr } of queries) {
      const names = metricNamesOf(expandGrafanaVariables(expr));
      assert.ok(names.size > 0, `${where}: no metric in ${expr}`);
      for (const name of names) {
        used.add(name);
        const known = exported.has(name) || (!name.startsWith('gradq_') && SCRAPE_SERIES.has(name));
        assert.ok(known, `${where} queries ${name}, which no gradq service exports (expr: ${expr})`);
      }
    }
    return used;
  };

  test('the live /metrics includes every documented gradq name', () => {
    for (const name of GRADQ_METRIC_NAMES) assert.ok(exported.has(name), name);
  });

  test('dashboard panels', () => {
    check(dashboardQueries());
  });

  test('alert rules', () => {
    check(alertQueries());
  });

  test('every gradq metric is shown on the dashboard or watched by an alert', () => {
    const used = new Set([...check(dashboardQueries()), ...check(alertQueries())]);
    const base = (name: string) => name.replace(/_(bucket|sum|count)$/, '');
    const covered = new Set([...used].map(base));
    const unused = GRADQ_METRIC_NAMES.filter((name) => !used.has(name) && !covered.has(name));
    assert.deepEqual(unused, []);
  });

  test('the PromQL extraction itself: suffixes, label values and __name__ selectors', () => {
    const names = metricNamesOf(
      'sum by (le) (rate(gradq_a_seconds_bucket{kind="gradq_not_a_metric"}[1m])) / on() {__name__="gradq_b_total"}',
    );
    assert.deepEqual([...names].sort(), ['gradq_a_seconds_bucket', 'gradq_b_total']);
    assert.throws(() => metricNamesOf('rate(gradq_x[5m]'), /invalid PromQL/);
  });
});
