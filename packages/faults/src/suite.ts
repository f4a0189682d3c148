import { testBackend } from '@gradq/testing';
import type { SuiteReport } from './report';
import type { Workload } from './rig';
import { type Intensity, runScenario, SCENARIOS, type Scenario, type ScenarioResult, undisturbed } from './scenarios';

export const WORKLOADS: Readonly<Record<Intensity, Workload>> = {
  // 64 steps: long enough for several faults of each kind, short enough for the whole suite in ~6 minutes on 2 cores.
  full: { limit: 4096, epochs: 2, batchSize: 128, shardsPerStep: 4, seed: 11, checkpointEvery: 8 },
  // 12 steps: one fault of each kind, for `pnpm test`.
  quick: { limit: 1536, epochs: 1, batchSize: 128, shardsPerStep: 4, seed: 11, checkpointEvery: 3 },
};

export interface SuiteOptions {
  intensity: Intensity;
  /** Seeds the moments faults are injected at. */
  seed: number;
  /** Scenario names (or parts of them) to run; default all. */
  only?: readonly string[];
  log?: (line: string) => void;
  onResult?: (result: ScenarioResult) => void;
}

/** A small seeded generator (mulberry32): the same seed injects faults at the same points of the schedule. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function selectScenarios(only: readonly string[] | undefined): Scenario[] {
  if (!only?.length) return [...SCENARIOS];
  const picked = SCENARIOS.filter((s) => only.some((o) => s.name.toLowerCase().includes(o.toLowerCase())));
  if (picked.length === 0)
    throw new Error(`no scenario matches ${only.join(', ')}; scenarios: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  return picked;
}

/** The undisturbed reference, then every selected scenario, one at a time (they share the machine's cores). */
export async function runSuite(options: SuiteOptions): Promise<SuiteReport> {
  const started = performance.now();
  const log = options.log ?? (() => {});
  const workload = WORKLOADS[options.intensity];
  const scenarios = selectScenarios(options.only);
  const random = seeded(options.seed);
  const base = { workload, intensity: options.intensity, random, log };
  log(`${undisturbed.name}: ${undisturbed.description}`);
  const reference = await runScenario(undisturbed, base);
  options.onResult?.(reference);
  const results: ScenarioResult[] = [];
  for (const scenario of scenarios) {
    if (!reference.summary) break;
    log(`${scenario.name}: ${scenario.description}`);
    const result = await runScenario(scenario, { ...base, reference: reference.summary });
    options.onResult?.(result);
    results.push(result);
  }
  return {
    date: new Date(),
    backend: reference.summary?.backend ?? testBackend(),
    workload,
    seed: options.seed,
    intensity: options.intensity,
    reference,
    results,
    seconds: (performance.now() - started) / 1000,
  };
}
