import type { RedisClient } from './redis';

/**
 * Writes that only the run's owner may make (issue "Reliability II", item 2): the lease (`lease.ts`) alone stops a
 * deposed coordinator only at its next renewal, and one that was paused (SIGSTOP, a long GC, a VM migration) wakes
 * up still believing it owns the run. Every write that would change what its successor does (opening or closing a
 * step, forgetting accepted leaves, dropping a step's done set) goes through this script, which runs the commands
 * only while the lease names the caller: the lease token is the fencing token. A lease Redis lost (restarted empty)
 * is taken back first, as a renewal would, unless another coordinator released the run since (`releasedKey`: it
 * finished and removed the run, or stopped). Parameter slices need no fence: they are written under the session's
 * name ({@link RunKeys.params}), where a successor never reads.
 *
 * KEYS: owner, released, then each command's keys. ARGV: owner token, lease ms, then per command: name, key count, arg count,
 * args. Returns 'OK', or the owner's token when it is not the caller.
 */
const FENCED_LUA = `
local owner = redis.call('GET', KEYS[1])
if owner == false then
  local released = redis.call('GET', KEYS[2])
  if released and released ~= ARGV[1] then return released end
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
elseif owner ~= ARGV[1] then
  return owner
end
local k, i = 3, 3
while i <= #ARGV do
  local name, nk, na = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  i = i + 3
  local args = {}
  for _ = 1, nk do args[#args + 1] = KEYS[k]; k = k + 1 end
  for _ = 1, na do args[#args + 1] = ARGV[i]; i = i + 1 end
  redis.call(name, unpack(args))
end
return 'OK'
`;

/** A fenced write was refused: another coordinator owns the run now. */
export class RunFencedError extends Error {
  override readonly name = 'RunFencedError';
}

/** The owner's lease token and its lifetime ({@link RunLease}). */
export interface Fence {
  readonly ownerKey: string;
  /** Names the coordinator that last released the run ({@link RunLease.release}); a missing lease is not retaken past it. */
  readonly releasedKey: string;
  readonly token: string;
  readonly ttlMs: number;
}

/** One command of a fenced write: its name, keys (all in the run's slot) and other arguments. */
export type FencedCommand = readonly [name: string, keys: readonly string[], args: readonly (string | number)[]];

type WithFence = RedisClient & { gradqFenced(...args: (string | number)[]): Promise<string> };

/** Runs `commands` atomically if `fence` still owns the run; throws RunFencedError naming the owner if not. */
export async function fencedWrite(
  redis: RedisClient,
  runId: string,
  fence: Fence,
  commands: readonly FencedCommand[],
): Promise<void> {
  const client = redis as WithFence;
  if (typeof client.gradqFenced !== 'function') redis.defineCommand('gradqFenced', { lua: FENCED_LUA });
  const keys = [fence.ownerKey, fence.releasedKey, ...commands.flatMap(([, k]) => k)];
  const args = commands.flatMap(([name, k, a]) => [name, k.length, a.length, ...a]);
  const reply = await client.gradqFenced(keys.length, ...keys, fence.token, fence.ttlMs, ...args);
  if (reply !== 'OK')
    throw new RunFencedError(
      `run ${runId} was taken over by another coordinator (session ${reply}): this one no longer owns it, stopping`,
    );
}
