import type { SubmitStatus } from './jobs';
import type { RunKeys } from './keys';
import type { RedisClient } from './redis';

/**
 * Exactly-once, decided in Redis in one atomic step. A gradient is accepted only if its step is the one the
 * coordinator is collecting and its shard has no accepted gradient yet; only then are its bytes stored and its
 * result pushed. A job that BullMQ ran twice (stalled lock, crash after the write) lands here as a duplicate;
 * one that finishes after its step was applied lands as stale. Both are counted and dropped, never stored.
 *
 * KEYS: step, done(step), grad(step, shard), stats, results
 * ARGV: step, shard, result JSON, gradient bytes, ttl seconds
 */
const SUBMIT_LUA = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  redis.call('HINCRBY', KEYS[4], 'stale', 1)
  return 'stale'
end
if redis.call('HSETNX', KEYS[2], ARGV[2], ARGV[3]) == 0 then
  redis.call('HINCRBY', KEYS[4], 'duplicates', 1)
  return 'duplicate'
end
redis.call('EXPIRE', KEYS[2], ARGV[5])
redis.call('SET', KEYS[3], ARGV[4], 'EX', ARGV[5])
redis.call('RPUSH', KEYS[5], ARGV[3])
redis.call('EXPIRE', KEYS[5], ARGV[5])
return 'accepted'
`;

/** Keys left behind by a crashed run expire after this; live ones are deleted as soon as they are applied. */
export const DATA_TTL_SECONDS = 24 * 3600;

type WithSubmit = RedisClient & {
  gradqSubmit(...args: (string | number | Buffer)[]): Promise<string>;
};

export async function submitGradient(
  redis: RedisClient,
  keys: RunKeys,
  step: number,
  shard: number,
  resultJson: string,
  gradient: Buffer,
): Promise<SubmitStatus> {
  const client = redis as WithSubmit;
  if (typeof client.gradqSubmit !== 'function')
    redis.defineCommand('gradqSubmit', { numberOfKeys: 5, lua: SUBMIT_LUA });
  const status = await client.gradqSubmit(
    keys.step,
    keys.done(step),
    keys.grad(step, shard),
    keys.stats,
    keys.results,
    String(step),
    String(shard),
    resultJson,
    gradient,
    DATA_TTL_SECONDS,
  );
  if (status !== 'accepted' && status !== 'duplicate' && status !== 'stale')
    throw new Error(`submit script returned '${status}'`);
  return status;
}
