import { loadLatestValid, readLatestStep } from '@gradq/checkpoint';
import { CLI } from '@gradq/testing';
import { paramsSha256 } from '@gradq/trainer';
import { Rig, type Summary, sleep, totalSteps, type Workload } from './rig';

/** How hard each scenario pushes: `full` is the published suite, `quick` one fault of each kind for `pnpm test`. */
export type Intensity = 'full' | 'quick';

export interface ScenarioContext {
  readonly workload: Workload;
  readonly intensity: Intensity;
  /** The undisturbed run every scenario must reproduce; undefined while the reference itself runs. */
  readonly reference?: Summary;
  /** Deterministic "random" moments, so that a failure can be replayed with the same --seed. */
  readonly random: () => number;
  readonly log: (line: string) => void;
}

export interface ScenarioResult {
  readonly name: string;
  /** What was done to the run, e.g. "6 worker SIGKILLs". */
  readonly faults: string;
  readonly ok: boolean;
  /** Why it failed, or the mechanism's evidence when it passed. */
  readonly notes: string[];
  readonly problems: string[];
  readonly seconds: number;
  readonly summary?: Summary;
  /** The run it was held to when not the undisturbed one (another algorithm's `pnpm baseline`). */
  readonly reference?: Summary;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly needsS3?: boolean;
  run(
    rig: Rig,
    ctx: ScenarioContext,
  ): Promise<{
    summary: Summary;
    faults: string;
    notes: string[];
    /** What the run must reproduce when it is not the suite's undisturbed run (another algorithm). */
    reference?: Summary;
  }>;
}

/**
 * The run completed with exactly the undisturbed run's steps, samples and bits, and every planned (step, shard)
 * was applied exactly once. Returns the violations.
 */
export function compareWithReference(summary: Summary, reference: Summary | undefined): string[] {
  const problems: string[] = [];
  const d = summary.distributed;
  if (d.shards_applied !== d.shards_planned)
    problems.push(`shards applied ${d.shards_applied} != planned ${d.shards_planned}`);
  if (d.skipped_nonfinite !== 0) problems.push(`${d.skipped_nonfinite} step(s) skipped as non-finite`);
  if (!reference) return problems;
  if (summary.steps !== reference.steps) problems.push(`steps ${summary.steps} != undisturbed ${reference.steps}`);
  if (summary.samples !== reference.samples)
    problems.push(`samples ${summary.samples} != undisturbed ${reference.samples}`);
  if (summary.params_sha256 !== reference.params_sha256)
    problems.push(
      `params_sha256 ${summary.params_sha256.slice(0, 12)} != undisturbed ${reference.params_sha256.slice(0, 12)}`,
    );
  return problems;
}

const count = (text: string, pattern: RegExp) => (text.match(new RegExp(pattern, 'g')) ?? []).length;

export const undisturbed: Scenario = {
  name: 'undisturbed',
  description: 'the reference: coordinator and 2 workers, no fault',
  async run(rig) {
    const coordinator = rig.coordinator();
    rig.worker();
    rig.worker();
    const summary = await coordinator.summary<Summary>(300_000);
    return { summary, faults: 'none', notes: [] };
  },
};

/**
 * Workers for the scenarios whose fault must land mid-run: each waits this long before a submit (the test-only
 * GRADQ_TEST_SLOW_MS), so a step lasts at least that. A step computes in ~30 ms now, and unpaced a 12-step run ended
 * before its kill (seen under load: "only 0 of 1 coordinator kills happened"). Timing only: the numbers are the same.
 */
function pace(intensity: Intensity): Record<string, string> {
  return { GRADQ_TEST_SLOW_MS: intensity === 'full' ? '100' : '300' };
}

/**
 * Kills `target` workers of 3 at random steps (mid-job or idle), each replaced by a fresh worker process; returns
 * the run's summary and the kills done.
 */
async function killWorkers(
  rig: Rig,
  { random, log }: ScenarioContext,
  o: { target: number; steps: number; pace: Record<string, string>; args?: readonly string[] },
): Promise<{ summary: Summary; kills: number }> {
  const coordinator = rig.coordinator(o.args ?? []);
  const workers = [rig.worker(o.pace), rig.worker(o.pace), rig.worker(o.pace)];
  // Kill moments spread over the whole run: a random step in [1, last - 3], then a random delay into that step,
  // so that some kills land mid-job and some between jobs.
  const moments = Array.from({ length: o.target }, () => 1 + Math.floor(random() * (o.steps - 4))).sort(
    (a, b) => a - b,
  );
  let kills = 0;
  for (const moment of moments) {
    await rig.waitForStep(moment, coordinator);
    await sleep(random() * 800);
    const step = await rig.step();
    const i = Math.floor(random() * workers.length);
    const victim = workers[i];
    if (!victim || !coordinator.running()) break;
    victim.kill('SIGKILL');
    await victim.exited;
    kills += 1;
    log(`  killed ${victim.name} at step ${step} (kill ${kills}/${o.target}); starting a replacement`);
    workers[i] = rig.worker(o.pace);
  }
  const summary = await coordinator.summary<Summary>(300_000);
  if (kills < o.target) throw new Error(`only ${kills} of ${o.target} kills happened before the run ended`);
  return { summary, kills };
}

/** Workers die at random moments (mid-job or idle) and come back as new processes. */
export const workerKills: Scenario = {
  name: 'worker SIGKILL',
  description: 'workers SIGKILLed at random moments, each replaced by a fresh worker',
  async run(rig, ctx) {
    const { workload, intensity } = ctx;
    const target = intensity === 'full' ? 6 : 1;
    const { summary, kills } = await killWorkers(rig, ctx, {
      target,
      steps: totalSteps(workload),
      pace: pace(intensity),
    });
    return {
      summary,
      faults: `${kills} worker SIGKILL${kills === 1 ? '' : 's'} (3 workers, each replaced)`,
      notes: [
        `reissued ${summary.distributed.reissued}`,
        `duplicates dropped ${summary.distributed.duplicates_dropped}`,
      ],
    };
  },
};

/**
 * The same kills on an `--algorithm local` run (4 replicas x 4 inner steps of 32 samples: 16 rounds on the full
 * workload), held to `pnpm baseline --algorithm local`: a killed replica's job is retried from the inner state the
 * coordinator's pointer names, and a late copy's state is never read.
 */
export const localWorkerKills: Scenario = {
  name: 'worker SIGKILL (local)',
  description: 'worker SIGKILLs on an --algorithm local run, against pnpm baseline --algorithm local',
  async run(rig, ctx) {
    const { workload, intensity } = ctx;
    const local = ['--algorithm', 'local', '--replicas', '4', '--inner-steps', '4', '--batch-size', '32'];
    const reference = rig.procs
      .spawn(
        CLI.baseline,
        [
          ...['--limit', String(workload.limit), '--epochs', String(workload.epochs), '--seed', String(workload.seed)],
          ...['--shards-per-step', String(workload.shardsPerStep), ...local],
        ],
        { env: rig.env(), name: 'baseline' },
      )
      .summary<Summary>(300_000);
    const rounds = Math.ceil(workload.limit / (4 * 4 * 32)) * workload.epochs;
    const target = intensity === 'full' ? 6 : 1;
    // A round's jobs are short (4 inner steps of 32 samples): paced longer than sync's, so the kills land mid-run.
    const { summary, kills } = await killWorkers(rig, ctx, {
      target,
      steps: rounds,
      pace: { GRADQ_TEST_SLOW_MS: intensity === 'full' ? '400' : '600' },
      args: local,
    });
    return {
      summary,
      reference: await reference,
      faults: `${kills} worker SIGKILL${kills === 1 ? '' : 's'} on a local run (3 workers, each replaced)`,
      notes: [
        `${rounds} rounds`,
        `reissued ${summary.distributed.reissued}`,
        `duplicates dropped ${summary.distributed.duplicates_dropped}`,
      ],
    };
  },
};

/** The coordinator dies; a new one resumes from the latest S3 checkpoint while the same workers keep serving. */
export const coordinatorKill: Scenario = {
  name: 'coordinator SIGKILL + --resume',
  description: 'the coordinator SIGKILLed after a checkpoint and restarted with --resume (checkpoints in s3rver)',
  needsS3: true,
  async run(rig, { workload, intensity, log }) {
    const target = intensity === 'full' ? 2 : 1;
    const store = rig.s3Store();
    rig.worker(pace(intensity));
    rig.worker(pace(intensity));
    let coordinator = rig.coordinator();
    let kills = 0;
    const resumedFrom: number[] = [];
    try {
      for (let k = 0; k < target; k++) {
        // Kill a few steps past a checkpoint newer than the last resume point, so that work is lost and redone.
        const after = (resumedFrom.at(-1) ?? 0) + workload.checkpointEvery;
        let latest: number | undefined;
        for (;;) {
          latest = await readLatestStep(store, rig.runId).catch(() => undefined);
          if (latest !== undefined && latest >= after) break;
          if (!coordinator.running()) throw new Error(`coordinator exited early:\n${coordinator.tail()}`);
          await sleep(100);
        }
        const at = await rig.waitForStep(latest + 2, coordinator);
        if (at >= totalSteps(workload) - 1) break;
        coordinator.kill('SIGKILL');
        await coordinator.exited;
        kills += 1;
        log(`  killed the coordinator at step ${at} (latest checkpoint: step ${latest}); resuming`);
        coordinator = rig.coordinator([], { resume: true });
        resumedFrom.push(latest);
      }
      const summary = await coordinator.summary<Summary>(300_000);
      if (kills < target) throw new Error(`only ${kills} of ${target} coordinator kills happened`);
      if (summary.distributed.resumed_from_step === null) throw new Error('the last coordinator did not resume');
      return {
        summary,
        faults: `${kills} coordinator SIGKILL${kills > 1 ? 's' : ''}, resumed from step${kills > 1 ? 's' : ''} ${resumedFrom.join(', ')}`,
        notes: [`last resume from step ${summary.distributed.resumed_from_step}`],
      };
    } finally {
      await store.close();
    }
  },
};

/** Redis dies and an empty one takes its place: the coordinator puts the run back, workers reconnect on their own. */
export const redisWipe: Scenario = {
  name: 'Redis restarted empty',
  description: 'the private redis-server killed and replaced by an empty one on the same port',
  async run(rig, { workload, intensity, log }) {
    const target = intensity === 'full' ? 2 : 1;
    const coordinator = rig.coordinator();
    rig.worker();
    rig.worker();
    const last = totalSteps(workload);
    let wipes = 0;
    for (let k = 0; k < target; k++) {
      const at = await rig.waitForStep(Math.floor(((k + 1) * last) / (target + 2)), coordinator);
      if (at >= last - 1) break;
      await rig.wipeRedis(1000);
      wipes += 1;
      log(`  Redis restarted empty at step ${at}`);
      // The next wipe only after the coordinator has put the run back and moved on.
      await rig.waitForStep(at + 2, coordinator);
    }
    const summary = await coordinator.summary<Summary>(300_000);
    if (wipes < target) throw new Error(`only ${wipes} of ${target} Redis restarts happened`);
    if (summary.distributed.reseeded < wipes)
      throw new Error(`Redis was wiped ${wipes} time(s) but the coordinator re-seeded ${summary.distributed.reseeded}`);
    return {
      summary,
      faults: `${wipes} Redis restart${wipes > 1 ? 's' : ''} without data (1 s down)`,
      notes: [`reseeded ${summary.distributed.reseeded}`, `reissued ${summary.distributed.reissued}`],
    };
  },
};

/** S3 goes away while checkpoints are being written; training must not wait, the checkpoint must land later. */
export const s3Outage: Scenario = {
  name: 'S3 down during checkpoints',
  description: 's3rver killed for a few seconds while checkpoints are due, then restarted',
  needsS3: true,
  async run(rig, { workload, intensity, log }) {
    const s3 = rig.s3;
    if (!s3) throw new Error('no s3rver');
    const downMs = intensity === 'full' ? 5000 : 3000;
    const store = rig.s3Store();
    try {
      const coordinator = rig.coordinator();
      rig.worker();
      rig.worker();
      // Down just before a checkpoint is due, so that its upload meets the outage.
      const at = await rig.waitForStep(workload.checkpointEvery - 1, coordinator);
      await s3.kill();
      log(`  s3rver killed at step ${at}`);
      await sleep(downMs);
      const during = await rig.step();
      await s3.restart();
      log(`  s3rver back at step ${during}`);
      const summary = await coordinator.summary<Summary>(300_000);
      const failures = count(coordinator.stderr(), /upload attempt \d+ failed/);
      if (failures === 0) throw new Error('no checkpoint upload failed: the outage missed every checkpoint');
      const latest = await loadLatestValid(store, rig.runId);
      if (!latest) throw new Error('no valid checkpoint in S3 after the outage');
      if (latest.step !== summary.steps)
        throw new Error(`latest checkpoint is step ${latest.step}, the run ended at step ${summary.steps}`);
      const sha = paramsSha256(latest.params);
      if (sha !== summary.params_sha256)
        throw new Error(`final checkpoint params ${sha} != run's ${summary.params_sha256}`);
      return {
        summary,
        faults: `S3 down ${downMs / 1000} s (steps ${at}-${during})`,
        notes: [
          `${failures} failed upload attempt(s) retried`,
          `steps advanced ${during - at} while S3 was down`,
          `final checkpoint step ${latest.step} verified`,
        ],
      };
    } finally {
      await store.close();
    }
  },
};

/** One worker takes far longer per job than the others; the deadline hands its block to another worker. */
export const straggler: Scenario = {
  name: 'straggler worker',
  description: 'one of 3 workers sleeps before each submit; --shard-deadline-ms 1500 re-issues its blocks',
  async run(rig, { intensity }) {
    const slowMs = intensity === 'full' ? 3000 : 2500;
    const coordinator = rig.coordinator(['--shard-deadline-ms', '1500']);
    rig.worker();
    rig.worker();
    const slow = rig.worker({ GRADQ_TEST_SLOW_MS: String(slowMs) });
    if (intensity === 'quick') {
      // One hand-over proves the mechanism; the rest of the run need not pay for the straggler.
      await coordinator.waitForStderr(/past the 1500 ms deadline/, 120_000);
      void slow.stop();
    }
    const summary = await coordinator.summary<Summary>(300_000);
    const handed = [
      ...coordinator.stderr().matchAll(/step (\d+) leaves \[\d+, \d+\): job \S+ is past the 1500 ms deadline/g),
    ];
    if (handed.length === 0) throw new Error('no block was ever past the deadline: the straggler took no job');
    const d = summary.distributed;
    return {
      summary,
      faults: `1 of 3 workers +${slowMs / 1000} s per job; ${handed.length} block(s) handed over`,
      notes: [
        `reissued ${d.reissued}`,
        `late results dropped: ${d.stale_dropped} stale, ${d.duplicates_dropped} duplicate`,
        `handed over in step(s) ${[...new Set(handed.map((m) => m[1]))].join(', ')}`,
      ],
    };
  },
};

/**
 * Every connection of the coordinator and the workers killed at once, several times (CLIENT KILL, as a proxy failover
 * or a network blip does): commands in flight are lost or resent, a popped result may never arrive (taken from the
 * done set), blocking reads end early. The run must go on and end on the same bits.
 */
export const connectionKills: Scenario = {
  name: 'connection kills',
  description: "every client connection killed at once (CLIENT KILL TYPE normal), coordinator's and workers' alike",
  async run(rig, { workload, intensity, log }) {
    const target = intensity === 'full' ? 6 : 2;
    const coordinator = rig.coordinator();
    rig.worker();
    rig.worker();
    const last = totalSteps(workload);
    let kills = 0;
    let killed = 0;
    for (let k = 0; k < target; k++) {
      const at = await rig.waitForStep(Math.floor(((k + 1) * last) / (target + 2)), coordinator);
      if (at >= last - 1) break;
      const n = Number(await rig.redis.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes'));
      kills += 1;
      killed += n;
      log(`  killed ${n} connections at step ${at}`);
    }
    const summary = await coordinator.summary<Summary>(300_000);
    if (kills < target) throw new Error(`only ${kills} of ${target} connection kills happened`);
    const lostInTransit = count(coordinator.stderr(), /its result never arrived \(lost in transit\)/);
    return {
      summary,
      faults: `${kills} kills of every connection (${killed} in all)`,
      notes: [`results taken from the done set: ${lostInTransit}`, `reissued ${summary.distributed.reissued}`],
    };
  },
};

/**
 * Two coordinators on one run id. A second one started beside a live owner refuses, naming it. Then the owner is
 * frozen (SIGSTOP: a long GC pause, a VM migration) past its lease, a second one resumes the run from the latest
 * checkpoint, and the first is thawed mid-run: it must stop without a write reaching its successor's run (the
 * fenced writes of fence.ts, parameters under its own session's name), and the successor end on the undisturbed bits.
 */
export const secondCoordinator: Scenario = {
  name: 'second coordinator',
  description: 'a second coordinator on a live run; then the owner frozen past its lease, taken over, and thawed',
  needsS3: true,
  async run(rig, { log, intensity }) {
    const store = rig.s3Store();
    // Paced: unpaced, the owner ran from its first checkpoint to its last step while the checkpoint was being looked
    // for, and, frozen there and thawed, finished the run with one result (seen: "frozen at step 11 (latest
    // checkpoint: step 3)", exit 0).
    const workers = [rig.worker(pace(intensity)), rig.worker(pace(intensity))];
    const first = rig.coordinator();
    try {
      // The workers frozen meanwhile: the owner is alive (it renews its lease) but makes no progress, so the run
      // outlasts the intruder's 12 s wait for the lease whatever the machine's speed.
      await rig.waitForStep(2, first);
      for (const w of workers) w.kill('SIGSTOP');
      const intruder = rig.coordinator();
      const refused = await intruder.exited;
      for (const w of workers) w.kill('SIGCONT');
      if (refused.code !== 2 || !/is being trained by another coordinator \(session \S+/.test(intruder.stderr()))
        throw new Error(
          `a second coordinator on the live run: exit ${refused.code}, not 2 naming the owner:\n${intruder.tail()}`,
        );
      if (!first.running()) throw new Error(`the owner stopped when the second coordinator came:\n${first.tail()}`);
      log('  a second coordinator on the live run refused (exit 2), naming the owner');

      // Frozen just past its first checkpoint, so that the successor has most of the run left to train.
      let latest = await readLatestStep(store, rig.runId).catch(() => undefined);
      while (latest === undefined) {
        if (!first.running()) throw new Error(`coordinator exited early:\n${first.tail()}`);
        await sleep(50);
        latest = await readLatestStep(store, rig.runId).catch(() => undefined);
      }
      const at = await rig.waitForStep(latest + 1, first);
      first.kill('SIGSTOP');
      log(`  froze the owner at step ${at} (latest checkpoint: step ${latest}); a second coordinator resumes`);
      const second = rig.coordinator([], { resume: true });
      try {
        // Thawed as soon as its successor has opened a step of its own (the frozen owner opens none).
        const resumedAt = Number((await second.waitForStderr(/resuming at step (\d+)/, 120_000))[1]);
        await rig.waitForStep(resumedAt + 1, second);
      } finally {
        first.kill('SIGCONT');
      }
      const thawed = await Promise.race([first.exited, sleep(30_000).then(() => undefined)]);
      if (!thawed) throw new Error(`the thawed coordinator is still running 30 s later:\n${first.tail()}`);
      if (thawed.code === 0) throw new Error('the thawed coordinator finished the run as if it still owned it');
      if (!/taken over by another coordinator/.test(first.stderr()))
        throw new Error(`the thawed coordinator stopped without saying why:\n${first.tail()}`);
      log(`  the thawed coordinator stopped (exit ${thawed.code}): ${stopLine(first.stderr())}`);
      const summary = await second.summary<Summary>(300_000);
      if (summary.distributed.resumed_from_step === null) throw new Error('the second coordinator did not resume');
      return {
        summary,
        faults: `a 2nd coordinator refused; the owner frozen past its lease, taken over from step ${summary.distributed.resumed_from_step}, thawed`,
        notes: [`thawed owner: ${stopLine(first.stderr())}`],
      };
    } finally {
      for (const w of workers) w.kill('SIGCONT');
      first.kill('SIGCONT');
      await store.close();
    }
  },
};

/** The line in which a coordinator said it was taken over. */
function stopLine(stderr: string): string {
  return (
    stderr
      .split('\n')
      .find((l) => /taken over by another coordinator/.test(l))
      ?.trim() ?? '(none)'
  );
}

export const SCENARIOS: readonly Scenario[] = [
  workerKills,
  localWorkerKills,
  coordinatorKill,
  redisWipe,
  s3Outage,
  straggler,
  connectionKills,
  secondCoordinator,
];

/** Runs one scenario in a fresh rig and judges it; never throws. */
export async function runScenario(scenario: Scenario, ctx: ScenarioContext): Promise<ScenarioResult> {
  const started = performance.now();
  let rig: Rig | undefined;
  try {
    rig = await Rig.open(scenario.name.replace(/[^a-z]+/gi, '-').toLowerCase(), ctx.workload, {
      s3: scenario.needsS3 === true,
    });
    const { summary, faults, notes, reference } = await scenario.run(rig, ctx);
    const problems = compareWithReference(summary, reference ?? ctx.reference);
    return {
      name: scenario.name,
      faults,
      ok: problems.length === 0,
      notes,
      problems,
      seconds: (performance.now() - started) / 1000,
      summary,
      ...(reference ? { reference } : {}),
    };
  } catch (err) {
    return {
      name: scenario.name,
      faults: '-',
      ok: false,
      notes: [],
      problems: [(err as Error).message],
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await rig?.close();
  }
}
