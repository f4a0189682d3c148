import { redactUrl } from './redis';

/**
 * Errors as a person reads them: each distinct message once, then, while it repeats, one line every `everyMs`
 * saying for how long. A Redis that is down fails every reconnect (about 4 a second) on every connection: a lone
 * worker printed ~60 lines in 10 s, and went on for ever.
 */
export class ErrorLines {
  private current = '';
  private since = 0;
  private count = 0;
  private printed = 0;

  constructor(
    private readonly log: (line: string) => void,
    private readonly o: { everyMs?: number; hint?: (message: string) => string } = {},
  ) {}

  report(message: string, now = Date.now()): void {
    if (message === this.current) {
      this.count += 1;
      if (now - this.printed >= (this.o.everyMs ?? 30_000)) {
        this.printed = now;
        this.log(`${message} (still: ${this.count} times in ${Math.round((now - this.since) / 1000)} s)`);
      }
      return;
    }
    this.current = message;
    this.since = now;
    this.printed = now;
    this.count = 1;
    this.log(`${message}${this.o.hint?.(message) ?? ''}`);
  }

  /** The errors stopped (a reconnect): whether there had been any. */
  clear(): boolean {
    const had = this.current !== '';
    this.current = '';
    return had;
  }
}

/** Errors of reaching a Redis server at all (not its replies). */
export const REDIS_UNREACHABLE =
  /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|connect ETIMEDOUT/;

/** What to do about an unreachable Redis, appended to the first line of such an error. */
export function redisHint(url: string): (message: string) => string {
  return (message) =>
    REDIS_UNREACHABLE.test(message)
      ? ` (is Redis running at ${redactUrl(url)}? set REDIS_URL or --redis-url; retrying)`
      : '';
}
