import { z } from 'zod';
import type { Role } from './labels';

/**
 * Default metrics ports. Different per role so a coordinator and a worker can run side by side on one laptop
 * (`pnpm start`) without a clash; infra/prometheus/prometheus.yml scrapes exactly these.
 */
export const DEFAULT_METRICS_PORT: Readonly<Record<Role, number>> = { coordinator: 9400, worker: 9401 };

/** Default bind address: all interfaces, because Prometheus scrapes from another container. */
export const DEFAULT_METRICS_HOST = '0.0.0.0';

// An empty variable (`METRICS_PORT=` in an env file) means "unset", not port 0.
const unsetIfEmpty = (value: unknown) => (value === '' ? undefined : value);

/**
 * The zod shape of the metrics variables for `role`, to spread into a service's env schema
 * (`z.object({ ...metricsEnvShape('worker'), REDIS_URL: ... })`).
 */
export function metricsEnvShape(role: Role) {
  return {
    /** Port of the /metrics server; 0 = any free port. Default: 9400 (coordinator), 9401 (worker). */
    METRICS_PORT: z.preprocess(
      unsetIfEmpty,
      z.coerce
        .number({ error: 'METRICS_PORT must be a number' })
        .int('METRICS_PORT must be an integer')
        .min(0, 'METRICS_PORT must be >= 0')
        .max(65535, 'METRICS_PORT must be <= 65535')
        .default(DEFAULT_METRICS_PORT[role]),
    ),
    /** Interface the /metrics server binds. Default: 0.0.0.0. */
    METRICS_HOST: z.preprocess(unsetIfEmpty, z.string().min(1).default(DEFAULT_METRICS_HOST)),
  };
}

/** The resolved metrics server address, ready for `startMetricsServer`. */
export interface MetricsConfig {
  port: number;
  host: string;
}

/** Parses `METRICS_PORT` / `METRICS_HOST` from `env` for `role`; throws a ZodError naming the bad variable. */
export function loadMetricsConfig(env: Record<string, string | undefined>, role: Role): MetricsConfig {
  const parsed = z.object(metricsEnvShape(role)).parse(env);
  return { port: parsed.METRICS_PORT, host: parsed.METRICS_HOST };
}
