import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@gradq/testing';

export interface RedisProcessOptions {
  /** Listen here; default a free loopback port. A restart passes the old port, so clients reconnect to the same URL. */
  port?: number;
  /** Extra redis-server arguments: `--requirepass`, `--user`, `--tls-port` ... */
  args?: readonly string[];
  /** Port to poll for readiness when it is not `port` (a TLS-only server listens on its --tls-port). */
  readyPort?: number;
}

export interface RedisProcess {
  readonly port: number;
  readonly url: string;
  /** SIGKILL: the data is gone (no persistence), like a crashed or rescheduled Redis without a volume. */
  kill(): Promise<void>;
  /** Kills the server and deletes its directory. */
  stop(): Promise<void>;
  /** The server's stderr/stdout tail, for error messages. */
  log(): string;
}

/**
 * A private `redis-server` without persistence on a loopback port. Unlike @gradq/testing's startRedisServer it takes
 * a fixed port (a "Redis restarted without its data" fault needs the same address back) and extra arguments (AUTH,
 * ACL users, TLS); readiness is a TCP connect, because `redis-cli ping` fails on a server that demands a password.
 */
export async function startRedisProcess(options: RedisProcessOptions = {}): Promise<RedisProcess> {
  const port = options.port ?? (await freePort());
  const dir = await mkdtemp(join(tmpdir(), 'gradq-faults-redis-'));
  const binary = process.env.REDIS_SERVER_BIN ?? 'redis-server';
  const child: ChildProcess = spawn(
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
      ...(options.args ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await exited;
  };
  try {
    await waitForPort(options.readyPort ?? port, child, 10_000);
  } catch (err) {
    await kill();
    await rm(dir, { recursive: true, force: true });
    throw new Error(`redis-server on port ${port} did not start: ${(err as Error).message}\n${output}`);
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill,
    stop: async () => {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
    log: () => output,
  };
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`exited with code ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listening after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
