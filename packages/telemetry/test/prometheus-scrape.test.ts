// The real Prometheus scrapes a coordinator and two workers' metrics servers with values set here, and the values
// come back through its HTTP API: names, labels (role, job, instance, fixed label sets), histogram buckets, and
// the dashboard's and alert rules' own queries evaluated against the scraped data.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type PrometheusInstance, skipWithoutTool, startPrometheus } from '@gradq/testing';
import {
  createCoordinatorMetrics,
  createMetricsRegistry,
  createWorkerMetrics,
  type MetricsServer,
  startMetricsServer,
} from '../src/index';
import { ALERTS_FILE, alertQueries, dashboardQueries } from './support/infra-files';

/** The first query of the dashboard panel `title`, as Grafana sends it with `run` selected. */
function dashboardQuery(title: string, run: string): string {
  const found = dashboardQueries().find((q) => q.where.startsWith(`panel "${title}"`));
  assert.ok(found, `no panel "${title}"`);
  return found.expr.replaceAll('$__rate_interval', '4s').replaceAll('$run', run);
}

const RUN = 'run-20261202-041500-ab12';

describe('Prometheus scrapes gradq metrics', { skip: skipWithoutTool('prometheus') }, () => {
  const servers: MetricsServer[] = [];
  let prometheus: PrometheusInstance;

  before(async () => {
    const coordinatorRegistry = createMetricsRegistry({ role: 'coordinator', run: RUN });
    const coordinator = createCoordinatorMetrics(coordinatorRegistry);
    coordinator.runActive.set(1);
    coordinator.observeStep({ step: 42, epoch: 3, loss: 0.0625, samples: 512, seconds: 0.5 });
    coordinator.testMse.set(0.03125);
    coordinator.stepPartDuration.observe({ part: 'wait_gradients' }, 0.4);
    coordinator.stepPartDuration.observe({ part: 'optimizer' }, 0.02);
    coordinator.queueJobs.set({ state: 'waiting' }, 5);
    coordinator.gradientsRejected.inc({ reason: 'stale' }, 2);
    coordinator.markWorkerSeen('w1');
    coordinator.markWorkerSeen('w2');
    servers.push(await startMetricsServer(coordinatorRegistry, { port: 0, host: '127.0.0.1' }));

    for (const computeSeconds of [0.1, 0.3]) {
      const registry = createMetricsRegistry({ role: 'worker' });
      const worker = createWorkerMetrics(registry);
      worker.gradientCompute.observe({ run: RUN }, computeSeconds);
      worker.jobs.inc({ run: RUN, outcome: 'ok' }, 3);
      worker.transferBytes.inc({ run: RUN, kind: 'gradients' }, 1000);
      servers.push(await startMetricsServer(registry, { port: 0, host: '127.0.0.1' }));
    }

    prometheus = await startPrometheus({
      targets: [
        { job: 'coordinator', url: `${servers[0]?.url}/metrics` },
        { job: 'worker', url: `${servers[1]?.url}/metrics` },
        { job: 'worker', url: `${servers[2]?.url}/metrics` },
      ],
      scrapeInterval: '1s',
      ruleFiles: [ALERTS_FILE],
    });
    // Both jobs scraped at least once.
    await prometheus.waitFor('count(up == 1)', (s) => s[0]?.value === 3);
  });

  after(async () => {
    await prometheus?.stop();
    await Promise.all(servers.map((s) => s.close()));
  });

  test('gauges and counters read back with role, run and job labels', async () => {
    const [loss] = await prometheus.query('gradq_train_loss');
    assert.equal(loss?.value, 0.0625);
    assert.equal(loss?.metric.role, 'coordinator');
    assert.equal(loss?.metric.run, RUN);
    assert.equal(loss?.metric.job, 'coordinator');
    assert.equal((await prometheus.query('gradq_step'))[0]?.value, 42);
    assert.equal((await prometheus.query('gradq_test_mse'))[0]?.value, 0.03125);
    assert.equal((await prometheus.query('gradq_samples_total'))[0]?.value, 512);
    assert.equal((await prometheus.query('gradq_workers_seen'))[0]?.value, 2);
    assert.equal((await prometheus.query('gradq_training_samples_per_second'))[0]?.value, 1024);
  });

  test('fixed label sets arrive as labels, pre-created series included', async () => {
    const rejected = await prometheus.query('gradq_gradients_rejected_total');
    const byReason = Object.fromEntries(rejected.map((s) => [s.metric.reason, s.value]));
    assert.deepEqual(byReason, { schema: 0, layout: 0, length: 0, nonfinite: 0, stale: 2, protocol: 0 });
    assert.equal((await prometheus.query('gradq_queue_jobs{state="waiting"}'))[0]?.value, 5);
  });

  test('workers are separate instances of one job; per-worker compute time is their mean', async () => {
    const perWorker = await prometheus.query(
      'sum by (instance) (gradq_gradient_compute_seconds_sum) / sum by (instance) (gradq_gradient_compute_seconds_count)',
    );
    assert.deepEqual(perWorker.map((s) => s.value).sort(), [0.1, 0.3]);
    const ok = await prometheus.query('sum(gradq_worker_jobs_total{job="worker",outcome="ok"})');
    assert.equal(ok[0]?.value, 6);
    const bytes = await prometheus.query(
      `sum by (role, kind) (gradq_transfer_bytes_total{kind="gradients",run="${RUN}"})`,
    );
    assert.deepEqual(bytes.map((s) => [s.metric.role, s.value]).sort(), [
      ['coordinator', 0],
      ['worker', 2000],
    ]);
  });

  test('every gradq series of coordinator and workers carries the run, but standby', async () => {
    const series = await prometheus.query('{__name__=~"gradq_.+"}');
    const runless = series.filter((s) => s.metric.run !== RUN).map((s) => s.metric.__name__);
    assert.deepEqual([...new Set(runless)], ['gradq_worker_standby']);
    assert.ok(series.some((s) => s.metric.job === 'worker' && s.metric.run === RUN));
  });

  test("the dashboard's queries, filtered to the run, find it", async () => {
    const [loss] = await prometheus.query(dashboardQuery('Loss', RUN));
    assert.equal(loss?.metric.run, RUN);
    const [step] = await prometheus.query(dashboardQuery('Step', RUN));
    assert.deepEqual([step?.metric.run, step?.value], [RUN, 42]);
    assert.equal((await prometheus.query(dashboardQuery('Loss', 'another-run'))).length, 0);
  });

  test('histogram buckets are cumulative as Prometheus expects', async () => {
    const buckets = await prometheus.query('gradq_step_part_duration_seconds_bucket{part="wait_gradients"}');
    const at = (le: string) => buckets.find((s) => s.metric.le === le)?.value;
    assert.equal(at('0.25'), 0);
    assert.equal(at('0.5'), 1);
    assert.equal(at('+Inf'), 1);
  });

  test('every dashboard and alert query is accepted by Prometheus against scraped data', async () => {
    for (const { where, expr } of [...dashboardQueries(), ...alertQueries()]) {
      // Grafana substitutes $__rate_interval (4 scrape intervals is what it would pick here) and $run (All: .*).
      const query = expr.replaceAll('$__rate_interval', '4s').replaceAll('$run', '.*');
      await assert.doesNotReject(prometheus.query(query), where);
    }
  });

  test('the alert rules load and evaluate without errors', async () => {
    type Rule = { name: string; health: string; lastError?: string; lastEvaluation?: string };
    const rulesNow = async (): Promise<Rule[]> => {
      const body = (await (await fetch(`${prometheus.url}/api/v1/rules`)).json()) as {
        data: { groups: Array<{ rules: Rule[] }> };
      };
      return body.data.groups.flatMap((g) => g.rules);
    };
    // Rules are evaluated every interval from start-up; wait until each has run once.
    const deadline = Date.now() + 20_000;
    let rules = await rulesNow();
    while (rules.some((r) => !r.lastEvaluation || r.lastEvaluation.startsWith('0001-')) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      rules = await rulesNow();
    }
    assert.ok(rules.length >= 7, `only ${rules.length} rules loaded`);
    for (const rule of rules) assert.equal(rule.health, 'ok', `${rule.name}: ${rule.lastError}`);
  });
});
