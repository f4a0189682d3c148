import type { SubmitStatus } from './jobs';
import type { RunKeys } from './keys';
import type { RedisClient } from './redis';

/**
 * Exactly-once per leaf, decided in Redis in one atomic step. A block's result is accepted only if its step is the
 * one the coordinator is collecting (open, this session) and none of its leaves has an accepted gradient yet; then
 * every leaf is marked and the result pushed. The gradient's bytes were written before, under a key unique to this
 * submission, so a copy that loses the race never overwrites the winner's bytes. A job that BullMQ ran twice lands
 * here as a duplicate; one that finishes after its step was applied lands as stale. Both are counted and dropped.
 *
 * The session is the coordinator's: a job left queued by a coordinator that died is stale for its successor, even
 * when the successor reuses the run id and reaches the same step number with other samples.
 *
 * KEYS: step, session, done(step), stats, results
 * ARGV: step, session, first leaf, end leaf, result JSON, ttl seconds
 */
const SUBMIT_LUA = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] or redis.call('GET', KEYS[2]) ~= ARGV[2] then
  redis.call('HINCRBY', KEYS[4], 'stale', 1)
  return 'stale'
end
local first = tonumber(ARGV[3])
local last = tonumber(ARGV[4]) - 1
for leaf = first, last do
  if redis.call('HEXISTS', KEYS[3], leaf) == 1 then
    redis.call('HINCRBY', KEYS[4], 'duplicates', 1)
    return 'duplicate'
  end
end
for leaf = first, last do redis.call('HSET', KEYS[3], leaf, ARGV[5]) end
redis.call('EXPIRE', KEYS[3], ARGV[6])
redis.call('RPUSH', KEYS[5], ARGV[5])
redis.call('EXPIRE', KEYS[5], ARGV[6])
return 'accepted'
`;

/** Keys left behind by a crashed run expire after this; live ones are deleted as soon as they are applied. */
export const DATA_TTL_SECONDS = 24 * 3600;

type WithSubmit = RedisClient & {
  gradqSubmitBlock(...args: (string | number)[]): Promise<string>;
};

/** Runs the submit script for leaves [first, end) of `step`. */
export async function submitBlock(
  redis: RedisClient,
  keys: RunKeys,
  block: { step: number; session: string; first: number; end: number },
  resultJson: string,
): Promise<SubmitStatus> {
  const client = redis as WithSubmit;
  if (typeof client.gradqSubmitBlock !== 'function')
    redis.defineCommand('gradqSubmitBlock', { numberOfKeys: 5, lua: SUBMIT_LUA });
  const status = await client.gradqSubmitBlock(
    keys.step,
    keys.session,
    keys.done(block.step),
    keys.stats,
    keys.results,
    String(block.step),
    block.session,
    block.first,
    block.end,
    resultJson,
    DATA_TTL_SECONDS,
  );
  if (status !== 'accepted' && status !== 'duplicate' && status !== 'stale')
    throw new Error(`submit script returned '${status}'`);
  return status;
}
