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
      onStart: (run, createdAtMs) => m.observeJobStart(run, createdAtMs),
      onFetch: (run, kind, bytes, seconds) => {
        m.transferBytes.inc({ run, kind }, bytes);
        if (kind === 'params') m.paramsFetch.observe({ run }, seconds);
      },
      onCompute: (run, seconds) => m.gradientCompute.observe({ run }, seconds),
      onPush: (run, bytes, seconds) => {
        m.transferBytes.inc({ run, kind: 'gradients' }, bytes);
        m.gradientPush.observe({ run }, seconds);
      },
      onParamsCache: (run, hit) => (hit ? m.paramsCacheHits : m.paramsCacheMisses).inc({ run }),
      onDerived: (run) => m.paramsDerived.inc({ run }),
      onOutcome: (run, outcome) => m.jobs.inc({ run, outcome }),
      onStandby: (standingBy) => m.standby.set(standingBy ? 1 : 0),
    },
  };
}
