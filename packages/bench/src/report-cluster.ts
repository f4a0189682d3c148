/** Sections `cluster` and `encodings` of BENCHMARKS.md and the cluster's targets (pure). */
import { CLUSTER_LABELS, hashesOf, sameParams } from './cluster-figures';
import { f0, f1, mb, ms, table } from './markdown';
import type { TargetRow } from './report';
import {
  type BenchResults,
  CLUSTER_CONFIGS,
  type ClusterResults,
  type ClusterRun,
  type Spread,
  type StepBreakdown,
} from './results';
import { truncated } from './stats';

function clusterOf(r: BenchResults): ClusterResults | undefined {
  return 'error' in r.cluster ? undefined : r.cluster;
}

/** A warning when a round started with more runnable work than cores. */
function contended(r: BenchResults, c: ClusterResults): string {
  const busy = c.rounds.filter((x) => (x.loadAverage[0] ?? 0) >= r.machine.cores);
  return busy.length
    ? `contended: ${busy.length} of ${c.rounds.length} round(s) started at a 1-min load average >= ${r.machine.cores} (the cores; ${busy.map((x) => x.loadAverage[0]).join(', ')})`
    : '';
}

/** Where a 2-worker run's step went, from its breakdown, in one line. */
function stepLine(b: StepBreakdown | undefined): string {
  if (!b) return '';
  const c = b.coordinator;
  const w = b.worker;
  return (
    `${b.label}: step ${ms(c.step)} ms = publish ${ms(c.publish)} + wait for blocks ${ms(c.waitGradients)} + reduce ${ms(c.reduce)} + optimizer ${ms(c.optimizer)} + ${ms(c.unattributed)} unattributed` +
    (b.jobsPerStep !== undefined ? `; ${b.jobsPerStep.toFixed(2)} jobs per step` : '') +
    (w ? `; a job: fetch ${ms(w.paramsFetch)}, compute ${ms(w.compute)}, push ${ms(w.push)} ms` : '')
  );
}

const joined = (...parts: string[]) => parts.filter(Boolean).join('; ');

export function clusterTargets(r: BenchResults): TargetRow[] {
  const c = clusterOf(r);
  const t128 = '`pnpm start --workers 2` >= `--workers 1` at the defaults (batch 128; samples/s, steady state)';
  const t1024 = '`pnpm start --batch-size 1024`: `--workers 2` >= 1.2x `--workers 1`';
  const tBase = '`pnpm start --batch-size 1024 --workers 1` >= 0.75x `pnpm baseline --batch-size 1024`';
  const tHash1024 = 'Identical params_sha256 at batch 1024: `pnpm baseline`, 1 worker, 2 workers';
  const tHash128 = 'Identical params_sha256 at batch 128: 1 worker, 2 workers';
  if (!c) {
    const why = 'error' in r.cluster ? r.cluster.error : '';
    return [t128, t1024, tBase, tHash1024, tHash128].map((target) => ({
      target,
      measured: 'not measured',
      met: undefined,
      limit: why,
    }));
  }
  const busy = contended(r, c);
  const b128 = c.breakdown.find((b) => b.label === CLUSTER_LABELS.b128_w2);
  const b1024 = c.breakdown.find((b) => b.label === CLUSTER_LABELS.b1024_w2);
  const b1024w1 = c.breakdown.find((b) => b.label === CLUSTER_LABELS.b1024_w1);
  const b128w1 = c.breakdown.find((b) => b.label === CLUSTER_LABELS.b128_w1);
  // At one job per step the second worker stands by (standby.ts): the workers no longer take turns, which cost
  // 0.88-0.90x before. Shown only when the target is missed: each part of a job beside the lone worker's.
  const turns =
    b128?.worker && b128w1?.worker
      ? `the second worker stands by (one job per step); against 1 worker a job's fetch took ${ms(b128.worker.paramsFetch)} vs ${ms(b128w1.worker.paramsFetch)}, compute ${ms(b128.worker.compute)} vs ${ms(b128w1.worker.compute)}, push ${ms(b128.worker.push)} vs ${ms(b128w1.worker.push)} ms`
      : 'the difference is the second process on the cores';
  // Auto sizing splits a block only when half its compute saves more than the transfers it adds and the derived
  // parameters it gives up.
  const fewerJobs =
    b1024?.jobsPerStep !== undefined && b1024.jobsPerStep < 1.95 && b1024.worker
      ? `\`--jobs-per-step auto\` planned ${b1024.jobsPerStep.toFixed(2)} jobs per step for 2 workers: one worker computing whole steps derives the next parameters (no fetch, and the next step opens without its parameters being written; it computes while the coordinator reads and applies), and a second job would save half the block's compute (${ms(b1024.worker.compute / 2)} ms) but add a parameter fetch per job, a gradient push (${ms(b1024.worker.push)} ms) and a read, and end the derivation, so the second worker stands by; the cores are shared with the coordinator and Redis, so two computing workers would not get a core each either`
      : '';
  const ratioRow = (
    target: string,
    ratio: Spread | undefined,
    threshold: number,
    a: Spread | undefined,
    b: Spread | undefined,
    names: readonly [string, string],
    limit: string,
  ): TargetRow => {
    if (!ratio || !a || !b) return { target, measured: 'not measured', met: undefined, limit: busy };
    const met = ratio.median >= threshold;
    return {
      target,
      measured:
        `${truncated(ratio.median, 3)}x, median of ${ratio.perRound.length} round(s) (range ${truncated(ratio.min, 3)}-${truncated(ratio.max, 3)}x); ` +
        `${names[0]} ${f0(a.median)} vs ${names[1]} ${f0(b.median)} samples/s (medians)`,
      met,
      limit: joined(met ? '' : limit, busy),
    };
  };
  const cores = r.machine.cores;
  const shared = `${cores} cores for the coordinator, Redis and the workers`;
  const rows = [
    ratioRow(
      t128,
      c.ratios.b128W2VsW1,
      1.0,
      c.figures.b128_w2,
      c.figures.b128_w1,
      ['2 workers', '1 worker'],
      joined(
        'at batch 128 `--jobs-per-step auto` gives one job per step (a 128-sample block computes in about the time one parameter transfer takes), so only one worker computes at a time',
        turns,
        stepLine(b128),
      ),
    ),
    ratioRow(
      t1024,
      c.ratios.b1024W2VsW1,
      1.2,
      c.figures.b1024_w2,
      c.figures.b1024_w1,
      ['2 workers', '1 worker'],
      joined(fewerJobs, shared, stepLine(b1024)),
    ),
    ratioRow(
      tBase,
      c.ratios.b1024W1VsBaseline,
      0.75,
      c.figures.b1024_w1,
      c.figures.b1024_baseline,
      ['1 worker', 'baseline'],
      joined(
        "a distributed step adds to the compute the baseline does alone the gradient's push and the submit, a queue round trip and the wait for the step's opening; with derived parameters the coordinator's read and Adam overlap the next compute (and it writes no parameters), but take CPU from the same 2 cores",
        stepLine(b1024w1),
      ),
    ),
  ];
  const cli = c.baselineCli.ok ? [c.baselineCli.paramsSha256] : [];
  const hashRow = (target: string, configs: (typeof CLUSTER_CONFIGS)[number][], extra: string[]): TargetRow => {
    const same = sameParams(c.rounds, configs, extra);
    const hashes = [...new Set([...extra, ...hashesOf(c.rounds, configs)])];
    return {
      target,
      measured:
        same === undefined
          ? 'not measured'
          : `${hashes.length} distinct: ${hashes.map((h) => h.slice(0, 12)).join(', ')} over ${configs.length} configuration(s) x ${c.rounds.length} round(s)${extra.length ? ' and the baseline CLI' : ''}`,
      met: same,
      limit: same === false ? 'the final parameters differ: the worker count changed the math' : '',
    };
  };
  rows.push(hashRow(tHash1024, ['b1024_baseline', 'b1024_w1', 'b1024_w2'], cli));
  rows.push(hashRow(tHash128, ['b128_w1', 'b128_w2'], []));
  return rows;
}

const runCell = (x: ClusterRun | undefined) =>
  !x ? 'n/a' : x.ok ? `${f0(x.samplesPerSecond)} (${x.stepsMeasured} steps)` : `failed: ${x.error.slice(0, 80)}`;

export function renderCluster(r: BenchResults): string {
  const out: string[] = ['## 3. `pnpm start` with 1 and 2 workers, and `pnpm baseline`', ''];
  const c = clusterOf(r);
  if (!c) return [...out, `Not measured: ${'error' in r.cluster ? r.cluster.error : ''}`].join('\n');
  const z = c.sizes;
  out.push(
    '`services/coordinator/src/cli/start.ts --workers W` (real worker processes, cpu-native, the native engine, ' +
      "`--jobs-per-step auto`) on a private Redis, and `pnpm baseline`'s own path (`packages/bench/src/cli/single-process.ts`: " +
      '`prepareTrainee`, `prepareEngine`, `train` with `localGradientSource`) in a fresh process. All: ' +
      `${z.epochs} epoch(s) of \`--limit ${f0(z.limit)}\`, seed 1, K = ${r.sizes.shardsPerStep}, BLAS pinned to 1 thread, ` +
      `\`--checkpoint-every 0\`. ${z.rounds} rounds, the order rotated each round; ratios are taken within each round. ` +
      `**Steady state:** samples/s counts the steps after the first ${z.warmupSteps} or more (for \`pnpm start\`: the ` +
      "coordinator's `gradq_samples_total` over `gradq_step_duration_seconds` between the first /metrics scrape showing " +
      `${z.warmupSteps} steps and the last scrape; scrapes come every 500 ms, so a few more are excluded; the summary's ` +
      '`train_samples_per_s`, shown as "whole run", includes the first steps, which wait for the worker processes to ' +
      'start). The baseline path times its steps after the same warm-up.',
    '',
  );
  if (c.baselineCli.ok) {
    out.push(
      `The real \`pnpm baseline --batch-size 1024\` CLI, once: params_sha256 \`${c.baselineCli.paramsSha256}\`, ` +
        `test MSE ${c.baselineCli.testMse.toFixed(6)}, ${f0(c.baselineCli.samplesPerSecond)} samples/s (whole run).`,
      '',
    );
  } else out.push(`The real \`pnpm baseline\` CLI failed: ${c.baselineCli.error}`, '');
  out.push(
    table(
      ['run', 'samples/s (median)', 'range', 'per round', 'params_sha256'],
      CLUSTER_CONFIGS.map((cfg) => {
        const f = c.figures[cfg];
        const hashes = hashesOf(c.rounds, [cfg]);
        return [
          CLUSTER_LABELS[cfg],
          f ? f0(f.median) : 'n/a',
          f ? `${f0(f.min)} - ${f0(f.max)}` : '',
          f ? f.perRound.map(f0).join(', ') : '',
          hashes.length ? hashes.map((h) => `\`${h.slice(0, 16)}\``).join(', ') : 'n/a',
        ];
      }),
    ),
    '',
    table(
      ['ratio of samples/s, per round', 'median', 'range', 'per round'],
      (
        [
          ['2 / 1 workers, batch 128', c.ratios.b128W2VsW1],
          ['2 / 1 workers, batch 1024', c.ratios.b1024W2VsW1],
          ['1 worker / baseline, batch 1024', c.ratios.b1024W1VsBaseline],
        ] as const
      ).map(([label, x]) =>
        x
          ? [
              label,
              truncated(x.median, 3),
              `${truncated(x.min, 3)} - ${truncated(x.max, 3)}`,
              x.perRound.map((v) => truncated(v, 3)).join(', '),
            ]
          : [label, 'n/a', '', ''],
      ),
    ),
    '',
    'Each run in the order it ran: steady samples/s (steps measured); whole-run samples/s from the summary; test MSE.',
    '',
    table(
      ['round', 'load (1, 5, 15 min)', ...CLUSTER_CONFIGS.map((cfg) => cfg)],
      c.rounds.map((x, i) => [
        `${i + 1}: ${x.order.join(', ')}`,
        x.loadAverage.join(', '),
        ...CLUSTER_CONFIGS.map((cfg) => {
          const run = x.runs.find((y) => y.config === cfg);
          return run?.ok
            ? `${runCell(run)}; whole ${Number.isFinite(run.wholeRunSamplesPerSecond) ? f0(run.wholeRunSamplesPerSecond) : 'n/a'}; MSE ${Number.isFinite(run.testMse) ? run.testMse.toFixed(5) : 'n/a'}`
            : runCell(run);
        }),
      ]),
    ),
    '',
  );
  out.push('### Where a step goes (last round)', '');
  out.push(
    "Means from the services' own histograms (`_sum / _count`) after the warm-up scrape. Coordinator parts are per " +
      'step; worker parts per job. The coordinator reads and checks each gradient as it arrives, so reading is inside ' +
      '"wait for blocks". "Waiting for the last block" = wait - ceil(J/W) x (fetch share + compute + push).',
    '',
  );
  for (const b of c.breakdown) {
    const k = b.coordinator;
    const rows = [
      ['coordinator', 'whole step', ms(k.step)],
      ['coordinator', 'publish (parameters SET, step opened)', ms(k.publish)],
      ['coordinator', 'wait for blocks (incl. reading each gradient)', ms(k.waitGradients)],
      ['coordinator', 'reduce (leaf tree)', ms(k.reduce)],
      ['coordinator', 'optimizer', ms(k.optimizer)],
      ['coordinator', 'unattributed (step - parts)', ms(k.unattributed)],
    ];
    if (b.worker) {
      rows.push(
        ['worker', 'queue latency (enqueued -> started; next-step jobs wait by design)', ms(b.worker.queueLatency)],
        [
          'worker',
          `parameter fetch after the step opened (per fetch; ${b.worker.paramsFetches} fetches / ${b.worker.jobs} jobs)`,
          ms(b.worker.paramsFetch),
        ],
        ['worker', 'block compute', ms(b.worker.compute)],
        ['worker', 'gradient push', ms(b.worker.push)],
        ['derived', 'waiting for the last block', ms(b.waitForLastBlock)],
      );
    } else rows.push(['worker', `not scraped: ${b.workerMetricsError ?? ''}`, 'n/a']);
    out.push(
      `**${b.label}: ${b.steps} steps${b.jobsPerStep !== undefined ? `, ${b.jobsPerStep.toFixed(2)} jobs per step` : ''}**`,
      '',
      table(['where', 'part', 'mean ms'], rows),
      '',
    );
  }
  if (c.breakdown.length === 0) out.push('Not measured (no `pnpm start` run succeeded).', '');
  out.push('### Peak memory (VmHWM, last round)', '');
  out.push(
    table(
      ['run', 'coordinator', 'worker (largest)'],
      c.memory.map((x) => [x.run, mb(x.coordinatorPeakRssBytes), mb(x.workerPeakRssBytes)]),
    ),
    '',
  );
  return out.join('\n').trimEnd();
}

export function renderEncodings(r: BenchResults): string {
  const out: string[] = ['## 4. Gradient encodings', ''];
  const e = r.encodings;
  if ('error' in e) return [...out, `Not measured: ${e.error}`].join('\n');
  out.push(
    `\`pnpm baseline --grad-encoding X\` (the real CLI, native engine), batch ${r.sizes.batchSize}, K = ${r.sizes.shardsPerStep}, ` +
      `${e.sizes.epochs} epoch(s) of ${e.sizes.limit === 0 ? 'all 60,000' : f0(e.sizes.limit)} samples, seed 1. Every node of the leaf tree is ` +
      'rounded to the encoding, as workers and the coordinator round it, so a cluster trains these same numbers; ' +
      `parameters stay float32. Gradient bytes per job: one block's gradient on the wire, ${f0(e.paramCount)} values x bytes per value.`,
    '',
    table(
      [
        'encoding',
        `test MSE after ${e.sizes.epochs} epoch(s)`,
        'ratio to f32',
        'gradient bytes per job',
        'samples/s',
        'run (s)',
      ],
      e.runs.map((x) =>
        x.ok
          ? [
              x.encoding,
              x.testMse.toFixed(6),
              x.ratioToF32.toFixed(4),
              f0(x.gradBytesPerJob),
              f0(x.samplesPerSecond),
              f1(x.seconds),
            ]
          : [x.encoding, `failed: ${x.error.slice(0, 80)}`, '', '', '', ''],
      ),
    ),
    '',
  );
  const ok = e.runs.filter((x) => x.ok);
  if (ok.length) {
    out.push(
      'Test MSE by epoch:',
      '',
      table(
        ['encoding', ...(ok[0]?.ok ? ok[0].testMseByEpoch.map((_, i) => (i === 0 ? 'initial' : `epoch ${i}`)) : [])],
        ok.map((x) => (x.ok ? [x.encoding, ...x.testMseByEpoch.map((v) => v.toFixed(5))] : [])),
      ),
      '',
    );
  }
  return out.join('\n').trimEnd();
}
