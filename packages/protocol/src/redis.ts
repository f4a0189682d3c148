import { isIP } from 'node:net';
import { redactUrl } from '@gradq/trainer';
import { Cluster, Redis, type RedisOptions } from 'ioredis';

export { redactUrl };

export type RedisClient = Redis | Cluster;

export interface RedisSettings {
  /** `redis://[user:password@]host:port[/db]` or `rediss://` for TLS; with `cluster`, comma-separated seed nodes. */
  readonly url: string;
  /** Connect to a Redis Cluster, using `url`'s nodes as seeds. Default false. */
  readonly cluster: boolean;
}

function nodeOptions(url: string): { host: string; port: number; options: RedisOptions } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RangeError(
      `REDIS_URL: '${redactUrl(url)}' is not a URL (expected redis://host:port or rediss://host:port)`,
    );
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new RangeError(`REDIS_URL: scheme must be redis:// or rediss://, got '${parsed.protocol}//'`);
  }
  const options: RedisOptions = {};
  if (parsed.username) options.username = decodeURIComponent(parsed.username);
  if (parsed.password) options.password = decodeURIComponent(parsed.password);
  // SNI takes host names only (RFC 6066; Node warns on an IP); the certificate is still checked against the IP.
  if (parsed.protocol === 'rediss:') options.tls = isIP(parsed.hostname) ? {} : { servername: parsed.hostname };
  const db = parsed.pathname.replace(/^\//, '');
  if (db && !/^\d+$/.test(db)) throw new RangeError(`REDIS_URL: the database must be a number, got '/${db}'`);
  if (db) options.db = Number(db);
  return { host: parsed.hostname, port: Number(parsed.port || 6379), options };
}

/**
 * Why `url` cannot be a REDIS_URL (one URL, or comma-separated Redis Cluster seeds), or undefined when it can; for
 * config schemas, so that a bad URL is a usage error naming its flag before anything starts.
 */
export function redisUrlProblem(url: string): string | undefined {
  try {
    for (const node of url.split(',')) nodeOptions(node.trim());
    return undefined;
  } catch (err) {
    return (err as Error).message.replace(/^REDIS_URL: /, '');
  }
}

/**
 * Redis refused the credentials in REDIS_URL. Final: retrying cannot help, so the connection stops and the command
 * exits 2 naming REDIS_URL (the name ends in ConfigError, which `runMain` treats as a usage error).
 */
export class RedisAuthConfigError extends Error {
  override readonly name = 'RedisAuthConfigError';
}

/** Redis's replies to a wrong user or password (AUTH, HELLO) and to a missing one. */
export const AUTH_REFUSED = /^(WRONGPASS|NOAUTH|ERR invalid password|ERR AUTH .*called without any password)/;

/**
 * A connection for gradq. `maxRetriesPerRequest: null` makes commands wait across reconnects instead of failing
 * (BullMQ requires it for workers, and a training run should ride out a Redis restart). Every connection gets an
 * error listener: ioredis emits 'error' on each failed reconnect, which would otherwise crash the process.
 *
 * Refused credentials are the exception: the connection is dropped (no reconnect) and `onRefused` gets a
 * RedisAuthConfigError naming the redacted URL; by default that error is thrown from its own task, ending the
 * process (`runMain` prints the message alone, exit 2), because a service that retried forever would look alive
 * while doing nothing. ioredis's own error carries the AUTH command with its arguments, password
 * included: it goes nowhere.
 */
export function createRedis(
  settings: RedisSettings,
  onError: (err: Error) => void = () => {},
  onRefused: (err: RedisAuthConfigError) => void = (err) =>
    setImmediate(() => {
      throw err;
    }),
): RedisClient {
  const common: RedisOptions = { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: false };
  let client: RedisClient;
  if (settings.cluster) {
    const seeds = settings.url.split(',').map((u) => nodeOptions(u.trim()));
    const first = seeds[0];
    if (!first) throw new RangeError('REDIS_URL: no cluster nodes given');
    client = new Cluster(
      seeds.map(({ host, port }) => ({ host, port })),
      { redisOptions: { ...common, ...first.options, db: undefined }, enableReadyCheck: true },
    );
  } else {
    const { host, port, options } = nodeOptions(settings.url);
    client = new Redis({ ...common, ...options, host, port });
  }
  let refused = false;
  client.on('error', (err: Error) => {
    if (!AUTH_REFUSED.test(err.message)) return onError(err);
    if (refused) return;
    refused = true;
    client.disconnect();
    const reply = (err.message.split('\n')[0] ?? '').replace(/\.$/, '');
    const final = new RedisAuthConfigError(
      `REDIS_URL ${redactUrl(settings.url)}: Redis refused the credentials (${reply}); check the user name and password in the URL`,
    );
    onRefused(final);
  });
  return client;
}

/**
 * Closes a connection without ever hanging: QUIT is queued behind any command waiting for a Redis that never came
 * (with `maxRetriesPerRequest: null` they wait forever), so a connection that is not ready is dropped at once, and a
 * QUIT that gets no answer within `timeoutMs` is followed by a drop too.
 */
export async function closeRedis(client: RedisClient, timeoutMs = 2000): Promise<void> {
  if (client.status === 'ready') {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      client.quit().catch(() => undefined),
      new Promise((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }
  client.disconnect();
}

/** Resolves once the client answers PING, or rejects after `timeoutMs` naming the (redacted) URL. */
export async function waitForRedis(client: RedisClient, url: string, timeoutMs = 10_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(
                `Redis at ${redactUrl(url)} did not answer within ${timeoutMs / 1000} s: start Redis there, or point REDIS_URL (--redis-url) at one`,
              ),
            ),
          timeoutMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs `issue`, which sends several small commands at once (the GETs of a gradient's or parameters' slices, their
 * DELs), with the connection's socket corked, so that they leave in one write (writev) instead of a system call
 * each; what `issue` returns is returned. Why: a CPU profile of the coordinator at the protocol point (W = 1,
 * instant workers) showed ~0.8 ms per step in `write` system calls, one per command; corked, 0.28 ms less. Not for
 * the 3 MB writes: corking the slices' SETs as well measured 0.93x (`pnpm start --workers 1`, batch 128, 6 rounds).
 * ioredis's auto-pipelining would batch too, but its pipelines copy every value into one buffer, which the patched
 * `Command.writeTo` exists to avoid. A Cluster (a socket per node), or a connection not ready (commands wait in
 * ioredis's offline queue), runs `issue` as it is.
 */
export function corked<T>(redis: RedisClient, issue: () => T): T {
  const stream =
    'nodes' in redis || redis.status !== 'ready'
      ? undefined
      : (redis.stream as (NodeJS.WritableStream & { cork?: () => void; uncork?: () => void }) | undefined);
  if (!stream?.cork || !stream.uncork) return issue();
  stream.cork();
  try {
    return issue();
  } finally {
    stream.uncork();
  }
}

/**
 * Resolves once every command issued so far on `redis` has left this process (its bytes are the kernel's), or after
 * `limitMs` (only a performance matter). A worker waits for this before computing its next block: the engine holds
 * the event loop for the whole compute, and bytes still queued here would reach Redis only after it.
 */
export function whenSent(redis: Redis, limitMs = 2000): Promise<void> {
  const stream = redis.stream as (NodeJS.WritableStream & { writableLength?: number }) | undefined;
  if (!stream?.writableLength) return Promise.resolve();
  return new Promise((resolve) => {
    const check = () => {
      if (!stream.writableLength) finish();
    };
    const finish = () => {
      clearInterval(poll);
      clearTimeout(limit);
      stream.off('drain', check);
      stream.off('close', finish);
      resolve();
    };
    // 'drain' comes only after a write the stream refused; a short queue is checked every millisecond.
    const poll = setInterval(check, 1);
    const limit = setTimeout(finish, limitMs);
    stream.on('drain', check);
    stream.once('close', finish);
  });
}
