// Observability on a live `pnpm start`: the coordinator's and every worker's /metrics carry the key series with
// sensible values while training runs, and a real Prometheus scraping them can read loss and throughput back.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  CLI,
  cliEnv,
  freePort,
  freePortRange,
  type MetricSample,
  metricValue,
  type PrometheusInstance,
  scrapeMetrics,
  serviceRig,
  skipWithoutTool,
  startPrometheus,
  uniqueRunId,
  waitUntil,
} from '@gradq/testing';
import type { CoordinatorSummary } from '../src/coordinator';

const rig = serviceRig('metrics');
// A bound on each test, so that a hang fails here (and `after` cleans up) instead of stalling the suite.
const TEST_TIMEOUT_MS = 420_000;
let prometheus: PrometheusInstance | undefined;
rig.onTeardown(() => prometheus?.stop());

/** `pnpm start` with /metrics on ports chosen here (port 0 would not be discoverable from outside). */
async function liveRun(name: string, workers: number, hyper: string[]) {
  const coordinatorPort = await freePort();
  const workerBase = await freePortRange(workers);
  const runId = uniqueRunId(name);
  const run = rig.procs.spawn(
    CLI.start,
    [
      ...hyper,
      '--workers',
      String(workers),
      '--run-id',
      runId,
      '--redis-url',
      rig.server.url,
      '--metrics-port',
      String(coordinatorPort),
      '--worker-metrics-port',
      String(workerBase),
    ],
    { env: cliEnv({ CHECKPOINT_DIR: join(rig.dir, runId) }), name },
  );
  return {
    run,
    runId,
    coordinatorUrl: `http://127.0.0.1:${coordinatorPort}/metrics`,
    // Worker i serves on base + i - 1.
    workerUrls: Array.from({ length: workers }, (_, i) => `http://127.0.0.1:${workerBase + i}/metrics`),
  };
}

/** Scrapes `url` until `ready` holds (the run has to get going first); fails if the run ends before that. */
async function scrapeUntil(
  run: ReturnType<typeof rig.procs.spawn>,
  url: string,
  ready: (samples: MetricSample[]) => boolean,
): Promise<MetricSample[]> {
  let last: MetricSample[] = [];
  try {
    return await waitUntil(
      `${url} to show a training run`,
      async () => {
        if (!run.running()) throw new Error(`the run ended before ${url} showed it:\n${run.tail()}`);
        try {
          last = await scrapeMetrics(url);
        } catch {
          return undefined; // Not listening yet.
        }
        return ready(last) ? last : undefined;
      },
      180_000,
      200,
    );
  } catch (err) {
    const shown = last
      .filter((s) => s.name.startsWith('gradq_'))
      .map((s) => `${s.name}${JSON.stringify(s.labels)} ${s.value}`);
    throw new Error(`${(err as Error).message}\nlast scrape:\n${shown.join('\n')}`);
  }
}

function positive(
  samples: readonly MetricSample[],
  name: string,
  labels: Record<string, string> = {},
  where = '',
): number {
  const value = metricValue(samples, name, labels);
  assert.ok(value !== undefined, `${where} ${name}${JSON.stringify(labels)} is missing`);
  assert.ok(Number.isFinite(value) && value > 0, `${where} ${name}${JSON.stringify(labels)} = ${value}, expected > 0`);
  return value;
}

describe('observability', () => {
  test('coordinator and worker /metrics show the key series with sensible values during pnpm start', {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    const { run, runId, coordinatorUrl, workerUrls } = await liveRun('metrics', 2, [
      '--limit',
      '2048',
      '--epochs',
      '2',
    ]);

    const c = await scrapeUntil(run, coordinatorUrl, (s) => (metricValue(s, 'gradq_steps_total') ?? 0) > 0);
    const steps = positive(c, 'gradq_steps_total');
    const loss = positive(c, 'gradq_train_loss');
    // Mean squared error of pixels in [0, 1], from a network that has barely started.
    assert.ok(loss < 1, `train loss ${loss}`);
    positive(c, 'gradq_samples_total');
    assert.ok((metricValue(c, 'gradq_samples_total') ?? 0) >= steps, 'fewer samples than steps');
    positive(c, 'gradq_transfer_bytes_total', { kind: 'gradients' });
    positive(c, 'gradq_transfer_bytes_total', { kind: 'params' });
    positive(c, 'gradq_step_duration_seconds_count');
    assert.equal(metricValue(c, 'gradq_run_active'), 1);
    // Every series names the run, so runs sharing one Prometheus stay apart (the dashboard's run variable).
    const runs = new Set(c.filter((x) => x.name.startsWith('gradq_')).map((x) => x.labels.run));
    assert.deepEqual([...runs], [runId]);

    for (const url of workerUrls) {
      // A job counts as ok after its push, which follows its compute: wait for that, not for the compute alone.
      const w = await scrapeUntil(
        run,
        url,
        (s) => (metricValue(s, 'gradq_worker_jobs_total', { outcome: 'ok' }) ?? 0) > 0,
      );
      // A worker labels each series with the run of the job it served.
      const computed = positive(w, 'gradq_gradient_compute_seconds_count', { run: runId }, url);
      positive(w, 'gradq_gradient_compute_seconds_sum', { run: runId }, url);
      positive(w, 'gradq_transfer_bytes_total', { run: runId, kind: 'gradients' }, url);
      positive(w, 'gradq_transfer_bytes_total', { run: runId, kind: 'params' }, url);
      // One job at a time: every computed gradient but the one in hand already has an outcome.
      assert.ok((metricValue(w, 'gradq_worker_jobs_total') ?? 0) >= computed - 1, `${url}: jobs vs computes`);
    }

    const s = await run.summary<CoordinatorSummary>(300_000);
    assert.equal(s.distributed.shards_applied, s.distributed.shards_planned);
  });

  test('a real Prometheus scrapes a live run: train loss and samples/s through its HTTP API', {
    timeout: TEST_TIMEOUT_MS,
    skip: skipWithoutTool('prometheus'),
  }, async () => {
    // Enough epochs of a small set to last a good number of 1 s scrapes.
    const { run, coordinatorUrl, workerUrls } = await liveRun('prom', 2, ['--limit', '2048', '--epochs', '5']);
    prometheus = await startPrometheus({
      targets: [{ job: 'coordinator', url: coordinatorUrl }, ...workerUrls.map((url) => ({ job: 'worker', url }))],
      scrapeInterval: '1s',
    });
    const prom = prometheus;
    const live = <T>(what: Promise<T>) =>
      Promise.race([
        what,
        run.exited.then(() => {
          throw new Error(`the run ended before Prometheus saw it:\n${run.tail()}`);
        }),
      ]);

    const [loss] = await live(
      prom.waitFor('gradq_train_loss{job="coordinator"}', (r) => r.length === 1 && (r[0]?.value ?? 0) > 0, 120_000),
    );
    assert.ok(loss && loss.value > 0 && loss.value < 1, `train loss ${loss?.value}`);
    const [rate] = await live(
      prom.waitFor('rate(gradq_samples_total{job="coordinator"}[5s])', (r) => (r[0]?.value ?? 0) > 0, 120_000),
    );
    assert.ok(rate && rate.value > 0, `samples/s ${rate?.value}`);
    const [gauge] = await live(
      prom.waitFor('gradq_training_samples_per_second{job="coordinator"}', (r) => (r[0]?.value ?? 0) > 0, 120_000),
    );
    assert.ok(gauge && gauge.value > 0);
    // Both workers are scraped and computing.
    const computing = await live(
      prom.waitFor(
        'gradq_gradient_compute_seconds_count{job="worker"} > 0',
        (r) => r.length === workerUrls.length,
        120_000,
      ),
    );
    assert.equal(computing.length, 2);

    const s = await run.summary<CoordinatorSummary>(300_000);
    assert.equal(s.distributed.shards_applied, s.distributed.shards_planned);
  });
});
