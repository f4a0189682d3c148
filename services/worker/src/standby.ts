/**
 * A worker's side of standby (`@gradq/protocol` standby.ts says why): it reads the coordinators' plans (every
 * 500 ms while taking jobs, every 100 ms while standing by, and after a job when the plans it last read did not
 * name it: at most every 100 ms); when none needs it, it closes its BullMQ worker (the job in hand finishes first)
 * and watches the queue's head instead; it opens a new one when a plan wants it or a job waits too long. Polled
 * rarely on purpose: 16 workers polling every 50 ms cost the bench's emulated pool ~8 ms of CPU per step.
 */
import { GRADIENT_QUEUE, parsePlans, queueHead, type RedisClient, STANDBY_KEY, standsBy } from '@gradq/protocol';

export interface StandbyOptions {
  readonly redis: RedisClient;
  readonly workerId: string;
  /** Opens the BullMQ worker (it starts taking jobs). */
  readonly open: () => void;
  /** Closes it, after the job in hand. */
  readonly close: () => Promise<void>;
  readonly log: (line: string) => void;
  /** A poll failed (Redis down or refusing); standby keeps its state and polls again. */
  readonly onError: (message: string) => void;
  readonly onChange?: (standingBy: boolean) => void;
  /** How often the plans are read while taking jobs, and while standing by. Default 500 and 100 ms. */
  readonly pollMs?: { readonly active: number; readonly standingBy: number };
  /** A plan that has not changed for this long is a coordinator that stopped. Default 5000 ms. */
  readonly staleMs?: number;
}

export class Standby {
  private standingBy = false;
  // Polls are chained (the next is scheduled when one ends), so they never overlap.
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Run id -> the plan's text and when it last changed (this process's clock; -Infinity: not seen changing). */
  private readonly seen = new Map<string, { raw: string; at: number }>();
  private head = { id: '', since: 0 };
  /** Run id -> when this worker last finished a job of it (this process's clock). */
  private readonly served = new Map<string, number>();
  private polling = false;
  private lastPoll = 0;
  /** Every live plan named this worker at the last poll: a finished job is no reason to read them again. */
  private named = false;

  constructor(private readonly o: StandbyOptions) {}

  start(): void {
    this.o.open();
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    const every = this.o.pollMs ?? { active: 500, standingBy: 100 };
    this.timer = setTimeout(
      () => void this.poll().finally(() => this.schedule()),
      this.standingBy ? every.standingBy : every.active,
    );
    this.timer.unref();
  }

  /**
   * Stops polling; the caller closes the BullMQ worker if one is open. A poll in flight is not waited for (with Redis
   * down its read waits for ever): it opens or closes nothing once stopped.
   */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /**
   * A job of `run` finished. Two workers with one job per step take turns (each job goes to the one that waited
   * longest), and every turn ends a worker's derived parameters: unless the plans named it, it reads them now.
   */
  jobDone(run: string): void {
    const now = Date.now();
    this.served.set(run, now);
    if (!this.named && !this.standingBy && now - this.lastPoll >= 100) void this.poll();
  }

  private async poll(): Promise<void> {
    if (this.stopped || this.polling) return;
    this.polling = true;
    try {
      await this.read();
    } finally {
      this.polling = false;
    }
  }

  private async read(): Promise<void> {
    try {
      const now = Date.now();
      this.lastPoll = now;
      const fields = await this.o.redis.hgetall(STANDBY_KEY);
      const live = [];
      for (const [run, plan] of parsePlans(fields)) {
        const raw = fields[run] as string;
        const before = this.seen.get(run);
        // A plan is live once this worker has seen it change (each step rewrites it), and until it stops changing:
        // the plans of runs that ended stay in the hash for a while, and must not keep a new worker out. A run this
        // worker served lately is running: its plan is live at first sight (one poll sooner, ~1 s less of turns).
        if (!before) this.seen.set(run, { raw, at: Number.NEGATIVE_INFINITY });
        else if (before.raw !== raw) this.seen.set(run, { raw, at: now });
        const staleMs = this.o.staleMs ?? 5000;
        const changedAt = this.seen.get(run)?.at ?? Number.NEGATIVE_INFINITY;
        if (now - changedAt < staleMs || now - (this.served.get(run) ?? Number.NEGATIVE_INFINITY) < staleMs)
          live.push(plan);
      }
      for (const run of this.served.keys()) if (now - (this.served.get(run) ?? 0) >= 60_000) this.served.delete(run);
      this.named = live.length > 0 && live.every((p) => p.workers.includes(this.o.workerId));
      for (const run of this.seen.keys()) if (!(run in fields)) this.seen.delete(run);
      // Only a worker standing by watches the head: the others take jobs, so the head moves.
      let headStillMs = 0;
      if (this.standingBy) {
        const id = await queueHead(this.o.redis, GRADIENT_QUEUE);
        if (id !== this.head.id) this.head = { id, since: now };
        headStillMs = id === '' ? 0 : now - this.head.since;
      }
      const wanted = !standsBy(live, this.o.workerId, headStillMs);
      if (this.stopped) return;
      if (wanted && this.standingBy) {
        this.standingBy = false;
        const late = live.some((p) => headStillMs > p.waitMs);
        this.o.log(
          live.length === 0
            ? 'back from standby: no run has a live plan (ended or stopped)'
            : late
              ? `back from standby: job ${this.head.id.slice(2)} waited ${headStillMs} ms at the head of the queue`
              : 'back from standby: a run wants this worker',
        );
        this.o.onChange?.(false);
        this.o.open();
      } else if (!wanted && !this.standingBy) {
        this.standingBy = true;
        this.head = { id: '', since: now };
        this.o.log(
          `standing by: ${live.map((p) => `${p.jobs} job(s) per step served by ${p.workers.join(', ')}`).join('; ')}`,
        );
        this.o.onChange?.(true);
        await this.o.close();
      }
    } catch (err) {
      if (!this.stopped) this.o.onError((err as Error).message);
    }
  }
}
