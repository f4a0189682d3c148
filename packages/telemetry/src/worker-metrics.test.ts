import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WORKER_METRIC, WORKER_METRIC_NAMES } from './names';
import { createMetricsRegistry } from './registry';
import { createWorkerMetrics, WORKER_RUNS_KEPT } from './worker-metrics';

describe('createWorkerMetrics', () => {
  test('registers exactly the documented worker names, each with help text', async () => {
    const registry = createMetricsRegistry({ role: 'worker', defaultMetrics: false });
    createWorkerMetrics(registry);
    const metrics = await registry.getMetricsAsJSON();
    assert.deepEqual(metrics.map((m) => m.name).sort(), [...WORKER_METRIC_NAMES].sort());
    for (const m of metrics) assert.ok(m.help.length > 10, `${m.name} needs a help text`);
  });

  test('records outcomes, timings, bytes and cache hits under the worker role and the job run', async () => {
    const registry = createMetricsRegistry({ role: 'worker', defaultMetrics: false });
    const m = createWorkerMetrics(registry);
    const run = 'run-a';
    m.jobs.inc({ run, outcome: 'ok' });
    m.jobs.inc({ run, outcome: 'rejected' });
    m.gradientCompute.observe({ run }, 0.12);
    m.paramsFetch.observe({ run }, 0.004);
    m.gradientPush.observe({ run }, 0.005);
    m.transferBytes.inc({ run, kind: 'gradients' }, 3_000_000);
    m.paramsCacheHits.inc({ run });
    m.paramsCacheMisses.inc({ run });
    const text = await registry.metrics();
    assert.match(text, /gradq_worker_jobs_total\{run="run-a",outcome="ok",role="worker"\} 1/);
    assert.match(text, /gradq_worker_jobs_total\{run="run-a",outcome="failed",role="worker"\} 0/);
    assert.match(text, /gradq_worker_jobs_total\{run="run-a",outcome="rejected",role="worker"\} 1/);
    assert.match(text, /gradq_gradient_compute_seconds_bucket\{le="0\.25",role="worker",run="run-a"\} 1/);
    assert.match(text, /gradq_transfer_bytes_total\{run="run-a",kind="gradients",role="worker"\} 3000000/);
    assert.match(text, /gradq_params_cache_hits_total\{run="run-a",role="worker"\} 1/);
    assert.match(text, new RegExp(`${WORKER_METRIC.paramsCacheMisses}\\{run="run-a",role="worker"\\} 1`));
    // Standby is the worker's, not a run's.
    assert.match(text, /gradq_worker_standby\{role="worker"\} 0/);
  });

  test('a first job of a run starts every series of that run at 0', async () => {
    const registry = createMetricsRegistry({ role: 'worker', defaultMetrics: false });
    const m = createWorkerMetrics(registry);
    m.paramsCacheHits.inc({ run: 'r' });
    const text = await registry.metrics();
    assert.match(text, /gradq_params_cache_misses_total\{run="r",role="worker"\} 0/);
    assert.match(text, /gradq_transfer_bytes_total\{run="r",kind="batches",role="worker"\} 0/);
    assert.match(text, /gradq_gradient_push_seconds_count\{role="worker",run="r"\} 0/);
  });

  test(`keeps the series of the ${WORKER_RUNS_KEPT} runs served last, the least recent dropped first`, async () => {
    const registry = createMetricsRegistry({ role: 'worker', defaultMetrics: false });
    const m = createWorkerMetrics(registry);
    for (let i = 0; i < WORKER_RUNS_KEPT; i++) m.jobs.inc({ run: `r${i}`, outcome: 'ok' });
    m.gradientCompute.observe({ run: 'r0' }, 0.01); // r0 served again: r1 is now the least recent
    m.jobs.inc({ run: 'new', outcome: 'ok' });
    const runs = new Set<string>();
    for (const metric of await registry.getMetricsAsJSON())
      for (const v of metric.values) if (v.labels.run !== undefined) runs.add(String(v.labels.run));
    const expected = ['new', 'r0', ...Array.from({ length: WORKER_RUNS_KEPT - 2 }, (_, i) => `r${i + 2}`)];
    assert.deepEqual([...runs].sort(), expected.sort());
  });

  test('queue latency is job start minus creation, clamped at 0 for clock skew', async () => {
    const registry = createMetricsRegistry({ role: 'worker', defaultMetrics: false });
    const m = createWorkerMetrics(registry);
    m.observeJobStart('r', 1000, 3500);
    m.observeJobStart('r', 2000, 1990); // creation 10 ms "in the future": another host's clock
    const text = await registry.metrics();
    assert.match(text, /gradq_queue_latency_seconds_sum\{role="worker",run="r"\} 2\.5\n/);
    assert.match(text, /gradq_queue_latency_seconds_count\{role="worker",run="r"\} 2/);
    assert.match(text, /gradq_queue_latency_seconds_bucket\{le="0\.001",role="worker",run="r"\} 1/);
  });
});
