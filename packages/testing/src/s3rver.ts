import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { freePort } from './ports';

/** s3rver accepts exactly this key pair (its built-in account). */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface S3rverOptions {
  /** Bucket created once the server answers. Default `gradq-test`. */
  bucket?: string;
  /** Give up when the server has not answered after this long. Default 15000 ms. */
  startTimeoutMs?: number;
}

export interface S3rverInstance {
  /** `http://127.0.0.1:<port>`; use with path-style addressing and {@link S3RVER_CREDENTIALS}. */
  readonly endpoint: string;
  readonly bucket: string;
  readonly region: 'us-east-1';
  readonly credentials: typeof S3RVER_CREDENTIALS;
  /** Environment for code that reads the S3_* and AWS_* variables. */
  readonly env: Record<string, string>;
  /** Kills the server (its data stays until `stop`), as an outage would. */
  kill(): Promise<void>;
  /** Starts the server again on the same port and data directory. */
  restart(): Promise<void>;
  /** Kills the server and deletes its data directory. */
  stop(): Promise<void>;
}

export class S3rverStartError extends Error {
  override readonly name = 'S3rverStartError';
}

/**
 * Spawns the `s3rver` npm package as a child process on a free loopback port with a private data directory, waits
 * until it answers, and creates a bucket. A child process rather than s3rver's in-process API so that a test can
 * kill it like a real outage (sockets reset, not a graceful close).
 */
export async function startS3rver(options: S3rverOptions = {}): Promise<S3rverInstance> {
  const bucket = options.bucket ?? 'gradq-test';
  const timeout = options.startTimeoutMs ?? 15_000;
  const dir = await mkdtemp(join(tmpdir(), 'gradq-s3rver-'));
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;

  const start = async () => {
    child = spawnS3rver(dir, port);
    await waitUntilAnswering(endpoint, child, timeout);
  };
  const kill = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill('SIGKILL');
    await exited;
  };

  await start();
  const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (err) {
    await kill();
    await rm(dir, { recursive: true, force: true });
    throw err;
  } finally {
    client.destroy();
  }

  return {
    endpoint,
    bucket,
    region: 'us-east-1',
    credentials: S3RVER_CREDENTIALS,
    env: {
      S3_BUCKET: bucket,
      S3_ENDPOINT: endpoint,
      S3_REGION: 'us-east-1',
      S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    },
    kill,
    restart: async () => {
      await kill();
      await start();
    },
    stop: async () => {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function spawnS3rver(dir: string, port: number): ChildProcess {
  const bin = createRequire(import.meta.url).resolve('s3rver/bin/s3rver.js');
  // Measured: without the legacy provider, s3rver's ListObjectsV2 continuation tokens (md5-based cipher) throw on
  // Node 17+, so paging past the first page fails.
  const nodeOptions = [process.env.NODE_OPTIONS, '--openssl-legacy-provider'].filter(Boolean).join(' ');
  const child = spawn(process.execPath, [bin, '-d', dir, '-a', '127.0.0.1', '-p', String(port), '--silent'], {
    env: { ...process.env, NODE_OPTIONS: nodeOptions },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  (child as ChildProcess & { stderrTail: () => string }).stderrTail = () => stderr;
  return child;
}

async function waitUntilAnswering(endpoint: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) {
      const tail = (child as ChildProcess & { stderrTail?: () => string }).stderrTail?.() ?? '';
      throw new S3rverStartError(`s3rver exited with code ${child.exitCode}: ${tail.trim()}`);
    }
    try {
      // Any HTTP answer (s3rver says 403 to an unsigned request) means it is listening.
      await fetch(endpoint, { signal: AbortSignal.timeout(1000) });
      return;
    } catch {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new S3rverStartError(`s3rver did not answer on ${endpoint} within ${timeoutMs} ms`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
