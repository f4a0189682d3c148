import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createMetricsRegistry } from './registry';

describe('createMetricsRegistry', () => {
  test('collects the Node.js process metrics, labeled with the role', async () => {
    const registry = createMetricsRegistry({ role: 'worker' });
    const text = await registry.metrics();
    assert.match(text, /^process_cpu_seconds_total\{role="worker"\} /m);
    assert.match(text, /^nodejs_eventloop_lag_p99_seconds\{role="worker"\} /m);
    assert.match(text, /^process_start_time_seconds\{role="worker"\} /m);
  });

  test('each call is a fresh registry: no module-level singleton, so two roles can share a process', async () => {
    const coordinator = createMetricsRegistry({ role: 'coordinator' });
    const worker = createMetricsRegistry({ role: 'worker' });
    assert.notEqual(coordinator, worker);
    assert.match(await coordinator.metrics(), /process_cpu_seconds_total\{role="coordinator"\}/);
    assert.match(await worker.metrics(), /process_cpu_seconds_total\{role="worker"\}/);
  });

  test('defaultMetrics: false leaves the registry empty', async () => {
    const registry = createMetricsRegistry({ role: 'coordinator', defaultMetrics: false });
    assert.equal((await registry.getMetricsAsJSON()).length, 0);
  });
});
