import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const WORKER_CLI = fileURLToPath(new URL('../../worker/src/cli/worker.ts', import.meta.url));

export interface LocalWorkersOptions {
  readonly count: number;
  readonly env: NodeJS.ProcessEnv;
  /** Worker i serves /metrics on basePort + i (0: any free port). */
  readonly metricsBasePort: number;
  readonly log: (line: string) => void;
  /**
   * A worker exited with a configuration error (exit code 2): it is not restarted, since it would fail the same way.
   * `lines` are its last lines of output, which name the problem.
   */
  readonly onConfigError?: (worker: number, lines: readonly string[]) => void;
}

/**
 * Worker processes for `pnpm start`: one per core by default, since a gradient job keeps one core busy and
 * tfjs-wasm has no threads in Node. A worker that dies is restarted after a second (the queue retries its job),
 * unless it exited on a configuration error.
 */
export class LocalWorkers {
  private readonly children = new Map<number, ChildProcess>();
  /** Workers that have said, once, that they are taking jobs (an IPC message, sent after their setup). */
  private readonly started = new Set<number>();
  private onStarted = () => {};
  private stopping = false;

  constructor(private readonly o: LocalWorkersOptions) {
    for (let i = 1; i <= o.count; i++) this.spawn(i);
  }

  private spawn(i: number): void {
    const { env, metricsBasePort, log } = this.o;
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER_CLI], {
      env: {
        ...env,
        WORKER_ID: env.WORKER_ID ? `${env.WORKER_ID}-${i}` : `local-${i}`,
        METRICS_PORT: String(metricsBasePort === 0 ? 0 : metricsBasePort + i - 1),
      },
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      // A process group of its own: a terminal's Ctrl-C goes to pnpm start alone, which saves its checkpoint and
      // then stops the workers (over IPC). Were they in its group, each would stop on its own, print its own
      // "SIGINT received", and be restarted while the run was stopping. A worker stops when pnpm start goes away.
      detached: true,
    });
    this.children.set(i, child);
    child.on('message', (message) => {
      if ((message as { gradq?: string })?.gradq !== 'ready') return;
      this.started.add(i);
      this.onStarted();
    });
    const recent: string[] = [];
    if (child.stderr)
      createInterface({ input: child.stderr }).on('line', (line) => {
        log(line);
        recent.push(line);
        if (recent.length > 5) recent.shift();
      });
    child.once('exit', (code, signal) => {
      this.children.delete(i);
      if (this.stopping) return;
      if (code === 2) {
        // 'close' comes after 'exit', once the worker's last lines (which name the problem) have been read.
        child.once('close', () => this.o.onConfigError?.(i, recent));
        return;
      }
      log(`worker ${i} exited (${signal ?? `code ${code}`}); restarting it`);
      setTimeout(() => {
        if (!this.stopping) this.spawn(i);
      }, 1000).unref();
    });
  }

  /**
   * Resolves once every worker has started (set up, metrics listening, taking jobs), so that a worker's configuration
   * error stops the run before its first step, however slowly the machine starts processes. Rejects on `signal`.
   */
  ready(signal: AbortSignal, log: (line: string) => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiting = setTimeout(
        () => log(`waiting for ${this.o.count - this.started.size} of ${this.o.count} worker(s) to start`),
        5000,
      );
      const done = (err?: unknown) => {
        clearTimeout(waiting);
        signal.removeEventListener('abort', aborted);
        this.onStarted = () => {};
        if (err === undefined) resolve();
        else reject(err);
      };
      const aborted = () => done(signal.reason);
      this.onStarted = () => {
        if (this.started.size === this.o.count) done();
      };
      if (signal.aborted) return aborted();
      signal.addEventListener('abort', aborted, { once: true });
      this.onStarted();
    });
  }

  /** No worker is restarted from now on (the run is stopping). */
  stopRestarting(): void {
    this.stopping = true;
  }

  /** An IPC stop: each worker finishes its job in hand and exits; SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    await Promise.all(
      [...this.children.values()].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            if (child.connected) child.send({ gradq: 'stop' });
            else child.kill('SIGTERM');
          }),
      ),
    );
  }
}
