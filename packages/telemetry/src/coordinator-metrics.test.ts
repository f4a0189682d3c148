import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Registry } from 'prom-client';
import { createCoordinatorMetrics } from './coordinator-metrics';
import { COORDINATOR_METRIC, COORDINATOR_METRIC_NAMES } from './names';
import { createMetricsRegistry } from './registry';

/** The value of one series, read back through the registry like a scrape would. */
async function seriesValue(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const metric = await registry.getSingleMetric(name)?.get();
  const series = metric?.values.find((v) =>
    Object.entries(labels).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want),
  );
  return series?.value;
}

describe('createCoordinatorMetrics', () => {
  test('registers exactly the documented coordinator names, each with help text', async () => {
    const registry = createMetricsRegistry({ role: 'coordinator', defaultMetrics: false });
    createCoordinatorMetrics(registry);
    const metrics = await registry.getMetricsAsJSON();
    assert.deepEqual(metrics.map((m) => m.name).sort(), [...COORDINATOR_METRIC_NAMES].sort());
    for (const m of metrics) assert.ok(m.help.length > 10, `${m.name} needs a help text`);
  });

  test('pre-creates every labeled series at 0 so increase() sees the first event', async () => {
    const registry = createMetricsRegistry({ role: 'coordinator', defaultMetrics: false });
    createCoordinatorMetrics(registry);
    assert.equal(await seriesValue(registry, COORDINATOR_METRIC.gradientsRejected, { reason: 'stale' }), 0);
    assert.equal(await seriesValue(registry, COORDINATOR_METRIC.transferBytes, { kind: 'batches' }), 0);
    const text = await registry.metrics();
    assert.match(text, /gradq_step_part_duration_seconds_count\{role="coordinator",part="publish"\} 0/);
  });

  test('loss and test MSE read NaN (a gap), not 0, until there is one', async () => {
    const registry = createMetricsRegistry({ role: 'coordinator', defaultMetrics: false });
    const m = createCoordinatorMetrics(registry);
    const text = await registry.metrics();
    // prom-client writes "Nan"; Prometheus parses NaN case-insensitively (Go strconv.ParseFloat).
    assert.match(text, /^gradq_train_loss\{role="coordinator"\} nan$/im);
    assert.match(text, /^gradq_test_mse\{role="coordinator"\} nan$/im);
    m.testMse.set(0.05);
    assert.equal(await seriesValue(registry, COORDINATOR_METRIC.testMse), 0.05);
  });

  test('observeStep records an applied step and clears the non-finite alert', async () => {
    const registry = createMetricsRegistry({ role: 'coordinator', defaultMetrics: false });
    const m = createCoordinatorMetrics(registry);
    m.observeNonfiniteStep();
    assert.equal(await seriesValue(registry, COORDINATOR_METRIC.lossNonfinite), 1);
    assert.equal(await seriesValue(registry, COORDINATOR_METRIC.stepsSkippedNonfinite), 1);

    m.observeStep({ step: 7, epoch: 2, loss: 0.05, samples: 256, seconds: 0.5 });
    m.observeStep({ step: 8, epoch: 2, loss: 0.04, samples: 256, seconds: 0.25 });
    assert.equal(await seriesValue(registry, COORDINATOR_METRIC.lossNonfinite), 0);
    assert.equal(await seriesValue(registry, COORDINATOR_METRIC.step), 8);
    assert.equal(await seriesValue(registry, COORDINATOR_METRIC.epoch), 2);
    assert.equal(await seriesValue(registry, COORDINATOR_METRIC.trainLoss), 0.04);
    assert.equal(await seriesValue(registry, COORDINATOR_METRIC.samples), 512);
    assert.equal(await seriesValue(registry, COORDINATOR_METRIC.steps), 2);
    // 256 samples in 0.25 s.
    assert.equal(await seriesValue(registry, COORDINATOR_METRIC.samplesPerSecond), 1024);
    const text = await registry.metrics();
    assert.match(text, /gradq_step_duration_seconds_sum\{role="coordinator"\} 0\.75/);
    assert.match(text, /gradq_step_duration_seconds_bucket\{le="0\.25",role="coordinator"\} 1/);
  });

  test('observeCheckpoint records duration, bytes and the unix time of success', async () => {
    const registry = createMetricsRegistry({ role: 'coordinator', defaultMetrics: false });
    const m = createCoordinatorMetrics(registry);
    m.observeCheckpoint(1.5, 4_000_000, 1_700_000_000_000);
    m.checkpointFailures.inc();
    assert.equal(await seriesValue(registry, COORDINATOR_METRIC.checkpointLastSuccess), 1_700_000_000);
    assert.equal(await seriesValue(registry, COORDINATOR_METRIC.checkpointBytes), 4_000_000);
    assert.equal(await seriesValue(registry, COORDINATOR_METRIC.checkpointFailures), 1);
    assert.match(await registry.metrics(), /gradq_checkpoint_duration_seconds_sum\{role="coordinator"\} 1\.5/);
  });

  test('workers seen is computed at scrape time from marks within the window', async () => {
    const registry = createMetricsRegistry({ role: 'coordinator', defaultMetrics: false });
    const m = createCoordinatorMetrics(registry, { workersSeen: { windowMs: 60_000 } });
    const now = Date.now();
    m.markWorkerSeen('w1', now);
    m.markWorkerSeen('w2', now);
    m.markWorkerSeen('gone', now - 120_000);
    assert.equal(await seriesValue(registry, COORDINATOR_METRIC.workersSeen), 2);
  });

  test('labeled metrics take only their fixed label values (checked by the compiler) and record per label', async () => {
    const registry = createMetricsRegistry({ role: 'coordinator', defaultMetrics: false });
    const m = createCoordinatorMetrics(registry);
    m.queueJobs.set({ state: 'waiting-children' }, 3);
    m.transferBytes.inc({ kind: 'params' }, 1024);
    m.gradientsRejected.inc({ reason: 'layout' });
    m.stepPartDuration.observe({ part: 'optimizer' }, 0.003);
    const end = m.stepPartDuration.startTimer({ part: 'reduce' });
    assert.ok(end() >= 0);
    // @ts-expect-error: 'parms' is not a transfer kind; a typo must not create a new series silently.
    m.transferBytes.inc({ kind: 'parms' }, 1);
    assert.equal(await seriesValue(registry, COORDINATOR_METRIC.queueJobs, { state: 'waiting-children' }), 3);
    assert.equal(await seriesValue(registry, COORDINATOR_METRIC.transferBytes, { kind: 'params' }), 1024);
    assert.equal(await seriesValue(registry, COORDINATOR_METRIC.gradientsRejected, { reason: 'layout' }), 1);
  });

  test('two registries in one process do not collide (a coordinator and workers in one test)', () => {
    const a = createMetricsRegistry({ role: 'coordinator', defaultMetrics: false });
    const b = createMetricsRegistry({ role: 'coordinator', defaultMetrics: false });
    createCoordinatorMetrics(a);
    assert.doesNotThrow(() => createCoordinatorMetrics(b));
    // Registering twice on one registry is a bug in the caller and fails loudly.
    assert.throws(() => createCoordinatorMetrics(a), /already been registered/);
  });
});
