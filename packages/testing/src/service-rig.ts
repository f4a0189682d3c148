import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { CliProcesses } from './cli';
import { type RedisInstance, startRedisServer } from './redis-cluster';

/** What an integration test file of the services runs against; valid once its `before` hooks have run. */
export interface ServiceRig {
  /** The CLIs this file starts; all stopped after its tests. */
  readonly procs: CliProcesses;
  /** A private redis-server for this file (none with `{ redis: false }`). */
  readonly server: RedisInstance;
  /** A temporary directory (checkpoints), removed after the tests. */
  readonly dir: string;
  /**
   * Resolves once the server and the directory exist. A file's own `before` hooks must await it: node 20 runs
   * root-level `before` hooks at the same time, not one after the other.
   */
  readonly ready: Promise<void>;
  /**
   * Registers `close` (a client of the server, a queue) to run at teardown after the processes have stopped and
   * before the server does, latest first; one that fails does not keep the others from running.
   */
  onTeardown(close: () => Promise<unknown> | unknown): void;
}

/**
 * The usual setup of a services test file, in one place: registers `before` (a private redis-server unless
 * `{ redis: false }`, a temporary directory) and `after` (every process stopped, then what {@link ServiceRig.onTeardown} registered, then the server,
 * then the directory) with node:test.
 */
export function serviceRig(name: string, options: { redis?: boolean } = {}): ServiceRig {
  const withRedis = options.redis ?? true;
  const procs = new CliProcesses();
  const closers: (() => Promise<unknown> | unknown)[] = [];
  let server: RedisInstance | undefined;
  let dir: string | undefined;
  let resolveReady: () => void = () => {};
  let rejectReady: (err: unknown) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  ready.catch(() => {}); // a failed setup fails this hook; the files' hooks that await it fail too
  before(async () => {
    try {
      if (withRedis) server = await startRedisServer();
      dir = await mkdtemp(join(tmpdir(), `gradq-${name}-`));
      resolveReady();
    } catch (err) {
      rejectReady(err);
      throw err;
    }
  });
  after(async () => {
    await procs.stopAll();
    for (const close of closers.reverse()) {
      try {
        await close();
      } catch {
        // Teardown goes on: the server and the directory still go.
      }
    }
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  const set = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`serviceRig('${name}').${what} used before its before() hook ran`);
    return value;
  };
  return {
    procs,
    ready,
    onTeardown: (close) => {
      closers.push(close);
    },
    get server() {
      if (!withRedis) throw new Error(`serviceRig('${name}', { redis: false }) has no server`);
      return set(server, 'server');
    },
    get dir() {
      return set(dir, 'dir');
    },
  };
}
