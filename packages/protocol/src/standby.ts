/**
 * Standby: workers that no run needs stay out of the queue, so that the ones a run does need keep taking its jobs.
 *
 * Why: BullMQ hands a job to the worker that has waited longest for one. When a step has fewer jobs than there are
 * workers, the workers took turns, and every job ran in the process that had sat out the last step (colder caches,
 * one more wake-up per step). Measured at batch 128, where one job per step pays best: `pnpm start --workers 2`
 * trained at 0.88-0.90x of `--workers 1`; with the second worker kept out of the queue, at 1.00-1.04x.
 *
 * Each coordinator writes its plan once per step into one hash (field = run id): the workers it prefers (those that
 * delivered first, kept while they keep delivering) and the most jobs its recent steps had. A worker that no live
 * plan needs closes its BullMQ worker; it comes back when a plan lists it or lists fewer workers than jobs, or when
 * the job at the head of the queue has not moved for a plan's `waitMs` (a preferred worker died or straggles).
 * Plans only choose who takes jobs: what a job computes and how its result is accepted do not change, so the bits
 * and exactly-once hold as before. Liveness is judged by change, on the worker's own clock (no clock is shared).
 */
import { z } from 'zod';
import { QUEUE_PREFIX } from './keys';
import type { RedisClient } from './redis';

/** Hash run id -> {@link StandbyPlan} JSON. One per queue: several runs may share the workers. */
export const STANDBY_KEY = 'gradq:standby';
/**
 * The hash outlives its last write by this long, so plans of runs that ended do not pile up. A run's plan is not
 * removed when it ends: workers treat a plan that stopped changing as gone after a few seconds.
 */
const STANDBY_KEY_TTL_MS = 60_000;

export const standbyPlanSchema = z.object({
  /** Workers the run prefers, in the order they were chosen. */
  workers: z.array(z.string()).max(1024),
  /** The most jobs of the run's recent steps: fewer workers listed than this, and every worker is wanted. */
  jobs: z.number().int().min(0),
  /** A queue head that has not moved for this long is late: standby workers come back for it. */
  waitMs: z.number().min(0),
  /** The step it was written at: a plan that stops changing is a coordinator that stopped. */
  step: z.number().int(),
});
export type StandbyPlan = z.infer<typeof standbyPlanSchema>;

export async function writeStandbyPlan(redis: RedisClient, runId: string, plan: StandbyPlan): Promise<void> {
  await redis.multi().hset(STANDBY_KEY, runId, JSON.stringify(plan)).pexpire(STANDBY_KEY, STANDBY_KEY_TTL_MS).exec();
}

/** Parses the hash's plans; a field that does not parse is no plan (never a reason to stand by). */
export function parsePlans(fields: Record<string, string>): Map<string, StandbyPlan> {
  const plans = new Map<string, StandbyPlan>();
  for (const [run, raw] of Object.entries(fields)) {
    try {
      const parsed = standbyPlanSchema.safeParse(JSON.parse(raw));
      if (parsed.success) plans.set(run, parsed.data);
    } catch {
      // not JSON: ignored
    }
  }
  return plans;
}

/**
 * Whether a worker stands by: only when at least one plan is live and every live plan is served by other workers
 * and nothing in the queue is late. `headStillMs` is how long the queue's head job has not moved (0 when empty).
 */
export function standsBy(plans: readonly StandbyPlan[], workerId: string, headStillMs: number): boolean {
  if (plans.length === 0) return false;
  for (const p of plans) {
    if (p.workers.includes(workerId) || p.workers.length < p.jobs || headStillMs > p.waitMs) return false;
  }
  return true;
}

/**
 * The coordinator's side: which workers it prefers. Kept while they delivered within `keepMs`; free places go to
 * the workers that delivered most recently. So when one job per step pays, the first worker to deliver keeps them
 * all, instead of the workers alternating.
 */
export function preferWorkers(
  previous: readonly string[],
  lastSeen: ReadonlyMap<string, number>,
  jobs: number,
  now: number,
  keepMs: number,
): string[] {
  const fresh = (w: string) => (lastSeen.get(w) ?? Number.NEGATIVE_INFINITY) >= now - keepMs;
  const kept = previous.filter(fresh).slice(0, jobs);
  const others = [...lastSeen.entries()]
    .filter(([w]) => !kept.includes(w) && fresh(w))
    .sort((a, b) => b[1] - a[1])
    .map(([w]) => w);
  return [...kept, ...others].slice(0, jobs);
}

const QUEUE_HEAD_SCRIPT = `
local id = redis.call('LINDEX', KEYS[1], -1)
if id then return 'w:' .. id end
local d = redis.call('ZRANGE', KEYS[2], 0, 0)
if d[1] then return 'd:' .. d[1] end
return ''
`;

/**
 * The job next in line in a BullMQ queue: the tail of its wait list (BullMQ pops there), else the first delayed job
 * (delayed jobs move to the wait list only when a worker looks). '' when both are empty.
 */
export async function queueHead(redis: RedisClient, queue: string): Promise<string> {
  const base = `${QUEUE_PREFIX}:${queue}`;
  const client = redis as RedisClient & { gradqQueueHead(...keys: string[]): Promise<string> };
  // A defined command (EVALSHA, the script sent once), as the submit script.
  if (typeof client.gradqQueueHead !== 'function')
    redis.defineCommand('gradqQueueHead', { numberOfKeys: 2, lua: QUEUE_HEAD_SCRIPT });
  return client.gradqQueueHead(`${base}:wait`, `${base}:delayed`);
}
