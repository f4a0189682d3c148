import { f0, table } from './markdown';
import { clusterTargets, renderCluster, renderEncodings } from './report-cluster';
import { renderScaling, scalingTargets } from './report-scaling';
import { renderSingle, singleTargets, torchVersion } from './report-single';
import type { BenchResults } from './results';

export interface TargetRow {
  readonly target: string;
  readonly measured: string;
  /** Judged on unrounded values; undefined when not measured (or, for a quick run's section 1, not judged). */
  readonly met: boolean | undefined;
  readonly limit: string;
}

/** Every target of the issues (step protocol v2, issue 6, the compute engine), with what limits each one not met. */
export function targets(r: BenchResults): TargetRow[] {
  return [...scalingTargets(r), ...clusterTargets(r), ...singleTargets(r)];
}

const verdict = (met: boolean | undefined) => (met === undefined ? 'n/a' : met ? 'met' : '**NOT met**');

/** BENCHMARKS.md, from the results alone (so the JSON can be re-rendered). */
export function renderMarkdown(r: BenchResults, chartLink: string): string {
  const m = r.machine;
  const s = r.sizes;
  const out: string[] = [];
  out.push('# gradq benchmarks', '');
  out.push(
    `Written by \`pnpm bench${r.quick ? ' --quick' : ''}\` (packages/bench) on ${r.startedAt.slice(0, 10)} in ${f0(r.durationSeconds / 60)} min` +
      `${r.quick ? ' — a **quick smoke run**: small sizes, noisy figures' : ''}. Same figures in \`bench-results.json\`.`,
    '',
  );
  out.push(
    table(
      ['machine', ''],
      [
        ['CPU', `${m.cpuModel}, ${m.cores} cores`],
        ['RAM', `${(m.ramBytes / 2 ** 30).toFixed(1)} GiB`],
        ['OS', m.os],
        ['Node', m.node],
        ...Object.entries(m.versions).map(([k, v]) => [k, v]),
        ...(torchVersion(r) ? [['PyTorch', torchVersion(r) as string]] : []),
        ['git commit', `${m.gitCommit.slice(0, 12)}${m.gitDirty ? ' (with uncommitted changes)' : ''}`],
        ['load average at start (1, 5, 15 min)', m.loadAverageAtStart.join(', ')],
      ],
    ),
    '',
  );

  out.push('## Targets', '');
  out.push(
    'Judged on unrounded values. Ratios print truncated and "<=" figures rounded up, so a shortfall never prints as ' +
      'the threshold it missed.',
    '',
    table(
      ['target', 'measured', 'met', 'what limits it'],
      targets(r).map((t) => [t.target, t.measured, verdict(t.met), t.limit]),
    ),
    '',
  );

  out.push(renderSingle(r), '');
  out.push(renderScaling(r, chartLink), '');
  out.push(renderCluster(r), '');
  out.push(renderEncodings(r), '');

  out.push('## Sizes used', '');
  const z = s.scaling;
  out.push(
    table(
      ['what', 'size'],
      [
        [
          'single process (section 1)',
          `${s.single.rounds} round(s) of PyTorch, K = 4, K = 1: one epoch of ${f0(s.single.limit)} samples each, ${s.single.warmupSteps} steps untimed${s.single.steadyState ? '' : ' (not steady state)'}`,
        ],
        [
          'backends (section 1b)',
          Object.entries(s.backendSteps)
            .map(([b, x]) => `${b} ${x.warmup} + ${x.steps} steps`)
            .join(', '),
        ],
        [
          'scaling (section 2)',
          `engine ${z.engineCalls} calls per block size; protocol W = ${z.protocolWorkers.join(', ')}; series W = ${z.workers.join(', ')} at ${z.samplesPerWorker.join(' and ')} samples/worker; ${z.warmupSteps} warm-up + ${z.steps} measured steps per point`,
        ],
        [
          'cluster (section 3)',
          `${s.cluster.rounds} round(s); ${s.cluster.epochs} epoch(s) of ${f0(s.cluster.limit)} samples at batch 128 and 1024, K = ${s.shardsPerStep}; ${s.cluster.warmupSteps}+ steps excluded`,
        ],
        [
          'encodings (section 4)',
          `${s.encodings.epochs} epoch(s) of ${s.encodings.limit === 0 ? 'all 60,000' : f0(s.encodings.limit)} samples, batch ${s.batchSize}`,
        ],
      ],
    ),
    '',
    'Rerun: `pnpm bench` (full) or `pnpm bench --quick`; see packages/bench/README.md.',
    '',
  );
  return out.join('\n');
}
