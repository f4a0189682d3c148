import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Store } from '@gradq/checkpoint';
import type { CoordinatorSummary } from '@gradq/coordinator';
import { createRedis, type RedisClient, runKeys } from '@gradq/protocol';
import {
  CLI,
  type CliProcess,
  CliProcesses,
  cliEnv,
  type RedisInstance,
  type S3rverInstance,
  startRedisServer,
  startS3rver,
  stepOf,
  uniqueRunId,
} from '@gradq/testing';

/** The training every scenario runs: same seed, same data, same shards per step, so the same final bits. */
export interface Workload {
  limit: number;
  epochs: number;
  batchSize: number;
  shardsPerStep: number;
  seed: number;
  /** Steps between checkpoints (every epoch end is checkpointed too). */
  checkpointEvery: number;
}

export function workloadArgs(w: Workload): string[] {
  return [
    '--limit',
    String(w.limit),
    '--epochs',
    String(w.epochs),
    '--batch-size',
    String(w.batchSize),
    '--shards-per-step',
    String(w.shardsPerStep),
    '--seed',
    String(w.seed),
    '--checkpoint-every',
    String(w.checkpointEvery),
  ];
}

export function totalSteps(w: Workload): number {
  return Math.ceil(w.limit / w.batchSize) * w.epochs;
}

/**
 * One scenario's world: a private Redis on a loopback port, optionally an s3rver, a temp checkpoint directory,
 * and every process started through it, so that `close` leaves nothing behind even when the scenario failed.
 */
export class Rig {
  readonly procs = new CliProcesses();
  readonly runId: string;
  private workerCount = 0;
  private constructor(
    public redisServer: RedisInstance,
    readonly redis: RedisClient,
    readonly dir: string,
    readonly workload: Workload,
    readonly s3: S3rverInstance | undefined,
    name: string,
  ) {
    this.runId = uniqueRunId(`faults-${name}`);
  }

  static async open(name: string, workload: Workload, options: { s3?: boolean } = {}): Promise<Rig> {
    const dir = await mkdtemp(join(tmpdir(), `gradq-faults-${name}-`));
    const server = await startRedisServer();
    const s3 = options.s3 ? await startS3rver({ bucket: 'gradq-faults' }) : undefined;
    // The rig's own connection only watches progress; it must survive the Redis restart scenario, so errors are
    // ignored (ioredis reconnects by itself).
    const redis = createRedis({ url: server.url, cluster: false }, () => {});
    return new Rig(server, redis, dir, workload, s3, name);
  }

  get redisUrl(): string {
    return this.redisServer.url;
  }

  /** Environment of every process: the test backend and MNIST, checkpoints in S3 when the rig has one. */
  env(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
    return cliEnv({ CHECKPOINT_DIR: join(this.dir, 'checkpoints'), ...(this.s3?.env ?? {}), ...extra });
  }

  coordinator(extraArgs: readonly string[] = [], options: { resume?: boolean } = {}): CliProcess {
    const args = [
      ...workloadArgs(this.workload),
      ...(options.resume ? ['--resume', this.runId] : ['--run-id', this.runId]),
      '--redis-url',
      this.redisUrl,
      '--check-after-ms',
      '1000',
      '--metrics-port',
      '0',
      ...extraArgs,
    ];
    return this.procs.spawn(CLI.coordinator, args, { env: this.env(), name: 'coordinator' });
  }

  worker(env: Record<string, string> = {}): CliProcess {
    this.workerCount += 1;
    const id = `w${this.workerCount}`;
    // A 2 s lock: a killed worker's job is declared stalled and retried within seconds.
    return this.procs.spawn(
      CLI.worker,
      ['--redis-url', this.redisUrl, '--lock-ms', '2000', '--worker-id', id, '--metrics-port', '0'],
      { env: this.env(env), name: id },
    );
  }

  /** The step the coordinator is collecting, -1 before it has opened one (or while Redis is down/empty). */
  async step(): Promise<number> {
    try {
      const raw = await withTimeout(this.redis.get(runKeys(this.runId).step), 1000);
      return stepOf(raw);
    } catch {
      return -1;
    }
  }

  /** Resolves with the step once it is at least `step`; throws if the coordinator exits first. */
  async waitForStep(step: number, coordinator: CliProcess, timeoutMs = 180_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const now = await this.step();
      if (now >= step) return now;
      if (!coordinator.running()) throw new Error(`coordinator exited before step ${step}:\n${coordinator.tail()}`);
      if (Date.now() > deadline) throw new Error(`step ${step} not reached within ${timeoutMs} ms (at ${now})`);
      await sleep(50);
    }
  }

  /** Kills Redis (its data is gone) and starts an empty one on the same port after `downMs`. */
  async wipeRedis(downMs: number): Promise<void> {
    const port = this.redisServer.port;
    await this.redisServer.stop();
    await sleep(downMs);
    this.redisServer = await startRedisServer({ port });
  }

  /** The S3 store the coordinator writes to, for checking what landed. */
  s3Store(): S3Store {
    if (!this.s3) throw new Error('this rig has no S3');
    // The SDK's "node >= 22 soon" notice would be printed into the middle of the suite's report.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    return new S3Store({
      bucket: this.s3.bucket,
      endpoint: this.s3.endpoint,
      region: this.s3.region,
      forcePathStyle: true,
      credentials: this.s3.credentials,
    });
  }

  async close(): Promise<void> {
    await this.procs.stopAll(2000);
    this.redis.disconnect();
    await this.redisServer.stop();
    await this.s3?.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timeout')), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export type Summary = CoordinatorSummary;
