/**
 * One coordinator per run at a time. Two coordinators on one run id used to deadlock each other silently: the second
 * reset the run, the first re-issued its blocks and swallowed the second's results. The owner holds a lease (a key
 * with a TTL, renewed every `renewMs`); another coordinator waits while it lives and takes the run over only once it
 * has expired (its owner died), or gives up naming the owner. An owner that finds the lease taken stops.
 */
import { hostname } from 'node:os';
import type { Fence } from './fence';
import { runKeys } from './keys';
import type { RedisClient } from './redis';

/** A live lease on the run: it is being trained by another coordinator. */
export class RunOwnedConfigError extends Error {
  override readonly name = 'RunOwnedConfigError';
}

// Renew if it is ours; take it back if Redis lost it (restarted empty: we are still its owner), but not if another
// coordinator has released the run since (KEYS[2]: a successor that finished and removed it); else 0.
const RENEW = `
local owner = redis.call('GET', KEYS[1])
if owner == false then
  local released = redis.call('GET', KEYS[2])
  if released and released ~= ARGV[1] then return 0 end
end
if owner == ARGV[1] or owner == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
`;
// Gives the lease up (also after the run's keys were removed with it) and says who did, for RELEASED_MS: a coordinator
// frozen past its lease and thawed after its successor finished would otherwise take the missing lease back and
// train the finished run again.
const RELEASE = `
local owner = redis.call('GET', KEYS[1])
if owner ~= ARGV[1] and owner ~= false then return 0 end
if owner == false then
  local released = redis.call('GET', KEYS[2])
  if released and released ~= ARGV[1] then return 0 end
end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return 1
`;
/** How long a released run's last owner is remembered: longer than any pause a coordinator wakes up from. */
const RELEASED_MS = 24 * 3600 * 1000;

type WithLease = RedisClient & {
  gradqRenewLease(key: string, released: string, me: string, ttlMs: number): Promise<number>;
  gradqReleaseLease(key: string, released: string, me: string, keepMs: number): Promise<number>;
};

export interface LeaseOptions {
  /** The lease's lifetime. Default 6 s. */
  readonly ttlMs?: number;
  /** How often the owner renews it. Default 2 s. */
  readonly renewMs?: number;
  /** How long a coordinator waits for another's lease to expire before giving up. Default twice the TTL. */
  readonly waitMs?: number;
  readonly log?: (line: string) => void;
}

export class RunLease {
  private timer: NodeJS.Timeout | undefined;
  private readonly key: string;
  private readonly releasedKey: string;
  private readonly me: string;
  readonly ttlMs: number;

  constructor(
    private readonly redis: RedisClient,
    private readonly runId: string,
    session: string,
    private readonly o: LeaseOptions = {},
  ) {
    this.key = runKeys(runId).owner;
    this.releasedKey = `${this.key}:released`;
    this.me = `${session} ${hostname()} pid ${process.pid}`;
    this.ttlMs = o.ttlMs ?? 6000;
    const client = redis as WithLease;
    if (typeof client.gradqRenewLease !== 'function') {
      redis.defineCommand('gradqRenewLease', { numberOfKeys: 2, lua: RENEW });
      redis.defineCommand('gradqReleaseLease', { numberOfKeys: 2, lua: RELEASE });
    }
  }

  /**
   * Takes the run, waiting while another coordinator's lease lives (a coordinator just killed leaves one for up to
   * `ttlMs`); throws RunOwnedConfigError naming the owner after `waitMs`. Then renews it every `renewMs` and calls
   * `onLost` if another coordinator has taken it.
   */
  async acquire(onLost: (owner: string) => void, signal?: AbortSignal): Promise<void> {
    const waitMs = this.o.waitMs ?? 2 * this.ttlMs;
    const started = Date.now();
    let said = false;
    for (;;) {
      signal?.throwIfAborted();
      if ((await this.redis.set(this.key, this.me, 'PX', this.ttlMs, 'NX')) === 'OK') {
        // Ours now: an earlier owner's release no longer stands between this lease and a Redis that loses it.
        await this.redis.del(this.releasedKey);
        break;
      }
      const [owner, ttl] = await Promise.all([this.redis.get(this.key), this.redis.pttl(this.key)]);
      if (owner === null) continue; // expired in between
      if (Date.now() - started >= waitMs)
        throw new RunOwnedConfigError(
          `run ${this.runId} is being trained by another coordinator (session ${owner}), which renews its lease: stop it, or choose another --run-id`,
        );
      if (!said) {
        this.o.log?.(
          `run ${this.runId} is owned by coordinator session ${owner} (lease ends in ${Math.max(0, ttl)} ms unless renewed); waiting up to ${Math.round(waitMs / 1000)} s`,
        );
        said = true;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    const client = this.redis as WithLease;
    this.timer = setInterval(() => {
      client
        .gradqRenewLease(this.key, this.releasedKey, this.me, this.ttlMs)
        .then(async (ok) => {
          if (ok === 1 || !this.timer) return;
          this.stop();
          const owner = await this.redis.get(this.key).catch(() => null);
          const released = owner ? null : await this.redis.get(this.releasedKey).catch(() => null);
          onLost(owner ?? (released ? `${released}, which has since released it` : 'unknown'));
        })
        // Redis unreachable: the lease may lapse, and another coordinator take the run; the next renewal says so.
        .catch(() => {});
    }, this.o.renewMs ?? 2000);
    this.timer.unref();
  }

  /** The fencing token of this lease, for the run's fenced writes (`fence.ts`). */
  get fence(): Fence {
    return { ownerKey: this.key, releasedKey: this.releasedKey, token: this.me, ttlMs: this.ttlMs };
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Gives the run up at once (a resume need not wait for the TTL); best effort, never hangs. */
  async release(timeoutMs = 1000): Promise<void> {
    this.stop();
    if (this.redis.status !== 'ready') return;
    const client = this.redis as WithLease;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      client.gradqReleaseLease(this.key, this.releasedKey, this.me, RELEASED_MS).catch(() => 0),
      new Promise((r) => {
        timer = setTimeout(r, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }
}
