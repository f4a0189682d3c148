import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clusterFigures, hashesOf, ratesOf, sameParams } from './cluster-figures';
import type { ClusterRound } from './results';
import { clusterRounds, RATES } from './test-support';

test('rates per round, medians per configuration, ratios within each round', () => {
  const rounds = clusterRounds(RATES);
  assert.deepEqual(ratesOf(rounds, 'b128_w2'), [5050, 5200]);
  const { figures, ratios } = clusterFigures(rounds);
  assert.equal(figures.b128_w1?.median, 5050);
  assert.deepEqual(ratios.b1024W2VsW1?.perRound, [1.2, 1.2]);
  assert.deepEqual(ratios.b1024W1VsBaseline?.perRound, [0.8, 0.8]);
  // 5050/5000 and 5200/5100.
  assert.deepEqual(ratios.b128W2VsW1?.perRound, [1.01, 5200 / 5100]);
});

test('a failed run drops out of its configuration and of the ratios of its round only', () => {
  const rounds: ClusterRound[] = clusterRounds(RATES).map((r, i) => ({
    ...r,
    runs: r.runs.map((x) =>
      i === 0 && x.config === 'b1024_w2' ? { config: x.config, wallSeconds: 1, ok: false as const, error: 'boom' } : x,
    ),
  }));
  assert.deepEqual(ratesOf(rounds, 'b1024_w2'), [undefined, 12_000]);
  const { figures, ratios } = clusterFigures(rounds);
  assert.deepEqual(figures.b1024_w2?.perRound, [12_000]);
  assert.deepEqual(ratios.b1024W2VsW1?.perRound, [1.2]);
});

test('hashes: the same everywhere, one that differs, and nothing to compare', () => {
  const same = clusterRounds(RATES);
  assert.equal(sameParams(same, ['b1024_w1', 'b1024_w2', 'b1024_baseline']), true);
  assert.equal(sameParams(same, ['b1024_w1'], ['ff'.repeat(32)]), false);
  const differ = same.map((r, i) => ({
    ...r,
    runs: r.runs.map((x) => (i === 1 && x.ok && x.config === 'b128_w2' ? { ...x, paramsSha256: 'cd' } : x)),
  }));
  assert.equal(sameParams(differ, ['b128_w1', 'b128_w2']), false);
  assert.deepEqual(hashesOf(differ, ['b128_w2']), ['ab'.repeat(32), 'cd']);
  const failed = same.map((r) => ({
    ...r,
    runs: r.runs.map((x) =>
      x.config === 'b128_w2' ? { config: x.config, wallSeconds: 1, ok: false as const, error: 'x' } : x,
    ),
  }));
  assert.equal(sameParams(failed, ['b128_w1', 'b128_w2']), undefined);
});
