import { z } from 'zod';
import type { Role } from './labels';

/**
 * Default metrics ports. Different per role so a coordinator and a worker can run side by side on one laptop
 * (`pnpm start`) without a clash; infra/prometheus/prometheus.yml scrapes exactly these.
 */
export const DEFAULT_METRICS_PORT: Readonly<Record<Role, number>> = { coordinator: 9400, worker: 9401 };

/** Default bind address: all interfaces, because Prometheus scrapes from another container. */
export const DEFAULT_METRICS_HOST = '0.0.0.0';

/** Host names, IPv4 and IPv6 addresses; anything else could only fail later, at listen time, naming no option. */
const HOST_PATTERN = /^[A-Za-z0-9_.:%-]+$/;

/** The `--metrics-port` / `--metrics-host` flags of a service (an OptionSpec list for @gradq/trainer's readOptions). */
export function metricsOptions(role: Role) {
  return [
    {
      key: 'metricsPort',
      flag: 'metrics-port',
      env: 'METRICS_PORT',
      // The coordinator serves its live run page on the same port.
      doc: `${role === 'coordinator' ? '/metrics and live run page' : '/metrics'} port, 0 = any free port (default ${DEFAULT_METRICS_PORT[role]})`,
    },
    {
      key: 'metricsHost',
      flag: 'metrics-host',
      env: 'METRICS_HOST',
      doc: `${role === 'coordinator' ? '/metrics and live run page' : '/metrics'} interface (default ${DEFAULT_METRICS_HOST})`,
    },
  ] as const;
}

export function metricsOptionsShape(role: Role) {
  return {
    /** 0 = any free port. Default 9400 (coordinator), 9401 (worker). */
    metricsPort: z.coerce.number().int().min(0).max(65535, 'must be a port number').default(DEFAULT_METRICS_PORT[role]),
    /** Default 0.0.0.0. */
    metricsHost: z.string().regex(HOST_PATTERN, 'must be a host name or IP address').default(DEFAULT_METRICS_HOST),
  };
}
