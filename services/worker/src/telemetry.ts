import { createMetricsRegistry, createWorkerMetrics, type WorkerMetrics } from '@gradq/telemetry';
import type { ProcessorEvents } from './processor';

/** The worker's metrics, fed by the processor's events. */
export function workerTelemetry(): {
  registry: ReturnType<typeof createMetricsRegistry>;
  metrics: WorkerMetrics;
  events: ProcessorEvents;
} {
  const registry = createMetricsRegistry({ role: 'worker' });
  const m = createWorkerMetrics(registry);
  return {
    registry,
    metrics: m,
    events: {
      onStart: (createdAtMs) => m.observeJobStart(createdAtMs),
      onFetch: (kind, bytes, seconds) => {
        m.transferBytes.inc({ kind }, bytes);
        if (kind === 'params') m.paramsFetch.observe(seconds);
      },
      onCompute: (seconds) => m.gradientCompute.observe(seconds),
      onPush: (bytes, seconds) => {
        m.transferBytes.inc({ kind: 'gradients' }, bytes);
        m.gradientPush.observe(seconds);
      },
      onParamsCache: (hit) => (hit ? m.paramsCacheHits : m.paramsCacheMisses).inc(),
      onOutcome: (outcome) => m.jobs.inc({ outcome }),
      onStandby: (standingBy) => m.standby.set(standingBy ? 1 : 0),
    },
  };
}
