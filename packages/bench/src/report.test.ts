import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderMarkdown, targets } from './report';
import type { BenchResults, SingleResults } from './results';
import { cluster, clusterRounds, point, RATES, RESULTS, SCALING, single } from './test-support';

const named = (r: BenchResults, prefix: string) => targets(r).filter((t) => t.target.startsWith(prefix));
const only = (r: BenchResults, prefix: string) => {
  const [row, ...rest] = named(r, prefix);
  assert.ok(row && rest.length === 0, `one target starting with ${prefix}`);
  return row;
};
const singleRows = (r: BenchResults) => targets(r).slice(-2);

test('targets: the scaling, cluster and single-process ones, in that order', () => {
  const t = targets(RESULTS);
  assert.equal(t.length, 8 + 5 + 2);
  assert.match(t[0]?.target ?? '', /^Protocol: bytes through Redis/);
  assert.match(t[8]?.target ?? '', /^`pnpm start --workers 2` >= `--workers 1`/);
  assert.match(t[13]?.target ?? '', /PyTorch/);
});

test('protocol targets: judged unrounded; a shortfall never prints as the threshold', () => {
  // 69.99% of raw: Redis MB/s = 0.6999 x raw. Serial 3.004 ms: rounded up to 3.01, not down to 3.00.
  const p = {
    ...point(1, 128, 8000, 0.9, true),
    raw_mb_per_s: 700,
    redis_mb_per_s: 0.6999 * 700,
    serial_ms_median: 3.004,
  };
  const r = { ...RESULTS, scaling: { ...SCALING, protocol: [p] } };
  const share = only(r, 'Protocol: bytes');
  assert.equal(share.met, false);
  assert.match(share.measured, /W=1: 69\.9% \(490 of 700 MB\/s\)/);
  // The bound's step is 90% of the 16 ms: 14.4 ms of transfers, no compute, 1.6 ms beyond.
  assert.match(share.limit, /W=1: step 16\.0 ms = transfers at raw 14\.4 \+ compute 0\.0 \+ 1\.6 ms beyond the bound/);
  assert.match(
    share.limit,
    /CPU per step \(share of the mean step of 16\.0 ms\): Redis 10\.0 ms \(63%\), coordinator 5\.0 ms \(31%\), emulated workers 8\.0 ms \(50%\); together 72% of 2 cores/,
  );
  const serial = only(r, 'Protocol: coordinator serial');
  assert.equal(serial.met, false);
  assert.match(serial.measured, /W=1: 3\.01 ms/);
  // Exactly at the thresholds: met.
  const at = { ...p, redis_mb_per_s: 0.7 * 700, serial_ms_median: 3 };
  const r2 = { ...RESULTS, scaling: { ...SCALING, protocol: [at] } };
  assert.equal(only(r2, 'Protocol: bytes').met, true);
  assert.equal(only(r2, 'Protocol: coordinator serial').met, true);
});

test('weak-scaling targets: every point within 80% of its bound, the worst one explained', () => {
  // One Redis, 128/worker: W=4 is at 70% of its bound.
  const one = only(RESULTS, 'Weak scaling, one Redis, 128');
  assert.equal(one.met, false);
  assert.match(one.measured, /^2 of 3 points met; lowest 70\.0% of bound at W=4/);
  // 512 samples at 9,000/s: 56.9 ms; the bound's step 70% of it = 39.8 ms, 6.4 of them compute; 17.1 ms beyond.
  assert.match(one.limit, /^W=4: step 56\.9 ms = transfers at raw 33\.4 \+ compute 6\.4 \+ 17\.1 ms beyond the bound/);
  assert.match(one.limit, /Redis 10\.0 ms \(18%\), coordinator 5\.0 ms \(9%\), emulated workers 8\.0 ms \(14%\)/);
  assert.equal(only(RESULTS, 'Weak scaling, Redis Cluster, 128').met, true);
  // 0.7999 is not 0.8.
  const r = { ...RESULTS, scaling: { ...SCALING, cluster: [point(1, 128, 4000, 0.7999)] } };
  const c = only(r, 'Weak scaling, Redis Cluster, 128');
  assert.equal(c.met, false);
  assert.match(c.measured, /79\.9%/);
});

test('saturation targets: the Cluster above one Redis at the best W of each', () => {
  const s128 = only(RESULTS, "Redis Cluster saturation (max samples/s over W) above one Redis's, 128");
  assert.equal(s128.met, true);
  assert.match(s128.measured, /^Cluster 12,000 \(W=4\) vs one Redis 9,000 \(W=4\): 1\.333x/);
  const s1024 = only(RESULTS, "Redis Cluster saturation (max samples/s over W) above one Redis's, 1024");
  assert.equal(s1024.met, false);
  // One Redis's best: W=2, 2,048 samples at 25,000/s = 81.9 ms a step, Redis 10 ms of CPU (12%), coordinator 5 (6%).
  assert.match(s1024.limit, /^at one Redis's best point Redis was busy 12% of the step and the coordinator 6%/);
  assert.match(s1024.limit, /raw SET\+GET at those points: Cluster [0-9,]+, one Redis [0-9,]+ MB\/s$/);
});

test('scaling targets when the section did not run or the Cluster failed', () => {
  const r = { ...RESULTS, scaling: { error: 'not run (--sections)' } };
  const rows = targets(r).slice(0, 8);
  assert.ok(rows.every((t) => t.met === undefined && t.limit === 'not run (--sections)'));
  const noCluster = { ...SCALING, cluster: [], cluster_1024: [], errors: { cluster: 'no Redis Cluster: boom' } };
  const c = only({ ...RESULTS, scaling: noCluster }, 'Weak scaling, Redis Cluster, 128');
  assert.equal(c.met, undefined);
  assert.match(c.limit, /cluster: no Redis Cluster: boom/);
});

test('cluster targets: per-round ratios against 1.0, 1.2 and 0.75, and the hashes', () => {
  const [w128, w1024, base, hash1024, hash128] = named(RESULTS, '').slice(8, 13);
  // 5050/5000 = 1.01, 5200/5100 = 1.0196: median 1.0148.
  assert.equal(w128?.met, true);
  assert.match(w128?.measured ?? '', /^1\.014x, median of 2 round\(s\)/);
  // 12,000 / 10,000 = 1.2 exactly: met.
  assert.equal(w1024?.met, true);
  assert.match(w1024?.measured ?? '', /^1\.200x/);
  assert.equal(base?.met, true);
  assert.match(base?.measured ?? '', /^0\.800x/);
  assert.equal(hash1024?.met, true);
  assert.match(
    hash1024?.measured ?? '',
    /^1 distinct: abababababab over 3 configuration\(s\) x 2 round\(s\) and the baseline CLI/,
  );
  assert.equal(hash128?.met, true);

  // 11,999 / 10,000 = 1.1999: not met, and it prints as 1.199x, not 1.200x.
  const short = cluster(clusterRounds({ ...RATES, b1024_w2: [11_999, 11_999] }));
  const [, w, , ,] = named({ ...RESULTS, cluster: short }, '').slice(8, 13);
  assert.equal(w?.met, false);
  assert.match(w?.measured ?? '', /^1\.199x/);
  // A 2-worker run that ended elsewhere.
  const rounds = clusterRounds(RATES);
  const other = rounds.map((r, i) => ({
    ...r,
    runs: r.runs.map((x) => (i === 1 && x.config === 'b1024_w2' && x.ok ? { ...x, paramsSha256: 'cd'.repeat(32) } : x)),
  }));
  const [, , , h] = named({ ...RESULTS, cluster: cluster(other) }, '').slice(8, 13);
  assert.equal(h?.met, false);
  assert.match(h?.measured ?? '', /^2 distinct/);
});

test('single-process targets: exactly at the threshold is met; a quick run is shown but not judged', () => {
  const atThreshold = { ...RESULTS, single: single([6000, 6000, 6000], [6000, 6000, 6000], [6000, 6000, 6000], true) };
  const [vsTorch, vsK1] = singleRows(atThreshold);
  assert.equal(vsTorch?.met, true);
  assert.match(vsTorch?.measured ?? '', /^1\.00x/);
  assert.equal(vsK1?.met, true);
  const quick = { ...RESULTS, single: single([6000], [3000], [6000], false) };
  const [qTorch, qK1] = singleRows(quick);
  assert.equal(qTorch?.met, undefined);
  assert.equal(qK1?.met, undefined);
  assert.match(qTorch?.limit ?? '', /not steady state, not judged/);
  assert.match(renderMarkdown(quick, 'x.png'), /\*\*Quick run: not steady state\.\*\*/);
});

test('single-process targets: 0.996 is not met and does not print as 1.00x', () => {
  const [vsTorch, vsK1] = singleRows(RESULTS);
  assert.equal(vsTorch?.met, false);
  assert.match(vsTorch?.measured ?? '', /^0\.99x, median of 3 round\(s\) \(range 0\.99-0\.99x\)/);
  assert.match(vsTorch?.limit ?? '', /20\.1 ms in gradq \(engine native-cpu\) vs 20\.0 ms in PyTorch/);
  assert.equal(vsK1?.met, true);
});

test('single-process targets warn when a round started on a busy machine', () => {
  const s = single([6000, 6000, 6000], [6000, 6000, 6000], [6000, 6000, 6000], true);
  const busy: SingleResults = { ...s, rounds: s.rounds.map((r, i) => ({ ...r, loadAverage: [i === 1 ? 2.5 : 0.4] })) };
  const [vsTorch] = singleRows({ ...RESULTS, single: busy });
  assert.equal(vsTorch?.met, true);
  assert.match(vsTorch?.limit ?? '', /contended: 1 of 3 round\(s\) started at a 1-min load average >= 2/);
  assert.match(renderMarkdown({ ...RESULTS, single: busy }, 'x.png'), /\*\*Warning: contended/);
});

test('the report names the machine, the quick run and every section, with NOT met where a target failed', () => {
  const md = renderMarkdown(RESULTS, 'docs/bench-scaling.png');
  for (const heading of [
    '## Targets',
    '## 1.',
    '### 1b.',
    '## 2.',
    '### 2a.',
    '### 2b.',
    '## 3.',
    '## 4.',
    '## Sizes used',
  ])
    assert.ok(md.includes(heading), heading);
  assert.match(md, /quick smoke run/);
  assert.match(md, /Test CPU, 2 cores/);
  assert.match(md, /\| tensorflow \| did not load \|/);
  assert.match(md, /\*\*NOT met\*\*/);
  assert.match(md, /!\[samples\/s against workers, each curve beside its bound\]\(docs\/bench-scaling\.png\)/);
  // The definition of the protocol's throughput, spelled out.
  assert.match(md, /bytes moved through Redis per second by the whole step protocol/);
  // A weak-scaling row: W=4 at 70% of its bound is NOT met.
  assert.match(md, /\| 4 \| 512 \| 9,000 \| 12,857 \| 70\.0% \| NOT met \|/);
  // Cluster: medians, per-round values, and the hash.
  assert.match(
    md,
    /\| pnpm start --workers 2 --batch-size 1024 \| 12,000 \| 12,000 - 12,000 \| 12,000, 12,000 \| `abababababababab` \|/,
  );
  // Encodings: ratio to f32 and bytes per job; a failed run says why.
  assert.match(md, /\| f16 \| 0\.020100 \| 1\.0050 \| 1,540,168 \|/);
  assert.match(md, /\| bf16 \| failed: exit 1: boom \|/);
});

test('the report still renders when every section failed', () => {
  const error = { error: 'boom' };
  const md = renderMarkdown({ ...RESULTS, single: error, scaling: error, cluster: error, encodings: error }, 'x.png');
  assert.match(md, /## 2\. Scaling[^\n]*\n\nNot measured: boom/);
  assert.match(md, /## 3\.[^\n]*\n\nNot measured: boom/);
  assert.match(md, /## 4\. Gradient encodings\n\nNot measured: boom/);
});
