import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports';

/** One scrape target: a Prometheus job name and the URL of a /metrics endpoint. */
export interface PrometheusTarget {
  /** Becomes the `job` label of every scraped series, e.g. `coordinator` or `worker`. */
  job: string;
  /** Full URL of the metrics endpoint, e.g. `http://127.0.0.1:40123/metrics`; a bare origin means `/metrics`. */
  url: string;
}

export interface PrometheusOptions {
  /** What to scrape; targets with the same `job` are one scrape job with several instances. */
  targets: readonly PrometheusTarget[];
  /** Scrape (and rule evaluation) interval as a Prometheus duration. Default `'1s'`, so tests wait seconds. */
  scrapeInterval?: string;
  /** Absolute paths of rule files to load, e.g. infra/prometheus/alerts.yml. Default: none. */
  ruleFiles?: readonly string[];
  /** The prometheus executable. Default: `$PROMETHEUS_BIN`, else `prometheus` from PATH. */
  binary?: string;
  /** Give up when Prometheus is not ready after this long. Default 30000 ms (its TSDB start is ~1 s here). */
  startTimeoutMs?: number;
}

/** One element of an instant-query result: its labels and value (a scalar result has no labels). */
export interface PromSample {
  metric: Record<string, string>;
  value: number;
}

export interface PrometheusInstance {
  /** `http://127.0.0.1:<port>`: the UI and the HTTP API. */
  readonly url: string;
  /** Runs an instant query through /api/v1/query; throws PrometheusQueryError with Prometheus's message. */
  query(promql: string): Promise<PromSample[]>;
  /**
   * Re-runs `promql` until `accept` returns true for its result (scrapes are asynchronous), and returns that result.
   * Default timeout 20000 ms; on timeout the error shows the last result.
   */
  waitFor(promql: string, accept: (samples: PromSample[]) => boolean, timeoutMs?: number): Promise<PromSample[]>;
  /** Stops Prometheus and deletes its config and storage directory. */
  stop(): Promise<void>;
}

export class PrometheusStartError extends Error {
  override readonly name = 'PrometheusStartError';
}

export class PrometheusQueryError extends Error {
  override readonly name = 'PrometheusQueryError';
}

/**
 * The prometheus executable to use, or undefined when there is none, so that tests can skip with a message
 * (`test.skip`) instead of failing on machines without it.
 */
export function findPrometheus(binary = process.env.PROMETHEUS_BIN ?? 'prometheus'): string | undefined {
  const probe = spawnSync(binary, ['--version'], { stdio: 'ignore' });
  return probe.error || probe.status !== 0 ? undefined : binary;
}

/**
 * Spawns the real `prometheus` binary on a free loopback port with a temporary config and storage directory,
 * scraping `targets`, and waits until it reports ready.
 */
export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusInstance> {
  const binary = options.binary ?? process.env.PROMETHEUS_BIN ?? 'prometheus';
  if (!findPrometheus(binary)) {
    throw new PrometheusStartError(
      `cannot run "${binary}": install Prometheus (Debian: apt-get install prometheus) or set PROMETHEUS_BIN`,
    );
  }
  const dir = await mkdtemp(join(tmpdir(), 'gradq-prometheus-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const configFile = join(dir, 'prometheus.yml');
  // JSON is YAML, so no YAML writer is needed.
  await writeFile(configFile, JSON.stringify(prometheusConfig(options), null, 2));

  const child = spawn(
    binary,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });

  const stop = async () => {
    await terminate(child);
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await waitUntilReady(url, child, options.startTimeoutMs ?? 30_000, () => stderr);
  } catch (error) {
    await stop();
    throw error;
  }

  const query = async (promql: string): Promise<PromSample[]> => {
    const res = await fetch(`${url}/api/v1/query`, {
      method: 'POST',
      body: new URLSearchParams({ query: promql }),
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await res.json()) as QueryResponse;
    if (body.status !== 'success' || !body.data) {
      throw new PrometheusQueryError(`${promql}: ${body.errorType ?? res.status}: ${body.error ?? 'no data'}`);
    }
    return toSamples(body.data);
  };

  return {
    url,
    query,
    async waitFor(promql, accept, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      let last: PromSample[] = [];
      for (;;) {
        last = await query(promql);
        if (accept(last)) return last;
        if (Date.now() > deadline) {
          throw new PrometheusQueryError(
            `${promql}: not accepted within ${timeoutMs} ms; last: ${JSON.stringify(last)}`,
          );
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    stop,
  };
}

function prometheusConfig(options: PrometheusOptions): unknown {
  const interval = options.scrapeInterval ?? '1s';
  const jobs = new Map<string, { path: string; hosts: string[] }>();
  for (const target of options.targets) {
    const parsed = new URL(target.url);
    const path = parsed.pathname === '/' ? '/metrics' : parsed.pathname;
    const job = jobs.get(target.job) ?? { path, hosts: [] };
    if (job.path !== path) throw new Error(`targets of job "${target.job}" must share one metrics path`);
    job.hosts.push(parsed.host);
    jobs.set(target.job, job);
  }
  return {
    // scrape_timeout must not exceed the interval; the default 10 s would be rejected at a 1 s interval.
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    rule_files: [...(options.ruleFiles ?? [])],
    scrape_configs: [...jobs].map(([job, { path, hosts }]) => ({
      job_name: job,
      metrics_path: path,
      static_configs: [{ targets: hosts }],
    })),
  };
}

async function waitUntilReady(url: string, child: ChildProcess, timeoutMs: number, stderr: () => string) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new PrometheusStartError(
        `prometheus exited with ${child.exitCode ?? child.signalCode}: ${stderr().trim()}`,
      );
    }
    try {
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      throw new PrometheusStartError(`prometheus not ready on ${url} within ${timeoutMs} ms: ${stderr().trim()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** SIGTERM (Prometheus closes its TSDB cleanly), SIGKILL if it is still there after 5 s. */
async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

interface QueryResponse {
  status: 'success' | 'error';
  data?: { resultType: 'vector' | 'scalar' | 'matrix' | 'string'; result: unknown };
  errorType?: string;
  error?: string;
}

function toSamples(data: NonNullable<QueryResponse['data']>): PromSample[] {
  if (data.resultType === 'scalar') {
    const [, value] = data.result as [number, string];
    return [{ metric: {}, value: Number(value) }];
  }
  if (data.resultType === 'vector') {
    return (data.result as Array<{ metric: Record<string, string>; value: [number, string] }>).map((s) => ({
      metric: s.metric,
      value: Number(s.value[1]),
    }));
  }
  throw new PrometheusQueryError(`unsupported result type ${data.resultType}: use an instant vector or scalar query`);
}
