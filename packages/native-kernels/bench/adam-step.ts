// The coordinator's optimizer step on flat arrays: average K shard gradients, then one Adam step (770,084 params).
//   node --import tsx bench/adam-step.ts [shards]
import { FlatAdam, makeLayout, weightedAverage } from '@gradq/model';
import { nativeAdamUpdate, nativeWeightedAverage } from '../src/index';

const size = 770_084;
const shards = Number(process.argv[2] ?? 4);
const layout = makeLayout([{ name: 'w', shape: [size] }]);
const grads = Array.from({ length: shards }, (_, k) => new Float32Array(size).map((_, i) => Math.sin(i + k) * 1e-2));
const counts = grads.map(() => 128 / shards);
const average = nativeWeightedAverage();

function bench(label: string, step: () => void): void {
  for (let i = 0; i < 10; i++) step();
  const runs: number[] = [];
  for (let r = 0; r < 10; r++) {
    const t = performance.now();
    for (let i = 0; i < 10; i++) step();
    runs.push((performance.now() - t) / 10);
  }
  runs.sort((a, b) => a - b);
  console.log(`${label}: median ${runs[5]?.toFixed(2)} ms, best ${runs[0]?.toFixed(2)} ms`);
}

for (const native of [false, true]) {
  const adam = new FlatAdam(layout, native ? { update: nativeAdamUpdate() } : {});
  const params = new Float32Array(size);
  const out = new Float32Array(size);
  const parts = grads.map((grad, i) => ({ grad, count: counts[i] as number }));
  const name = native ? 'native' : 'js';
  bench(`${name} Adam only`, () => adam.step(params, grads[0] as Float32Array));
  bench(`${name} average of ${shards} + Adam`, () => {
    if (native) average(grads, counts, out);
    else weightedAverage(parts, out);
    adam.step(params, out);
  });
}
