import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AUTH_REFUSED, redactUrl } from '@gradq/protocol';
import { Redis } from 'ioredis';
import { DEFAULT_REDIS_URL } from './config';

export interface ResolvedRedis {
  readonly url: string;
  /** Stops the private server, if one was started. */
  stop(): Promise<void>;
}

export class NoRedisError extends Error {
  override readonly name = 'NoRedisError';
}

/**
 * The embedded default: Redis at `explicitUrl` if given (it must answer: no fallback for an address the user
 * chose); else the local default if it answers; else a private `redis-server` from PATH on a free loopback port,
 * without persistence, stopped on exit. With neither, a NoRedisError that names both fixes.
 */
export async function resolveRedis(
  explicitUrl: string | undefined,
  log: (line: string) => void,
): Promise<ResolvedRedis> {
  const none = { stop: async () => {} };
  if (explicitUrl) {
    // Checked before any worker starts: each would print its own stream of connection errors.
    const problem = await unreachable(explicitUrl.split(',')[0]?.trim() ?? explicitUrl);
    if (problem)
      throw new RedisUrlConfigError(
        `REDIS_URL / --redis-url ${redactUrl(explicitUrl)}: nothing answers there (${problem}); start Redis there, or leave REDIS_URL unset and pnpm start runs a private redis-server`,
      );
    return { url: explicitUrl, ...none };
  }
  if ((await probe(DEFAULT_REDIS_URL)) === undefined) return { url: DEFAULT_REDIS_URL, ...none };
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'gradq-redis-'));
  let child: ChildProcess;
  try {
    child = await startServer(port, dir);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const url = `redis://127.0.0.1:${port}`;
  log(
    `nothing answers at ${DEFAULT_REDIS_URL}: started a private redis-server at ${url} (no persistence; stopped on exit)`,
  );
  return {
    url,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** REDIS_URL names a server that cannot be reached: a usage error (exit 2). */
export class RedisUrlConfigError extends Error {
  override readonly name = 'RedisUrlConfigError';
}

/**
 * Undefined when `url` answers PING; else why not: the connection's error (ECONNREFUSED...), or Redis's refusal of
 * the credentials (WRONGPASS, NOAUTH).
 */
async function probe(url: string, connectTimeout = 1000): Promise<string | undefined> {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout,
  });
  // connect() rejects with "Connection is closed."; the 'error' event names the cause.
  let cause = '';
  client.on('error', (err: Error) => {
    cause ||= err.message;
  });
  try {
    await client.connect();
    return (await client.ping()) === 'PONG' ? undefined : 'no PONG';
  } catch (err) {
    return cause || (err as Error).message;
  } finally {
    client.disconnect();
  }
}

/**
 * Why nothing can be reached at `url`, tried three times 0.5 s apart for a Redis that is starting; undefined once it
 * answers, or refuses the credentials (that is reported, with its fix, by the run's own connections).
 */
async function unreachable(url: string): Promise<string | undefined> {
  let problem: string | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, 500));
    problem = await probe(url, 2000);
    if (problem === undefined || AUTH_REFUSED.test(problem)) return undefined;
  }
  return problem;
}

function startServer(port: number, dir: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        resolve(child);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (c: Buffer) => {
      output += c.toString();
    });
    child.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'ENOENT'
          ? new NoRedisError(
              `no Redis answers at ${DEFAULT_REDIS_URL} and there is no redis-server on PATH. Either install Redis ` +
                `(e.g. 'apt-get install redis-server' or 'brew install redis'), or run one with 'docker compose up -d redis'; ` +
                'or point REDIS_URL / --redis-url at a running Redis.',
            )
          : err,
      );
    });
    child.once('exit', (code) =>
      reject(new Error(`redis-server exited with code ${code}: ${output.trim().split('\n').at(-1)}`)),
    );
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
