/** Section `cluster`'s figures from its rounds (pure): medians per configuration, per-round ratios, hashes. */
import { CLUSTER_CONFIGS, type ClusterConfig, type ClusterResults, type ClusterRound, type Spread } from './results';
import { perRoundRatios, spread } from './stats';

/** What each configuration runs, as the report names it. */
export const CLUSTER_LABELS: Record<ClusterConfig, string> = {
  b128_w1: 'pnpm start --workers 1 (batch 128)',
  b128_w2: 'pnpm start --workers 2 (batch 128)',
  b1024_w1: 'pnpm start --workers 1 --batch-size 1024',
  b1024_w2: 'pnpm start --workers 2 --batch-size 1024',
  b1024_baseline: 'pnpm baseline --batch-size 1024',
};

/** samples/s of `config` in each round (undefined where it failed), in round order. */
export function ratesOf(rounds: readonly ClusterRound[], config: ClusterConfig): (number | undefined)[] {
  return rounds.map((r) => {
    const run = r.runs.find((x) => x.config === config);
    return run?.ok ? run.samplesPerSecond : undefined;
  });
}

export function clusterFigures(rounds: readonly ClusterRound[]): Pick<ClusterResults, 'figures' | 'ratios'> {
  const figures: Partial<Record<ClusterConfig, Spread>> = {};
  for (const c of CLUSTER_CONFIGS) {
    const s = spread(ratesOf(rounds, c).filter((x): x is number => x !== undefined));
    if (s) figures[c] = s;
  }
  const ratio = (a: ClusterConfig, b: ClusterConfig) => spread(perRoundRatios(ratesOf(rounds, a), ratesOf(rounds, b)));
  const b128W2VsW1 = ratio('b128_w2', 'b128_w1');
  const b1024W2VsW1 = ratio('b1024_w2', 'b1024_w1');
  const b1024W1VsBaseline = ratio('b1024_w1', 'b1024_baseline');
  return {
    figures,
    ratios: {
      ...(b128W2VsW1 ? { b128W2VsW1 } : {}),
      ...(b1024W2VsW1 ? { b1024W2VsW1 } : {}),
      ...(b1024W1VsBaseline ? { b1024W1VsBaseline } : {}),
    },
  };
}

/** Every distinct params_sha256 the runs of `configs` ended with (over all rounds), in first-seen order. */
export function hashesOf(rounds: readonly ClusterRound[], configs: readonly ClusterConfig[]): string[] {
  const seen: string[] = [];
  for (const r of rounds) {
    for (const run of r.runs) {
      if (run.ok && configs.includes(run.config) && !seen.includes(run.paramsSha256)) seen.push(run.paramsSha256);
    }
  }
  return seen;
}

/**
 * Whether every run of `configs` (and `extra` hashes, e.g. the baseline CLI's) ended with the same parameters.
 * Undefined when a configuration has no successful run: nothing to compare.
 */
export function sameParams(
  rounds: readonly ClusterRound[],
  configs: readonly ClusterConfig[],
  extra: readonly string[] = [],
): boolean | undefined {
  for (const c of configs) if (!rounds.some((r) => r.runs.some((x) => x.config === c && x.ok))) return undefined;
  const all = new Set([...hashesOf(rounds, configs), ...extra]);
  return all.size === 1;
}
