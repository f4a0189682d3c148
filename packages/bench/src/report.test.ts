import assert from 'node:assert/strict';
import { test } from 'node:test';
import { efficiency, renderMarkdown, targets } from './report';
import type { BenchResults, Contender, SingleResults } from './results';
import { benchSizes } from './sizes';
import { spread } from './stats';

const run = (samplesPerSecond: number) => ({
  warmupSteps: 50,
  steps: 419,
  samples: 53_600,
  seconds: 53_600 / samplesPerSecond,
  samplesPerSecond,
  halves: [samplesPerSecond, samplesPerSecond] as const,
  cpuShare: 0.98,
});

/** Section 1 from per-round samples/s of PyTorch, K = 4 and K = 1 (round i ran in rotation i). */
function single(torch: number[], k4: number[], k1: number[], steadyState: boolean): SingleResults {
  const orders: Contender[][] = [
    ['torch', 'k4', 'k1'],
    ['k4', 'k1', 'torch'],
    ['k1', 'torch', 'k4'],
  ];
  const gradq = (v: number, K: number) =>
    ({ ok: true, ...run(v), backend: 'cpu-native', engine: 'native-cpu', shardsPerStep: K, batchSize: 128 }) as const;
  const ratios = (a: number[], b: number[]) => spread(a.map((x, i) => x / (b[i] as number)));
  return {
    sizes: { rounds: torch.length, limit: 60_000, warmupSteps: 50, steadyState },
    backend: 'cpu-native',
    rounds: torch.map((t, i) => ({
      order: orders[i % 3] as Contender[],
      loadAverage: [0.5, 0.4, 0.3],
      torch: { ok: true, ...run(t), version: '1.13', threads: 1, data: 'mnist' },
      k4: gradq(k4[i] as number, 4),
      k1: gradq(k1[i] as number, 1),
    })),
    torch: spread(torch),
    k4: spread(k4),
    k1: spread(k1),
    ratios: { k4VsTorch: ratios(k4, torch), k4VsK1: ratios(k4, k1) },
  } as SingleResults;
}

const RESULTS: BenchResults = {
  version: 2,
  quick: true,
  startedAt: '2026-11-26T18:00:00.000Z',
  durationSeconds: 180,
  machine: {
    cpuModel: 'Test CPU',
    cores: 2,
    ramBytes: 8 * 2 ** 30,
    os: 'Debian',
    node: 'v20.0.0',
    versions: { '@tensorflow/tfjs': '4.22.0' },
    gitCommit: '0123456789abcdef',
    gitDirty: false,
    loadAverageAtStart: [0.1, 0.2, 0.3],
  },
  sizes: benchSizes(true),
  single: single([6400, 6000, 6800], [6374.4, 5976, 6772.8], [7000, 6500, 7400], true),
  backends: [
    { backend: 'tensorflow', ok: false, error: 'Cannot find package tfjs-node' },
    {
      backend: 'cpu-native',
      ok: true,
      engine: 'native-cpu',
      shardsPerStep: 4,
      batchSize: 128,
      warmupSteps: 2,
      steps: 10,
      samples: 1280,
      seconds: 0.4,
      samplesPerSecond: 3200,
      halves: [3100, 3300],
      cpuShare: 0.99,
      shardComputeMs: 10,
      shardSamples: 32,
    },
  ],
  cluster: [
    { backend: 'wasm', workers: 1, ok: true, samplesPerSecond: 500, steps: 8, wallSeconds: 10, testMse: 0.05 },
    { backend: 'wasm', workers: 2, ok: true, samplesPerSecond: 900, steps: 8, wallSeconds: 8, testMse: 0.05 },
  ],
  breakdown: [],
  ceiling: {
    backend: 'cpu-native',
    shardsPerStep: 4,
    steps: 16,
    gradientBytes: 3_080_336,
    gradientsPerSecond: 400,
    ingestMBps: 1232,
    stepMs: 10,
    serialMs: 6,
    parts: { publish: 1, waitGradients: 4, average: 2.5, optimizer: 1, readAndCleanup: 1.5 },
    redis: {
      valueBytes: 3_080_336,
      iterations: 10,
      setMs: 2,
      getMs: 2,
      setMBps: 1540,
      getMBps: 1540,
      roundTripMBps: 770,
    },
  },
  memory: [{ run: 'wasm, 2 worker(s)', coordinatorPeakRssBytes: 300 * 2 ** 20, workerPeakRssBytes: 200 * 2 ** 20 }],
  scaling: { error: 'not computed in this test' },
  encodings: { available: false, note: 'not available yet: `pnpm start --help` does not list --grad-encoding' },
};

test('efficiency is W-worker throughput over W times one worker', () => {
  assert.equal(efficiency(RESULTS, 'wasm', 2), 0.9);
  assert.ok(Number.isNaN(efficiency(RESULTS, 'cpu-native', 2)));
});

test('targets: each one measured, judged, and explained when not met', () => {
  const [serial, ingest, scaling, vsTorch, vsK1] = targets(RESULTS);
  assert.equal(serial?.met, false);
  assert.match(serial?.limit ?? '', /averaging 2\.5 ms/);
  // 1232 MB/s ingest against 770 MB/s for one SET + one GET: 160%.
  assert.equal(ingest?.met, true);
  assert.equal(scaling?.met, false);
  assert.match(scaling?.limit ?? '', /2 cores for 2 workers \+ coordinator \+ Redis/);
  // K = 4 / PyTorch per round: 0.996 each time. Not met, and it must not print as 1.00x.
  assert.equal(vsTorch?.met, false);
  assert.match(vsTorch?.measured ?? '', /^0\.99x, median of 3 round\(s\) \(range 0\.99-0\.99x\)/);
  assert.doesNotMatch(vsTorch?.measured ?? '', /1\.00x/);
  assert.match(vsTorch?.limit ?? '', /20\.1 ms in gradq \(engine native-cpu\) vs 20\.0 ms in PyTorch/);
  // K = 4 / K = 1 per round: 6374.4/7000 = 0.9106, 5976/6500 = 0.9194, 6772.8/7400 = 0.9152: median 0.9152.
  assert.equal(vsK1?.met, true);
  assert.match(vsK1?.measured ?? '', /^0\.91x, median of 3 round\(s\) \(range 0\.91-0\.91x\)/);
});

test('single-process targets: exactly at the threshold is met; a quick run is shown but not judged', () => {
  const atThreshold = { ...RESULTS, single: single([6000, 6000, 6000], [6000, 6000, 6000], [6000, 6000, 6000], true) };
  const [, , , vsTorch, vsK1] = targets(atThreshold);
  assert.equal(vsTorch?.met, true);
  assert.match(vsTorch?.measured ?? '', /^1\.00x/);
  assert.equal(vsK1?.met, true);
  const quick = { ...RESULTS, single: single([6000], [3000], [6000], false) };
  const [, , , qTorch, qK1] = targets(quick);
  assert.equal(qTorch?.met, undefined);
  assert.equal(qK1?.met, undefined);
  assert.match(qTorch?.limit ?? '', /not steady state, not judged/);
  assert.match(renderMarkdown(quick, 'x.png'), /\*\*Quick run: not steady state\.\*\*/);
});

test('single-process targets warn when a round started on a busy machine', () => {
  const s = single([6000, 6000, 6000], [6000, 6000, 6000], [6000, 6000, 6000], true);
  const busy: SingleResults = { ...s, rounds: s.rounds.map((r, i) => ({ ...r, loadAverage: [i === 1 ? 2.5 : 0.4] })) };
  const [, , , vsTorch] = targets({ ...RESULTS, single: busy });
  assert.equal(vsTorch?.met, true);
  assert.match(vsTorch?.limit ?? '', /contended: 1 of 3 round\(s\) started at a 1-min load average >= 2/);
  assert.match(renderMarkdown({ ...RESULTS, single: busy }, 'x.png'), /\*\*Warning: contended/);
  // A quiet load average but a run that got 60% of a core.
  const starved: SingleResults = {
    ...s,
    rounds: s.rounds.map((r, i) => (i === 2 && r.k1.ok ? { ...r, k1: { ...r.k1, cpuShare: 0.6 } } : r)),
  };
  const [, , , t2] = targets({ ...RESULTS, single: starved });
  assert.match(t2?.limit ?? '', /^contended: 1 of 9 run\(s\) had under 0\.9 of a core/);
});

test('single-process targets when the section did not run or PyTorch is missing', () => {
  const [, , , vsTorch] = targets({ ...RESULTS, single: { error: 'not run (--sections)' } });
  assert.equal(vsTorch?.met, undefined);
  assert.equal(vsTorch?.limit, 'not run (--sections)');
  const s = single([6000], [6000], [6000], true);
  const noTorch: SingleResults = {
    ...s,
    rounds: s.rounds.map((r) => ({ ...r, torch: { ok: false, error: 'no PyTorch for /usr/bin/python3' } })),
    torch: undefined,
    ratios: { k4VsK1: s.ratios.k4VsK1 },
  };
  const [, , , t2, k2] = targets({ ...RESULTS, single: noTorch });
  assert.equal(t2?.met, undefined);
  assert.match(t2?.limit ?? '', /no PyTorch/);
  assert.equal(k2?.met, true);
});

test('the report names the machine, the quick run, the unavailable encodings and every section', () => {
  const md = renderMarkdown(RESULTS, 'docs/bench-scaling.png');
  for (const heading of ['## Targets', '## 1.', '## 2.', '## 3.', '## 4.', '## 5.', '## 6.', '## 7.', '## Sizes used'])
    assert.ok(md.includes(heading), heading);
  assert.match(md, /quick smoke run/);
  assert.match(md, /Test CPU, 2 cores/);
  assert.match(md, /\| tensorflow \| did not load \|/);
  // Section 1: medians, ranges, per-round values, load and order of each round.
  assert.match(md, /\| PyTorch, 1 thread \| 6,400 \| 6,000 - 6,800 \| 6,400, 6,000, 6,800 \|/);
  assert.match(md, /\| 2 \| k4, k1, torch \| 0\.5, 0\.4, 0\.3 \| 6,000 \(6,000 \/ 6,000; cpu 0\.98\) \|/);
  assert.match(md, /\| K = 4 \/ PyTorch \| 0\.996 \| 0\.996 - 0\.996 \|/);
  assert.match(md, /not available yet/);
  assert.match(md, /at most 167 steps\/s/);
});
