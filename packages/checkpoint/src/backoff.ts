import type { RetryConfig } from './config';

export const DEFAULT_RETRY: RetryConfig = { attempts: 8, baseDelayMs: 500, maxDelayMs: 30_000 };

/** Delay before attempt `attempt + 1` after `attempt` failures: base * 2^(attempt-1), capped at maxDelayMs. */
export function backoffDelay(retry: RetryConfig, attempt: number): number {
  return Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** Math.max(0, attempt - 1));
}
