import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  if (explicitUrl) return { url: explicitUrl, ...none };
  if (await answers(DEFAULT_REDIS_URL)) return { url: DEFAULT_REDIS_URL, ...none };
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

async function answers(url: string): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1000,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
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
