import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is packages/testing/src/cli.ts). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Entry points of the commands, as `pnpm <name>` runs them. */
export const CLI = {
  start: join(REPO_ROOT, 'services/coordinator/src/cli/start.ts'),
  coordinator: join(REPO_ROOT, 'services/coordinator/src/cli/coordinator.ts'),
  worker: join(REPO_ROOT, 'services/worker/src/cli/worker.ts'),
  baseline: join(REPO_ROOT, 'packages/trainer/src/cli/baseline.ts'),
  ckpt: join(REPO_ROOT, 'packages/checkpoint/src/cli/ckpt.ts'),
} as const;

/**
 * The TF.js backend for tests that compare bits across processes: every process of one comparison must use the same
 * one. `TFJS_BACKEND` wins; else cpu-native when its addon is built (fast), else wasm (always there).
 */
export function testBackend(): string {
  if (process.env.TFJS_BACKEND && process.env.TFJS_BACKEND !== 'auto') return process.env.TFJS_BACKEND;
  const addon = join(REPO_ROOT, 'packages/native-kernels/build/Release/gradq_native.node');
  return existsSync(addon) ? 'cpu-native' : 'wasm';
}

/**
 * Where tests find the four MNIST .gz files, or undefined: `MNIST_DIR` when set (it must hold them), else `data/mnist`
 * in this checkout (where `pnpm start` downloads them), else `shared/mnist` beside the checkout (.ci/run's default).
 */
export function findMnistDir(): string | undefined {
  const has = (dir: string) => existsSync(join(dir, 'train-images-idx3-ubyte.gz'));
  if (process.env.MNIST_DIR) return has(process.env.MNIST_DIR) ? process.env.MNIST_DIR : undefined;
  return [join(REPO_ROOT, 'data/mnist'), join(REPO_ROOT, '../shared/mnist')].find(has);
}

/** {@link findMnistDir}, required. Tests must not download (no network on CI), so a missing set is an error. */
export function mnistDir(): string {
  const dir = findMnistDir();
  if (dir) return dir;
  throw new Error(
    process.env.MNIST_DIR
      ? `no MNIST for tests: MNIST_DIR=${process.env.MNIST_DIR} does not hold the four IDX .gz files`
      : 'no MNIST for tests: set MNIST_DIR to a directory holding the four IDX .gz files',
  );
}

/** A run id no other test (or engineer) uses at the same time: Redis keys and checkpoints are per run id. */
export function uniqueRunId(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/**
 * Variables the CLIs read as options. A developer's shell may set any of them; a test must get only what it passes,
 * or the same test trains something else on another machine.
 */
const GRADQ_ENV = [
  'REDIS_URL',
  'REDIS_CLUSTER',
  'RESUME',
  'RUN_ID',
  'SUMMARY_PATH',
  'WORKERS',
  'EPOCHS',
  'BATCH_SIZE',
  'SHARDS_PER_STEP',
  'OUTPUT_ACTIVATION',
  'LAYERS',
  'LEARNING_RATE',
  'SEED',
  'LIMIT',
  'METRICS_PORT',
  'METRICS_HOST',
  'WORKER_METRICS_PORT',
  'WORKER_ID',
  'WORKER_LOCK_MS',
  'CHECK_AFTER_MS',
  'CHECKPOINT_EVERY',
  'KEEP_RUN',
  'GRAD_ENCODING',
  'JOBS_PER_STEP',
  'OPTIMIZER',
  'SHARD_DEADLINE_MS',
  'TFJS_BACKEND',
  // node --test marks its children with this; a grandchild that inherits it may act as a test file.
  'NODE_TEST_CONTEXT',
  // Test-only fault knob of the worker: a leftover one would make every worker a straggler.
  'GRADQ_TEST_SLOW_MS',
  'GRADQ_ENGINE',
  'GRADQ_CUBLAS',
];
const GRADQ_ENV_PREFIXES = ['S3_', 'AWS_', 'CHECKPOINT_', 'GRADQ_CUDA_'];

/** process.env without any gradq option, plus the test backend, MNIST and any-free-port metrics; then `extra`. */
export function cliEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (GRADQ_ENV.includes(key) || GRADQ_ENV_PREFIXES.some((p) => key.startsWith(p))) continue;
    env[key] = value;
  }
  Object.assign(env, {
    TFJS_BACKEND: testBackend(),
    MNIST_DIR: mnistDir(),
    METRICS_PORT: '0',
    WORKER_METRICS_PORT: '0',
  });
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

export interface SpawnCliOptions {
  /** Default {@link cliEnv}(). */
  env?: NodeJS.ProcessEnv;
  /** Name in error messages and verbose output. Default: the script's file name. */
  name?: string;
}

export interface CliExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface CliProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  stdout(): string;
  stderr(): string;
  /** Settles when the process has exited (never rejects). */
  readonly exited: Promise<CliExit>;
  /** Whether the process is still running. */
  running(): boolean;
  /** Resolves with the first stderr match of `pattern` (already printed or future); rejects on exit or timeout. */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Waits for exit 0 and parses the last stdout line as JSON (the run summary); rejects otherwise, with stderr. */
  summary<T = Record<string, unknown>>(timeoutMs?: number): Promise<T>;
  /** Sends `signal` to the process group (the CLI and anything it spawned). */
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM (the CLIs stop cleanly), SIGKILL after `graceMs`; waits for the exit. */
  stop(graceMs?: number): Promise<void>;
  /** The last `chars` of stderr, for assertion messages. */
  tail(chars?: number): string;
}

/**
 * Runs a gradq CLI the way `pnpm <command>` does (node + tsx) from the repository root, in its own process group so
 * that `kill` reaches workers `pnpm start` spawned, too. Output is kept in memory; set GRADQ_TEST_VERBOSE=1 to also
 * see stderr live.
 */
export function spawnCli(script: string, args: readonly string[], options: SpawnCliOptions = {}): CliProcess {
  const name = options.name ?? script.split('/').at(-1) ?? script;
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: REPO_ROOT,
    env: options.env ?? cliEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  if (child.pid === undefined) throw new Error(`${name}: could not spawn`);
  const pid = child.pid;
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    const text = chunk.toString();
    err += text;
    if (process.env.GRADQ_TEST_VERBOSE) process.stderr.write(text.replace(/^(?=.)/gm, `[${name}] `));
    for (const l of listeners) l();
  });
  let exit: CliExit | undefined;
  const exited = new Promise<CliExit>((resolve) => {
    child.once('close', (code, signal) => {
      exit = { code, signal };
      // Killed by a signal, the CLI could not stop what it spawned (`pnpm start`'s workers): reap its group.
      if (signal) {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // Nothing left in the group.
        }
      }
      for (const l of listeners) l();
      resolve(exit);
    });
  });
  const tail = (chars = 3000) => err.slice(-chars);
  const describeExit = (e: CliExit) => (e.signal ? `signal ${e.signal}` : `code ${e.code}`);

  const handle: CliProcess = {
    name,
    child,
    pid,
    stdout: () => out,
    stderr: () => err,
    exited,
    running: () => exit === undefined,
    tail,
    waitForStderr(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = err.match(pattern);
          if (match) return done(() => resolve(match));
          if (exit)
            return done(() =>
              reject(
                new Error(`${name} exited (${describeExit(exit as CliExit)}) before printing ${pattern}:\n${tail()}`),
              ),
            );
        };
        const timer = setTimeout(
          () => done(() => reject(new Error(`${name}: no ${pattern} on stderr within ${timeoutMs} ms:\n${tail()}`))),
          timeoutMs,
        );
        const done = (settle: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          settle();
        };
        listeners.add(check);
        check();
      });
    },
    async summary<T>(timeoutMs = 180_000): Promise<T> {
      let timer: NodeJS.Timeout | undefined;
      const result = await Promise.race([
        exited,
        new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      if (result === 'timeout') throw new Error(`${name} did not finish within ${timeoutMs} ms:\n${tail()}`);
      if (result.code !== 0) throw new Error(`${name} exited with ${describeExit(result)}:\n${tail()}`);
      return readSummary<T>(out);
    },
    kill(signal = 'SIGTERM') {
      if (exit) return;
      try {
        process.kill(-pid, signal);
      } catch {
        // Already gone.
      }
    },
    async stop(graceMs = 10_000) {
      if (exit) return;
      handle.kill('SIGTERM');
      const timer = setTimeout(() => handle.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      // The CLI is gone; anything it left in its group (a worker it had not stopped yet) goes too.
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // Nothing left.
      }
    },
  };
  return handle;
}

/** The run summary a training CLI prints as its last stdout line. */
export function readSummary<T = Record<string, unknown>>(stdout: string): T {
  const last = stdout.trim().split('\n').at(-1);
  if (!last) throw new Error('no summary: stdout is empty');
  try {
    return JSON.parse(last) as T;
  } catch {
    throw new Error(`no summary: the last stdout line is not JSON: ${last.slice(0, 500)}`);
  }
}

/**
 * Every CLI a test file started, so that one `after(() => procs.stopAll())` cleans up even when a test failed
 * halfway.
 */
export class CliProcesses {
  private readonly all = new Set<CliProcess>();

  spawn(script: string, args: readonly string[], options: SpawnCliOptions = {}): CliProcess {
    const p = spawnCli(script, args, options);
    this.all.add(p);
    void p.exited.then(() => this.all.delete(p));
    return p;
  }

  async stopAll(graceMs = 5000): Promise<void> {
    await Promise.all([...this.all].map((p) => p.stop(graceMs)));
  }
}

/** Polls `probe` until it returns a value other than undefined; rejects after `timeoutMs` with `what`. */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 60_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
