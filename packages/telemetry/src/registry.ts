import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Role } from './labels';

/** Options of {@link createMetricsRegistry}. */
export interface MetricsRegistryOptions {
  /** Which process this is; every series gets it as the `role` label. Required. */
  role: Role;
  /**
   * The run this process trains, as the `run` label of every series (a coordinator serves one run). Without it
   * series carry no `run` (a worker labels its own series per job: it serves whatever runs share its queue).
   */
  run?: string;
  /**
   * Also collect the Node.js process metrics (`process_cpu_seconds_total`, `nodejs_eventloop_lag_seconds`, heap,
   * GC, ...). They are what shows a worker's event loop blocked by gradient compute. Default: `true`.
   */
  defaultMetrics?: boolean;
}

/**
 * Creates the one prom-client registry of a process. Pass it down to whatever records; never use prom-client's
 * global `register`: two registries in one process (tests start a coordinator and workers side by side) would
 * otherwise collide on metric names.
 */
export function createMetricsRegistry(options: MetricsRegistryOptions): Registry {
  const registry = new Registry();
  // Set before any metric is registered: prom-client applies default labels at collect time, but keeping the
  // order obvious avoids surprises if that ever changes.
  registry.setDefaultLabels(
    options.run === undefined ? { role: options.role } : { role: options.role, run: options.run },
  );
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}
