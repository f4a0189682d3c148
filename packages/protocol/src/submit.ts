import type { GradientJob, SubmitStatus } from './jobs';
import type { RunKeys } from './keys';
import type { RedisClient } from './redis';

/**
 * Exactly-once, decided in Redis in one atomic step. A gradient is accepted only if its step is the one the
 * coordinator is collecting and its shard has no accepted gradient yet; only then are its bytes stored and its
 * result pushed. A job that BullMQ ran twice (stalled lock, crash after the write) lands here as a duplicate;
 * one that finishes after its step was applied lands as stale. Both are counted and dropped, never stored.
 *
 * The session is the coordinator's: a job left queued by a coordinator that died is stale for its successor, even
 * when the successor reuses the run id and reaches the same step number with other samples.
 *
 * KEYS: step, session, done(step), grad(step, shard), stats, results
 * ARGV: step, session, shard, result JSON, gradient bytes, ttl seconds
 */
const SUBMIT_LUA = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] or redis.call('GET', KEYS[2]) ~= ARGV[2] then
  redis.call('HINCRBY', KEYS[5], 'stale', 1)
  return 'stale'
end
if redis.call('HSETNX', KEYS[3], ARGV[3], ARGV[4]) == 0 then
  redis.call('HINCRBY', KEYS[5], 'duplicates', 1)
  return 'duplicate'
end
redis.call('EXPIRE', KEYS[3], ARGV[6])
redis.call('SET', KEYS[4], ARGV[5], 'EX', ARGV[6])
redis.call('RPUSH', KEYS[6], ARGV[4])
redis.call('EXPIRE', KEYS[6], ARGV[6])
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
  job: Pick<GradientJob, 'step' | 'shard' | 'session'>,
  resultJson: string,
  gradient: Buffer,
): Promise<SubmitStatus> {
  const { step, shard, session } = job;
  const client = redis as WithSubmit;
  if (typeof client.gradqSubmit !== 'function')
    redis.defineCommand('gradqSubmit', { numberOfKeys: 6, lua: SUBMIT_LUA });
  const status = await client.gradqSubmit(
    keys.step,
    keys.session,
    keys.done(step),
    keys.grad(step, shard),
    keys.stats,
    keys.results,
    String(step),
    session,
    String(shard),
    resultJson,
    gradient,
    DATA_TTL_SECONDS,
  );
  if (status !== 'accepted' && status !== 'duplicate' && status !== 'stale')
    throw new Error(`submit script returned '${status}'`);
  return status;
}
