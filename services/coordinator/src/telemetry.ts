import type { RunData } from '@gradq/protocol';
import {
  type CoordinatorMetrics,
  createCoordinatorMetrics,
  createMetricsRegistry,
  type MetricsServer,
  QUEUE_STATES,
  type RejectReason,
  startMetricsServer,
} from '@gradq/telemetry';
import type { StepReport } from '@gradq/trainer';
import type { Queue } from 'bullmq';
import { RunHistory } from './live/history';
import { liveRoutes } from './live/routes';
import type { SourceEvents } from './queue-source';

/**
 * The coordinator's metrics: one registry, served on /metrics, fed from the step loop, the source and the writer;
 * and the live run page on the same server (`/`, fed from the same calls: `history`).
 */
export class CoordinatorTelemetry {
  readonly metrics: CoordinatorMetrics;
  readonly history: RunHistory;
  private server: MetricsServer | undefined;
  private timer: NodeJS.Timeout | undefined;
  private duplicatesSeen = 0;

  private constructor(
    runId: string,
    readonly registry: ReturnType<typeof createMetricsRegistry>,
  ) {
    this.metrics = createCoordinatorMetrics(registry);
    this.history = new RunHistory(runId, () => this.metrics.workersSeen());
  }

  /**
   * Serves /metrics and the live run page on `listen` (port 0 picks a free port). Every series carries `run`: runs
   * that share one Prometheus stay apart (the dashboard's `run` variable).
   */
  static async start(
    runId: string,
    listen: { port: number; host: string },
    log: (line: string) => void,
  ): Promise<CoordinatorTelemetry> {
    const t = new CoordinatorTelemetry(runId, createMetricsRegistry({ role: 'coordinator', run: runId }));
    t.server = await startMetricsServer(t.registry, {
      ...listen,
      onError: (err: Error) => log(`metrics: ${err.message}`),
      routes: liveRoutes(t.history),
    });
    log(`watch the run: ${t.server.url}/`);
    log(`metrics on ${t.server.url}/metrics`);
    return t;
  }

  get port(): number | undefined {
    return this.server?.port;
  }

  sourceEvents(log: (line: string) => void): SourceEvents {
    const m = this.metrics;
    return {
      log,
      onBytes: (kind, bytes) => m.transferBytes.inc({ kind }, bytes),
      onExchanged: (bytes) => m.exchangedBytes.inc(bytes),
      onPart: (part, seconds) => {
        m.stepPartDuration.observe({ part }, seconds);
        this.history.part(part, seconds);
      },
      onRejected: (reason) => m.gradientsRejected.inc({ reason: reason as RejectReason }),
      onWorker: (worker) => m.markWorkerSeen(worker),
    };
  }

  /** An `--algorithm local` round (its step report): counted, and its loss is the replicas' inner loss. */
  round(r: StepReport): void {
    this.metrics.localRounds.inc();
    if (Number.isFinite(r.loss)) this.metrics.innerLoss.set(r.loss);
  }

  step(r: StepReport): void {
    // A skipped step keeps gradq_loss_nonfinite at 1: its loss may be finite while its gradient is not (the wasm
    // backend's overflow at a learning rate of 1e30 gives such steps).
    if (r.skipped || !Number.isFinite(r.loss)) return;
    this.metrics.lossNonfinite.set(0);
    this.metrics.observeStep({
      step: r.step + 1,
      // 1-based, as the progress bar and `pnpm ckpt list` count epochs.
      epoch: r.epoch + 1,
      loss: r.loss,
      samples: r.samples,
      seconds: r.seconds,
    });
    this.metrics.stepPartDuration.observe({ part: 'optimizer' }, r.optimizerSeconds);
    this.history.part('optimizer', r.optimizerSeconds);
    this.history.step({ step: r.step + 1, loss: r.loss, samples: r.samples, seconds: r.seconds }, r.epoch + 1);
  }

  /** Polls what only Redis knows (queue depth, duplicates dropped by the submit script) every few seconds. */
  watch(queue: Queue, run: RunData, everyMs = 2000): void {
    const poll = async () => {
      try {
        const counts = await queue.getJobCounts(...QUEUE_STATES);
        for (const state of QUEUE_STATES) this.metrics.queueJobs.set({ state }, counts[state] ?? 0);
        const { duplicates } = await run.stats();
        if (duplicates > this.duplicatesSeen) this.metrics.duplicatesDropped.inc(duplicates - this.duplicatesSeen);
        this.duplicatesSeen = duplicates;
      } catch {
        // Redis is down: the step loop reports that; the next poll catches up.
      }
    };
    this.timer = setInterval(poll, everyMs);
    this.timer.unref();
    void poll();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.metrics.runActive.set(0);
    await this.server?.close();
  }
}
