import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports';

export interface RedisServerOptions {
  /** The redis-server executable. Default: `$REDIS_SERVER_BIN`, else `redis-server` from PATH. */
  binary?: string;
  /** Give up when the server is not ready after this long. Default 10000 ms. */
  startTimeoutMs?: number;
}

export interface PrivateRedisOptions extends RedisServerOptions {
  /** Listen here; default a free loopback port. A restart passes the old port, so clients reconnect to the same URL. */
  port?: number;
  /** Extra redis-server arguments: `--requirepass`, `--user`, `--tls-port` ... */
  args?: readonly string[];
  /** Port to wait on for readiness when it is not `port` (a TLS-only server listens on its --tls-port). */
  readyPort?: number;
}

export interface RedisInstance {
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** Kills the server and deletes its directory. */
  stop(): Promise<void>;
}

export interface RedisClusterOptions extends RedisServerOptions {
  /** Master nodes (no replicas). Default 3, the fewest `redis-cli --cluster create` accepts. */
  nodes?: number;
  /** The redis-cli executable. Default: `$REDIS_CLI_BIN`, else `redis-cli` from PATH. */
  cli?: string;
}

export interface RedisClusterInstance {
  /** Every node as `redis://127.0.0.1:<port>`, comma-separated: what gradq's REDIS_URL takes with --redis-cluster. */
  readonly url: string;
  readonly ports: readonly number[];
  /** Kills every node and deletes their directories. */
  stop(): Promise<void>;
}

export class RedisStartError extends Error {
  override readonly name = 'RedisStartError';
}

/** The redis-server executable, or undefined when there is none, so that tests can skip with a message. */
export function findRedisServer(binary = process.env.REDIS_SERVER_BIN ?? 'redis-server'): string | undefined {
  const probe = spawnSync(binary, ['--version'], { stdio: 'ignore' });
  return probe.error || probe.status !== 0 ? undefined : binary;
}

/**
 * A private `redis-server` on a free loopback port (or `options.port`), without persistence. Tests that count workers
 * or compare bits need a Redis no other process uses: any worker on a shared Redis takes any run's jobs, possibly on
 * another backend. The fault harness restarts one on its old port and passes AUTH, ACL and TLS arguments.
 */
export async function startRedisServer(options: PrivateRedisOptions = {}): Promise<RedisInstance> {
  const dir = await mkdtemp(join(tmpdir(), 'gradq-redis-'));
  const port = options.port ?? (await freePort());
  let node: ChildProcess;
  try {
    node = await startNode(options, dir, port, options.args ?? [], options.readyPort);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: async () => {
      await kill(node);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A real Redis Cluster of `nodes` masters from `redis-server` (cluster-enabled, loopback ports, temp directories),
 * joined by `redis-cli --cluster create`, returned once every node reports `cluster_state:ok` (all 16384 slots
 * served), so that the first command of a test does not meet a CLUSTERDOWN.
 */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisClusterInstance> {
  const count = options.nodes ?? 3;
  const cli = options.cli ?? process.env.REDIS_CLI_BIN ?? 'redis-cli';
  const dir = await mkdtemp(join(tmpdir(), 'gradq-redis-cluster-'));
  const nodes: ChildProcess[] = [];
  const ports: number[] = [];
  const stop = async () => {
    await Promise.all(nodes.map(kill));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < count; i++) {
      const port = await freePort();
      // The bus port is set explicitly: the default (port + 10000) may be taken or beyond 65535.
      const busPort = await freePort();
      const nodeDir = join(dir, `node-${i}`);
      await mkdir(nodeDir, { recursive: true });
      nodes.push(
        await startNode(options, nodeDir, port, [
          '--cluster-enabled',
          'yes',
          '--cluster-port',
          String(busPort),
          '--cluster-config-file',
          join(nodeDir, 'nodes.conf'),
          '--cluster-node-timeout',
          '5000',
        ]),
      );
      ports.push(port);
    }
    const created = spawnSync(
      cli,
      ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'],
      { encoding: 'utf8', timeout: 30_000 },
    );
    if (created.error || created.status !== 0) {
      throw new RedisStartError(
        `redis-cli --cluster create failed (${created.error?.message ?? `code ${created.status}`}): ${created.stdout}${created.stderr}`,
      );
    }
    await waitForClusterOk(cli, ports, options.startTimeoutMs ?? 20_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: ports.map((p) => `redis://127.0.0.1:${p}`).join(','), ports, stop };
}

function startNode(
  options: RedisServerOptions,
  dir: string,
  port: number,
  extra: readonly string[],
  readyPort = port,
): Promise<ChildProcess> {
  const binary = options.binary ?? process.env.REDIS_SERVER_BIN ?? 'redis-server';
  const timeoutMs = options.startTimeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const child = spawn(
      binary,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        '--loglevel',
        'warning',
        ...extra,
      ],
      // At loglevel warning the readiness line is not printed. Readiness is a TCP connect, not PING: PING fails on
      // a server that demands a password, and without persistence a listening server has nothing left to load.
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    // Configuration errors (an unknown --tls-port on a build without TLS) go to stdout.
    let output = '';
    const keep = (c: Buffer) => {
      output = (output + c.toString()).slice(-4000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let settled = false;
    const settle = (done: () => void) => {
      if (settled) return;
      settled = true;
      done();
    };
    child.once('error', (err) => {
      settle(() =>
        reject(new RedisStartError(`cannot run "${binary}" (${err.message}): install Redis or set REDIS_SERVER_BIN`)),
      );
    });
    child.once('exit', (code) => {
      settle(() =>
        reject(new RedisStartError(`redis-server on port ${port} exited with code ${code}: ${output.trim()}`)),
      );
    });
    const deadline = Date.now() + timeoutMs;
    const poll = async () => {
      while (!settled) {
        if (await listening(readyPort)) {
          settle(() => resolve(child));
          return;
        }
        if (Date.now() > deadline) {
          settle(() =>
            reject(new RedisStartError(`redis-server on port ${port} not ready within ${timeoutMs} ms: ${output}`)),
          );
          child.kill('SIGKILL');
          return;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    void poll();
  });
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function waitForClusterOk(cli: string, ports: readonly number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = ports.map((p) => {
      const r = spawnSync(cli, ['-h', '127.0.0.1', '-p', String(p), 'cluster', 'info'], {
        encoding: 'utf8',
        timeout: 2000,
      });
      return r.stdout ?? '';
    });
    if (states.every((s) => s.includes('cluster_state:ok'))) return;
    if (Date.now() > deadline) {
      throw new RedisStartError(
        `cluster not ok within ${timeoutMs} ms: ${states.map((s) => s.split('\n')[0]).join(' | ')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
}
