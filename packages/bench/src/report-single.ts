import { f0, f1, f2, table } from './markdown';
import type { TargetRow } from './report';
import type { BenchResults, GradqRun, Outcome, SingleResults, Spread, TimedRun } from './results';
import { truncated } from './stats';

function single(r: BenchResults): SingleResults | undefined {
  return 'error' in r.single ? undefined : r.single;
}

/** PyTorch's version, from the first round that ran it. */
export function torchVersion(r: BenchResults): string | undefined {
  for (const round of single(r)?.rounds ?? []) if (round.torch.ok) return round.torch.version;
  return undefined;
}

/** The engines section 1's gradq runs used, and why the native one was passed over (normally one of each). */
function engines(s: SingleResults): { names: string; skipped: string | undefined } {
  const runs = s.rounds.flatMap((r) => [r.k4, r.k1]).filter((x): x is Extract<Outcome<GradqRun>, { ok: true }> => x.ok);
  const names = [...new Set(runs.map((x) => x.engine))].join(', ') || 'n/a';
  return { names, skipped: runs.find((x) => x.engineSkipped)?.engineSkipped };
}

const stepMs = (samplesPerSecond: number, batch: number) => (batch / samplesPerSecond) * 1000;

/** Below this CPU share a run did not have its core to itself. */
const MIN_CPU_SHARE = 0.9;

/**
 * A warning when other processes took turns with the measured ones: a run whose CPU share was under 0.9, or a round
 * that started with more runnable work than cores (1-minute load average >= cores). A ratio then says more about
 * who got the CPU than about speed.
 */
export function contention(r: BenchResults): string | undefined {
  const s = single(r);
  if (!s) return undefined;
  const loads = s.rounds.map((x) => x.loadAverage[0] ?? 0);
  const busyRounds = loads.filter((l) => l >= r.machine.cores).length;
  const runs = s.rounds.flatMap((x) => [x.torch, x.k4, x.k1]).filter((x) => x.ok);
  const starved = runs.filter((x) => x.ok && x.cpuShare < MIN_CPU_SHARE).length;
  const why = [
    busyRounds
      ? `${busyRounds} of ${loads.length} round(s) started at a 1-min load average >= ${r.machine.cores} (the cores; ${Math.min(...loads)}-${Math.max(...loads)})`
      : '',
    starved ? `${starved} of ${runs.length} run(s) had under ${MIN_CPU_SHARE} of a core (CPU share)` : '',
  ].filter(Boolean);
  return why.length ? `contended: ${why.join(', ')}; figures unreliable, rerun on a quiet machine` : undefined;
}

/**
 * The two single-process targets: `pnpm baseline` at its defaults (K = 4) >= 1.0x PyTorch at 1 thread, and K = 4 >=
 * 0.9x K = 1. Judged on the median of the per-round ratios, compared unrounded; the ratio prints truncated, so a
 * shortfall never reads as the threshold. A --quick run is shown but not judged: it is not steady state.
 */
export function singleTargets(r: BenchResults): TargetRow[] {
  const s = single(r);
  const vsTorch =
    '`pnpm baseline` at its defaults (K = 4, cpu-native) >= 1.0x PyTorch, 1 thread (samples/s, steady state)';
  const vsK1 = '`pnpm baseline` K = 4 >= 0.9x K = 1 (samples/s, steady state)';
  if (!s) {
    const why = 'error' in r.single ? r.single.error : '';
    return [
      { target: vsTorch, measured: 'not measured', met: undefined, limit: why },
      { target: vsK1, measured: 'not measured', met: undefined, limit: why },
    ];
  }
  const batch = r.sizes.batchSize;
  const { names, skipped } = engines(s);
  const busy = contention(r);
  const notSteady = s.sizes.steadyState
    ? undefined
    : `quick run (${s.sizes.warmupSteps} warm-up steps, ${s.rounds.length} round(s)): not steady state, not judged`;
  const firstError = (who: 'torch' | 'k4' | 'k1') => {
    for (const round of s.rounds) if (!round[who].ok) return `${who}: ${round[who].error}`;
    return '';
  };
  const row = (
    target: string,
    ratio: Spread | undefined,
    threshold: number,
    a: Spread | undefined,
    b: Spread | undefined,
    labels: readonly [string, string],
    limit: () => string,
    runs: readonly ['k4', 'torch' | 'k1'],
  ): TargetRow => {
    if (!ratio || !a || !b) {
      return { target, measured: 'not measured', met: undefined, limit: runs.map(firstError).find(Boolean) ?? '' };
    }
    const measured =
      `${truncated(ratio.median)}x, median of ${ratio.perRound.length} round(s) (range ${truncated(ratio.min)}-${truncated(ratio.max)}x); ` +
      `${labels[0]} ${f0(a.median)} vs ${labels[1]} ${f0(b.median)} samples/s (medians), engine ${names}`;
    if (notSteady) return { target, measured, met: undefined, limit: notSteady };
    const met = ratio.median >= threshold;
    return { target, measured, met, limit: [met ? '' : limit(), busy ?? ''].filter(Boolean).join('; ') };
  };
  return [
    row(
      vsTorch,
      s.ratios.k4VsTorch,
      1.0,
      s.k4,
      s.torch,
      ['gradq', 'PyTorch'],
      () => {
        const k4 = s.k4?.median ?? Number.NaN;
        const torch = s.torch?.median ?? Number.NaN;
        return (
          `a ${batch}-sample step takes ${f1(stepMs(k4, batch))} ms in gradq (engine ${names}${skipped ? `; the native engine was not used: ${skipped}` : ''}) ` +
          `vs ${f1(stepMs(torch, batch))} ms in PyTorch`
        );
      },
      ['k4', 'torch'],
    ),
    row(
      vsK1,
      s.ratios.k4VsK1,
      0.9,
      s.k4,
      s.k1,
      ['K = 4', 'K = 1'],
      () => {
        const k4 = s.k4?.median ?? Number.NaN;
        const k1 = s.k1?.median ?? Number.NaN;
        return (
          `a K = 4 step takes ${f1(stepMs(k4, batch))} ms vs ${f1(stepMs(k1, batch))} ms at K = 1 (engine ${names}): ` +
          'the forward and input-gradient products cover the block, but the weight gradients are one product per leaf ' +
          '(4 products of 32 samples, each writing or adding the whole gradient) and two pairs merge elementwise'
        );
      },
      ['k4', 'k1'],
    ),
  ];
}

const withHalves = (x: Outcome<TimedRun>) =>
  x.ok
    ? `${f0(x.samplesPerSecond)} (${x.halves.map(f0).join(' / ')}; cpu ${f2(x.cpuShare)})`
    : `failed: ${x.error.slice(0, 80)}`;
const spreadRow = (label: string, x: Spread | undefined, format: (v: number) => string) =>
  x
    ? [label, format(x.median), `${format(x.min)} - ${format(x.max)}`, x.perRound.map(format).join(', ')]
    : [label, 'not measured', '', ''];
const ratio3 = (v: number) => truncated(v, 3);

/** Section 1 of BENCHMARKS.md: the interleaved rounds, then the backend survey. */
export function renderSingle(r: BenchResults): string {
  const out: string[] = ['## 1. Single process: `pnpm baseline` against PyTorch', ''];
  const s = single(r);
  const batch = r.sizes.batchSize;
  if (!s) out.push(`Not measured: ${'error' in r.single ? r.single.error : ''}`, '');
  else {
    const z = s.sizes;
    const perEpoch = Math.ceil(z.limit / batch);
    const { names, skipped } = engines(s);
    out.push(
      `Seed model (784-392-196-392-784, ReLU, MSE, Adam 1e-3), batch ${batch}. PyTorch ${torchVersion(r) ?? ''}: ` +
        "`packages/bench/python/torch_bench.py` at 1 thread. gradq: `pnpm baseline`'s own path (`prepareTrainee`, " +
        `\`prepareEngine\`, \`train\` with \`localGradientSource\`) on ${s.backend}, engine ${names}` +
        `${skipped ? ` (the native engine was not used: ${skipped})` : ''}, at K = 4 leaves per step (its default) and K = 1. ` +
        "Each measurement is a fresh process with BLAS pinned to 1 thread and glibc's mmap threshold fixed (else " +
        'PyTorch page-faults its activations in afresh every step: 3x slower here; see packages/bench/src/single.ts), ' +
        `and runs one epoch of ${f0(z.limit)} samples ` +
        `(${perEpoch} steps): ${z.warmupSteps} steps of warm-up, then the other ${perEpoch - z.warmupSteps} timed step by step ` +
        '(evaluation and data loading excluded). ' +
        `${s.rounds.length} round(s), the order rotated each round; ratios are taken within each round, then summarised.`,
      '',
    );
    const busy = contention(r);
    if (busy) out.push(`**Warning: ${busy}.** See the load average of each round below.`, '');
    if (!z.steadyState) {
      out.push(
        `**Quick run: not steady state.** ${perEpoch - z.warmupSteps} steps after ${z.warmupSteps} of warm-up, ` +
          `${s.rounds.length} round(s): short runs misstate speed both ways (PyTorch gave 5,285 samples/s over 60 steps ` +
          'and 12,488 over 400). The targets are not judged; run `pnpm bench` for the figures.',
        '',
      );
    }
    out.push(
      table(
        ['samples/s', 'median', 'range', 'per round'],
        [
          spreadRow('PyTorch, 1 thread', s.torch, f0),
          spreadRow('pnpm baseline, K = 4 (default)', s.k4, f0),
          spreadRow('pnpm baseline, K = 1', s.k1, f0),
        ],
      ),
      '',
      table(
        ['ratio of samples/s, per round', 'median', 'range', 'per round'],
        [spreadRow('K = 4 / PyTorch', s.ratios.k4VsTorch, ratio3), spreadRow('K = 4 / K = 1', s.ratios.k4VsK1, ratio3)],
      ),
      '',
      'Each run, in the order it ran; samples/s with, in brackets, the first and the second half of its timed steps ' +
        '(close to each other at steady state) and its CPU share (CPU seconds / wall seconds of the timed steps: about 1 when it had a core to itself):',
      '',
      table(
        ['round', 'order', 'load average at start (1, 5, 15 min)', 'PyTorch', 'K = 4', 'K = 1'],
        s.rounds.map((x, i) => [
          String(i + 1),
          x.order.join(', '),
          x.loadAverage.join(', '),
          withHalves(x.torch),
          withHalves(x.k4),
          withHalves(x.k1),
        ]),
      ),
      '',
    );
  }

  out.push('### 1b. Each backend', '');
  out.push(
    `Each tfjs backend in its own process: \`pnpm baseline\`'s path at K = ${r.sizes.shardsPerStep} for a few steps ` +
      '(a short run: **not steady state**, for comparing backends only), then one block of one ' +
      `${r.sizes.shardSamples}-sample leaf on the same engine (one leaf of a K = 4 step at batch 128).`,
    '',
  );
  if (r.backends.length === 0) out.push('Not measured (--sections).', '');
  else
    out.push(
      table(
        ['backend', 'engine', 'samples/s (short run)', 'warm-up + steps', `shard of ${r.sizes.shardSamples} (ms)`],
        r.backends.map((x) =>
          x.ok
            ? [x.backend, x.engine, f0(x.samplesPerSecond), `${x.warmupSteps} + ${x.steps}`, f1(x.shardComputeMs)]
            : [x.backend, 'did not load', '', '', x.error.slice(0, 120)],
        ),
      ),
      '',
    );
  return out.join('\n').trimEnd();
}
