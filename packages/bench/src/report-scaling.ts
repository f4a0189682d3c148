/** Section `scaling` of BENCHMARKS.md, its targets and its chart (pure). */
import type { ChartSpec, Series } from './chart';
import { f0, f1, f2, table } from './markdown';
import type { TargetRow } from './report';
import type { BenchResults, ScalingPoint, ScalingResults } from './results';
import { saturation } from './scaling-math';
import { ceiled, truncated } from './stats';

/** Issue "Step protocol v2": the data plane moves >= 70% of raw, the coordinator's serial time <= 3 ms a step, */
export const PROTOCOL_SHARE = 0.7;
export const SERIAL_MS = 3;
/** and each weak-scaling point reaches >= 80% of what the Redis bandwidth allows. */
export const BOUND_SHARE = 0.8;

type SeriesKey = 'one_redis' | 'cluster' | 'one_redis_1024' | 'cluster_1024';
const SERIES: readonly { key: SeriesKey; redis: string; perWorker: number }[] = [
  { key: 'one_redis', redis: 'one Redis', perWorker: 128 },
  { key: 'cluster', redis: 'Redis Cluster', perWorker: 128 },
  { key: 'one_redis_1024', redis: 'one Redis', perWorker: 1024 },
  { key: 'cluster_1024', redis: 'Redis Cluster', perWorker: 1024 },
];

function scaling(r: BenchResults): ScalingResults | undefined {
  return 'error' in r.scaling ? undefined : r.scaling;
}

const pct = (share: number) => `${truncated(share * 100, 1)}%`;

/**
 * Where a point's step went: the bound's two terms (transfers at the raw bandwidth, one block's compute), what is
 * left beyond them, and the CPU each party used per step, as a share of the mean step: a party near 100% of the step
 * (one core's worth) paces it; Redis far below 100% means the bytes were not waiting for Redis.
 */
export function whereTimeGoes(p: ScalingPoint, cores: number): string {
  const rest = p.step_ms_median - p.transfer_ms_at_raw - p.compute_ms;
  const parts = [
    `step ${f1(p.step_ms_median)} ms = transfers at raw ${f1(p.transfer_ms_at_raw)} + compute ${f1(p.compute_ms)} + ${f1(rest)} ms beyond the bound`,
  ];
  const c = p.cpu_ms_per_step;
  if (c) {
    const share = (v: number) => `${f1(v)} ms (${f0((v / p.step_ms_mean) * 100)}%)`;
    const sum = c.redis + c.coordinator + c.workers;
    parts.push(
      `CPU per step (share of the mean step of ${f1(p.step_ms_mean)} ms): Redis ${share(c.redis)}, ` +
        `coordinator ${share(c.coordinator)}, emulated workers ${share(c.workers)}; together ` +
        `${f0((sum / (p.step_ms_mean * cores)) * 100)}% of ${cores} cores`,
    );
  }
  return parts.join('; ');
}

/**
 * Why a Cluster did not beat one Redis: more nodes add Redis capacity, which helps only where Redis was the busy
 * party; the CPU shares at one Redis's best point say whether it was.
 */
function saturationLimit(one: ScalingPoint, cl: ScalingPoint, nodes: number, cores: number): string {
  const c = one.cpu_ms_per_step;
  const busy = c
    ? `at one Redis's best point Redis was busy ${f0((c.redis / one.step_ms_mean) * 100)}% of the step and the coordinator ${f0((c.coordinator / one.step_ms_mean) * 100)}%: Redis is not what limits here`
    : '';
  return joined(
    busy,
    `the ${nodes} nodes share this machine's ${cores} cores with the coordinator and the workers`,
    `raw SET+GET at those points: Cluster ${f0(cl.raw_mb_per_s)}, one Redis ${f0(one.raw_mb_per_s)} MB/s`,
  );
}

function contended(r: BenchResults, s: ScalingResults): string {
  const peak = Math.max(s.loadAverage.start[0] ?? 0, s.loadAverage.end[0] ?? 0);
  return peak >= r.machine.cores
    ? `contended: 1-min load average ${s.loadAverage.start[0]} at the start, ${s.loadAverage.end[0]} at the end, on ${r.machine.cores} cores`
    : '';
}

const joined = (...parts: string[]) => parts.filter(Boolean).join('; ');

export function scalingTargets(r: BenchResults): TargetRow[] {
  const s = scaling(r);
  const protocolTarget = `Protocol: bytes through Redis per second >= ${PROTOCOL_SHARE * 100}% of raw SET+GET (instant workers, one Redis)`;
  const serialTarget = `Protocol: coordinator serial time <= ${SERIAL_MS} ms per step (instant workers, one Redis)`;
  const seriesTarget = (x: (typeof SERIES)[number]) =>
    `Weak scaling, ${x.redis}, ${x.perWorker} samples/worker: every point >= ${BOUND_SHARE * 100}% of its bound`;
  const satTarget = (perWorker: number) =>
    `Redis Cluster saturation (max samples/s over W) above one Redis's, ${perWorker} samples/worker`;
  if (!s) {
    const why = 'error' in r.scaling ? r.scaling.error : '';
    const none = (target: string) => ({ target, measured: 'not measured', met: undefined, limit: why });
    return [
      none(protocolTarget),
      none(serialTarget),
      ...SERIES.map((x) => none(seriesTarget(x))),
      none(satTarget(128)),
      none(satTarget(1024)),
    ];
  }
  const busy = contended(r, s);
  const rows: TargetRow[] = [];
  const proto = s.protocol;
  const shares = proto.map((p) => p.redis_mb_per_s / p.raw_mb_per_s);
  const protoMet = proto.length > 0 && shares.every((x) => x >= PROTOCOL_SHARE);
  const worstProto = proto[shares.indexOf(Math.min(...shares))];
  rows.push({
    target: protocolTarget,
    measured: proto.length
      ? proto
          .map(
            (p, i) =>
              `W=${p.workers}: ${pct(shares[i] as number)} (${f0(p.redis_mb_per_s)} of ${f0(p.raw_mb_per_s)} MB/s)`,
          )
          .join(', ')
      : 'not measured',
    met: proto.length ? protoMet : undefined,
    limit: joined(
      protoMet || !worstProto ? '' : `W=${worstProto.workers}: ${whereTimeGoes(worstProto, r.machine.cores)}`,
      busy,
    ),
  });
  const serialMet = proto.length > 0 && proto.every((p) => p.serial_ms_median <= SERIAL_MS);
  const worstSerial = proto.reduce<ScalingPoint | undefined>(
    (a, p) => (!a || p.serial_ms_median > a.serial_ms_median ? p : a),
    undefined,
  );
  rows.push({
    target: serialTarget,
    measured: proto.length
      ? proto.map((p) => `W=${p.workers}: ${ceiled(p.serial_ms_median)} ms`).join(', ')
      : 'not measured',
    met: proto.length ? serialMet : undefined,
    limit: joined(
      serialMet || !worstSerial
        ? ''
        : `W=${worstSerial.workers}: the time between handing a step's gradient to the loop and publishing the next parameters (Adam on 770k parameters, the run check, the last block's fold)` +
            (worstSerial.cpu_ms_per_step
              ? `; the coordinator used ${f1(worstSerial.cpu_ms_per_step.coordinator)} ms of CPU per step`
              : ''),
      busy,
    ),
  });
  for (const x of SERIES) {
    const points = s[x.key];
    const failed = points.filter((p) => p.bound_share < BOUND_SHARE);
    const worst = points.reduce<ScalingPoint | undefined>(
      (a, p) => (!a || p.bound_share < a.bound_share ? p : a),
      undefined,
    );
    const errors = Object.entries(s.errors)
      .filter(([k]) => k === x.key.split('_')[0] || k.startsWith(`${x.key} `))
      .map(([k, v]) => `${k}: ${v}`);
    rows.push({
      target: seriesTarget(x),
      measured: points.length
        ? `${points.length - failed.length} of ${points.length} points met; lowest ${pct(worst?.bound_share ?? Number.NaN)} of bound at W=${worst?.workers} ` +
          `(${points.map((p) => `W=${p.workers} ${pct(p.bound_share)}`).join(', ')})`
        : 'not measured',
      met: points.length ? failed.length === 0 : undefined,
      limit: joined(
        ...errors,
        failed.length === 0 || !worst ? '' : `W=${worst.workers}: ${whereTimeGoes(worst, r.machine.cores)}`,
        busy,
      ),
    });
  }
  for (const perWorker of [128, 1024]) {
    const one = saturation(s[perWorker === 128 ? 'one_redis' : 'one_redis_1024']);
    const cl = saturation(s[perWorker === 128 ? 'cluster' : 'cluster_1024']);
    const met = one && cl ? cl.samples_per_s > one.samples_per_s : undefined;
    rows.push({
      target: satTarget(perWorker),
      measured:
        one && cl
          ? `Cluster ${f0(cl.samples_per_s)} (W=${cl.workers}) vs one Redis ${f0(one.samples_per_s)} (W=${one.workers}): ${truncated(cl.samples_per_s / one.samples_per_s, 3)}x`
          : 'not measured',
      met,
      limit: joined(met === false && cl && one ? saturationLimit(one, cl, s.cluster_nodes, r.machine.cores) : '', busy),
    });
  }
  return rows;
}

const BLUE = [31, 119, 180] as const;
const ORANGE = [255, 127, 14] as const;

/** One panel per samples-per-worker: measured samples/s of one Redis and the Cluster, each beside its bound. */
export function scalingCharts(s: ScalingResults): ChartSpec[] {
  return [128, 1024].map((perWorker) => {
    const series: Series[] = [];
    for (const [key, label, color] of [
      [perWorker === 128 ? 'one_redis' : 'one_redis_1024', 'one Redis', BLUE],
      [perWorker === 128 ? 'cluster' : 'cluster_1024', `Cluster (${s.cluster_nodes} nodes)`, ORANGE],
    ] as const) {
      const points = s[key];
      if (points.length === 0) continue;
      series.push({ label, color, points: points.map((p) => [p.workers, p.samples_per_s] as const) });
      series.push({
        label: `${label} bound`,
        color,
        dashed: true,
        markers: false,
        points: points.map((p) => [p.workers, p.bound_samples_per_s] as const),
      });
    }
    return {
      title: `Weak scaling, ${perWorker} samples per worker`,
      x: { label: 'emulated workers (W jobs per step)', scale: 'log2' },
      y: { label: 'samples/s', scale: 'log10' },
      series,
    };
  });
}

const pointRow = (p: ScalingPoint): string[] => [
  String(p.workers),
  f0(p.samples_per_step),
  f0(p.samples_per_s),
  f0(p.bound_samples_per_s),
  pct(p.bound_share),
  p.bound_share >= BOUND_SHARE ? 'met' : 'NOT met',
  f2(p.efficiency),
  f1(p.step_ms_median),
  f1(p.transfer_ms_at_raw),
  f1(p.compute_ms),
  f2(p.serial_ms_median),
  `${f0(p.redis_mb_per_s)} / ${f0(p.raw_mb_per_s)}`,
  p.cpu_ms_per_step
    ? `${f1(p.cpu_ms_per_step.redis)} / ${f1(p.cpu_ms_per_step.coordinator)} / ${f1(p.cpu_ms_per_step.workers)}`
    : 'n/a',
  `${p.steps_measured} (${p.epochs} ep.)`,
];

/** The section: the engine's time, the protocol check, the curves and their chart. */
export function renderScaling(r: BenchResults, chartLink: string): string {
  const out: string[] = ['## 2. Scaling: measured, beside what Redis allows', ''];
  const s = scaling(r);
  if (!s) return [...out, `Not measured: ${'error' in r.scaling ? r.scaling.error : ''}`].join('\n');
  const z = s.sizes;
  out.push(
    'Each point is a fresh process (`packages/bench/src/cli/scaling-point.ts`) that runs the real coordinator ' +
      '(`runCoordinator`) with W **emulated workers** in one child process ' +
      '(`packages/bench/src/cli/emulated-workers.ts`: the real worker — BullMQ, the processor, the data plane, each with ' +
      "its own Redis connections — with the engine replaced by a stand-in that sleeps the engine's measured time for " +
      'its block and returns a precomputed gradient). So the workers cost no CPU for compute, as if each had a machine ' +
      "of its own; what limits the rate is the protocol, Redis, and the CPU the coordinator, Redis and the workers' " +
      `I/O need on this ${r.machine.cores}-core machine. Weak scaling: W jobs per step (\`--jobs-per-step W\`), K = W leaves, ` +
      'batch = samples per worker x W. Each point: a fresh private `redis-server` (one Redis) or a ' +
      `${s.cluster_nodes}-node Redis Cluster (\`startRedisCluster\`, same machine), at least ${z.warmupSteps} warm-up steps and ` +
      `${f0(z.warmupSamples)} samples excluded, then at least ${z.steps} measured steps and ${f0(z.measuredSamples)} samples ` +
      '(W = 1 at 128 samples steps in ~10 ms: a few steps are V8 warming up, not the protocol); samples/s = batch / ' +
      'median step time. Large batches take several epochs of whole ' +
      'batches for enough steps (16 x 1,024 = 16,384 samples: 3 steps per epoch); epoch ends (a 256-digit test ' +
      'evaluation) are outside the step times.',
    '',
    '**Definitions.** *Redis throughput* = bytes moved through Redis per second by the whole step protocol: ' +
      '(1 + 3W) x P per step (the coordinator publishes the parameters once; each worker fetches them and writes its ' +
      'gradient; the coordinator reads W gradients; 2 x P at W = 1, whose worker derives the next parameters: none ' +
      `are written or fetched), P = ${f0(s.param_bytes)} bytes (${f0(s.param_bytes / 4)} float32 parameters), over the step ` +
      "time. *Raw* = SET then GET of one P-byte vector cut in the protocol's 12 slices (all 12 in flight at once, as " +
      'the protocol sends them), median of 30, on the same Redis or Cluster, measured just before and just after each ' +
      'point, the faster of the two (one slow moment of the shared machine would flatter the point). It is ' +
      'what one client gets: several clients at once can move more through the same Redis (its CPU per step below ' +
      'says how busy it was), so a point can pass 100% of its bound. ' +
      "*Bound* = batch / (those bytes / raw + one block's compute): every byte at the raw bandwidth back to back plus " +
      "the compute, with nothing else (no queue, no coordinator work, no overlap). *Serial* = the coordinator's time " +
      "between handing a step's gradient to the loop and starting to publish the next parameters (optimizer, checks, " +
      'hooks, the last fold): what no transfer overlaps, median. *CPU per step* = CPU seconds over the measured steps ' +
      "(Redis from INFO cpu over every node; the coordinator from its process, all threads, so V8's GC helpers " +
      'count; the workers from theirs) / steps.',
    '',
  );
  if (Object.keys(s.errors).length) {
    out.push(
      `Failures: ${Object.entries(s.errors)
        .map(([k, v]) => `${k}: ${v}`)
        .join('; ')}.`,
      '',
    );
  }
  out.push(
    `Load average (1, 5, 15 min): ${s.loadAverage.start.join(', ')} at the start of the section, ${s.loadAverage.end.join(', ')} at its end.`,
    '',
  );
  out.push(
    `**The engine's time per block** (\`${s.engine.engine}\`${s.engine.skipped ? `; the native engine was not used: ${s.engine.skipped}` : ''}, seed model, one leaf per block, after 3 untimed calls): what the emulated workers sleep.`,
    '',
    table(
      ['block (samples)', 'calls', 'median ms', 'range ms', 'us per sample'],
      s.engine.blocks.map((b) => [
        f0(b.samples),
        String(b.calls),
        f2(b.ms_median),
        `${f2(b.ms_min)} - ${f2(b.ms_max)}`,
        f1(b.ms_per_sample * 1000),
      ]),
    ),
    '',
  );
  out.push(
    `### 2a. Protocol check: instant workers, one Redis`,
    '',
    `Compute 0, 128 samples per worker: the step is all protocol. Targets: Redis throughput >= ${PROTOCOL_SHARE * 100}% of raw; serial <= ${SERIAL_MS} ms.`,
    '',
    table(
      [
        'W',
        'step ms (median)',
        'Redis MB/s',
        'raw MB/s',
        'share of raw',
        `>= ${PROTOCOL_SHARE * 100}%`,
        'serial ms',
        `<= ${SERIAL_MS} ms`,
        'CPU ms/step (Redis / coordinator / workers)',
        'steps',
      ],
      s.protocol.map((p) => {
        const share = p.redis_mb_per_s / p.raw_mb_per_s;
        return [
          String(p.workers),
          f1(p.step_ms_median),
          f0(p.redis_mb_per_s),
          f0(p.raw_mb_per_s),
          pct(share),
          share >= PROTOCOL_SHARE ? 'met' : 'NOT met',
          ceiled(p.serial_ms_median),
          p.serial_ms_median <= SERIAL_MS ? 'met' : 'NOT met',
          p.cpu_ms_per_step
            ? `${f1(p.cpu_ms_per_step.redis)} / ${f1(p.cpu_ms_per_step.coordinator)} / ${f1(p.cpu_ms_per_step.workers)}`
            : 'n/a',
          String(p.steps_measured),
        ];
      }),
    ),
    '',
  );
  out.push(
    '### 2b. Weak scaling',
    '',
    `![samples/s against workers, each curve beside its bound](${chartLink})`,
    '',
    `Each point against its bound: met when samples/s >= ${BOUND_SHARE * 100}% of the bound (unrounded). Efficiency = samples/s / (W x the W = ${z.workers[0]} rate per worker).`,
    '',
  );
  const head = [
    'W',
    'samples/step',
    'samples/s',
    'bound',
    'of bound',
    `>= ${BOUND_SHARE * 100}%`,
    'efficiency',
    'step ms',
    'transfers at raw ms',
    'compute ms',
    'serial ms',
    'Redis / raw MB/s',
    'CPU ms/step (Redis / coord. / workers)',
    'steps',
  ];
  for (const x of SERIES) {
    const points = s[x.key];
    out.push(`**${x.redis}, ${x.perWorker} samples per worker** (\`scaling.${x.key}\`)`, '');
    out.push(points.length ? table(head, points.map(pointRow)) : 'Not measured.', '');
  }
  out.push(
    '**Where the time goes.** A step beyond its bound spent the difference in what the bound leaves out: the ' +
      "coordinator's serial time, the queue and blocking waits (a job of step v+1 waits for its parameters), and CPU: " +
      `on ${r.machine.cores} cores, Redis, the coordinator and the emulated workers' I/O take turns (the CPU columns; ` +
      'their sum over the step time is how busy the cores were). Lowest point of each series:',
    '',
  );
  for (const x of SERIES) {
    const worst = s[x.key].reduce<ScalingPoint | undefined>(
      (a, p) => (!a || p.bound_share < a.bound_share ? p : a),
      undefined,
    );
    if (worst)
      out.push(`- ${x.redis}, ${x.perWorker}/worker, W=${worst.workers}: ${whereTimeGoes(worst, r.machine.cores)}.`);
  }
  out.push('');
  return out.join('\n').trimEnd();
}
