import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WORKER_METRIC, WORKER_METRIC_NAMES } from './names';
import { createMetricsRegistry } from './registry';
import { createWorkerMetrics } from './worker-metrics';

describe('createWorkerMetrics', () => {
  test('registers exactly the documented worker names, each with help text', async () => {
    const registry = createMetricsRegistry({ role: 'worker', defaultMetrics: false });
    createWorkerMetrics(registry);
    const metrics = await registry.getMetricsAsJSON();
    assert.deepEqual(metrics.map((m) => m.name).sort(), [...WORKER_METRIC_NAMES].sort());
    for (const m of metrics) assert.ok(m.help.length > 10, `${m.name} needs a help text`);
  });

  test('records outcomes, timings, bytes and cache hits under the worker role', async () => {
    const registry = createMetricsRegistry({ role: 'worker', defaultMetrics: false });
    const m = createWorkerMetrics(registry);
    m.jobs.inc({ outcome: 'ok' });
    m.jobs.inc({ outcome: 'rejected' });
    m.gradientCompute.observe(0.12);
    m.paramsFetch.observe(0.004);
    m.gradientPush.observe(0.005);
    m.transferBytes.inc({ kind: 'gradients' }, 3_000_000);
    m.paramsCacheHits.inc();
    m.paramsCacheMisses.inc();
    const text = await registry.metrics();
    assert.match(text, /gradq_worker_jobs_total\{outcome="ok",role="worker"\} 1/);
    assert.match(text, /gradq_worker_jobs_total\{outcome="failed",role="worker"\} 0/);
    assert.match(text, /gradq_worker_jobs_total\{outcome="rejected",role="worker"\} 1/);
    assert.match(text, /gradq_gradient_compute_seconds_bucket\{le="0\.25",role="worker"\} 1/);
    assert.match(text, /gradq_transfer_bytes_total\{kind="gradients",role="worker"\} 3000000/);
    assert.match(text, /gradq_params_cache_hits_total\{role="worker"\} 1/);
    assert.match(text, new RegExp(`${WORKER_METRIC.paramsCacheMisses}\\{role="worker"\\} 1`));
  });

  test('queue latency is job start minus creation, clamped at 0 for clock skew', async () => {
    const registry = createMetricsRegistry({ role: 'worker', defaultMetrics: false });
    const m = createWorkerMetrics(registry);
    m.observeJobStart(1000, 3500);
    m.observeJobStart(2000, 1990); // creation 10 ms "in the future": another host's clock
    const text = await registry.metrics();
    assert.match(text, /gradq_queue_latency_seconds_sum\{role="worker"\} 2\.5\n/);
    assert.match(text, /gradq_queue_latency_seconds_count\{role="worker"\} 2/);
    assert.match(text, /gradq_queue_latency_seconds_bucket\{le="0\.001",role="worker"\} 1/);
  });
});
