import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { type MetricSample, scrapeMetrics } from '@gradq/testing';
import { childPids, lastJsonLine, peakRss, stopChild } from './processes';
import { deltaSamples, histogram } from './prom-text';

export interface ServiceRunOptions {
  /** A TypeScript entry point, run as `node --import tsx <script>`. */
  readonly script: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** The coordinator's /metrics. */
  readonly metricsUrl: string;
  /** Each worker's /metrics (pnpm start: base port + i - 1). */
  readonly workerMetricsUrls?: readonly string[];
  readonly logPath: string;
  readonly timeoutMs: number;
  /** Default 500 ms: often enough to catch the last steps, rare enough not to load the coordinator. */
  readonly pollMs?: number;
  /** Report metrics accumulated after the first scrape showing this many steps (start-up excluded). Default 0. */
  readonly warmupSteps?: number;
}

export interface ServiceRunResult<S> {
  readonly code: number | null;
  readonly summary?: S;
  readonly wallSeconds: number;
  /** Steps excluded as warm-up (0 when the run was too short to exclude any). */
  readonly warmupStepsExcluded: number;
  /** The last successful scrape of the coordinator's /metrics before it exited, minus the warm-up scrape. */
  readonly coordinator?: readonly MetricSample[];
  /** The last successful scrape of each worker (undefined where none answered). */
  readonly workers: readonly (readonly MetricSample[] | undefined)[];
  readonly workerScrapeError?: string;
  readonly coordinatorPeakRss?: number;
  /** Peak RSS of each child process of the coordinator (pnpm start's workers). */
  readonly childPeakRss: readonly number[];
  readonly stderrTail: string;
  readonly timedOut: boolean;
}

const scrape = (url: string) => scrapeMetrics(url, 2000);

/**
 * Runs a gradq service to completion while polling its /metrics and its (and its children's) peak RSS, keeping the
 * last of each: the services' own histograms are the breakdown, and the last scrape before exit covers the run.
 */
export async function runService<S>(o: ServiceRunOptions): Promise<ServiceRunResult<S>> {
  const started = performance.now();
  const log = createWriteStream(o.logPath, { flags: 'a' });
  log.write(`\n$ node --import tsx ${o.script} ${o.args.join(' ')}\n`);
  const child = spawn(process.execPath, ['--import', 'tsx', o.script, ...o.args], {
    cwd: o.cwd,
    env: o.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderrTail = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    log.write(d);
    stderrTail = (stderrTail + d.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  let running = true;
  void exited.then(() => {
    running = false;
  });

  let coordinator: MetricSample[] | undefined;
  const workerUrls = o.workerMetricsUrls ?? [];
  const workers: (MetricSample[] | undefined)[] = workerUrls.map(() => undefined);
  let workerScrapeError: string | undefined;
  let coordinatorPeakRss: number | undefined;
  const childPeak = new Map<number, number>();
  let timedOut = false;
  let baseline: { coordinator: MetricSample[]; workers: (MetricSample[] | undefined)[] } | undefined;
  const deadline = started + o.timeoutMs;

  while (running) {
    await Promise.race([exited, new Promise((r) => setTimeout(r, o.pollMs ?? 500))]);
    if (!running) break;
    if (performance.now() > deadline) {
      timedOut = true;
      await stopChild(child, 5000);
      break;
    }
    const pid = child.pid;
    if (pid !== undefined) {
      coordinatorPeakRss = (await peakRss(pid)) ?? coordinatorPeakRss;
      for (const c of await childPids(pid)) {
        const rss = await peakRss(c);
        if (rss !== undefined) childPeak.set(c, rss);
      }
    }
    const [c, ...w] = await Promise.allSettled([scrape(o.metricsUrl), ...workerUrls.map(scrape)]);
    if (c?.status === 'fulfilled') coordinator = c.value;
    w.forEach((r, i) => {
      if (r.status === 'fulfilled') workers[i] = r.value;
      else if (coordinator) workerScrapeError = String((r.reason as Error)?.cause ?? (r.reason as Error)?.message);
    });
    if (!baseline && coordinator && stepsIn(coordinator) >= (o.warmupSteps ?? 0) && (o.warmupSteps ?? 0) > 0) {
      baseline = { coordinator, workers: [...workers] };
    }
  }
  let warmupStepsExcluded = 0;
  if (baseline && coordinator && stepsIn(coordinator) > stepsIn(baseline.coordinator)) {
    warmupStepsExcluded = stepsIn(baseline.coordinator);
    const base = baseline;
    coordinator = deltaSamples(coordinator, base.coordinator);
    workers.forEach((w, i) => {
      const b = base.workers[i];
      if (w && b) workers[i] = deltaSamples(w, b);
    });
  }
  const code = await exited;
  log.end();
  const summary = lastJsonLine<S>(stdout);
  return {
    code,
    ...(summary ? { summary } : {}),
    wallSeconds: (performance.now() - started) / 1000,
    warmupStepsExcluded,
    ...(coordinator ? { coordinator } : {}),
    workers,
    ...(workerScrapeError && workers.some((w) => w === undefined) ? { workerScrapeError } : {}),
    ...(coordinatorPeakRss !== undefined ? { coordinatorPeakRss } : {}),
    childPeakRss: [...childPeak.values()],
    stderrTail,
    timedOut,
  };
}

function stepsIn(samples: readonly MetricSample[]): number {
  return histogram(samples, 'gradq_step_duration_seconds').count || 0;
}
