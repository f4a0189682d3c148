// The coordinator's optimizer step on flat arrays: one Adam step over 770,084 params, JS and native.
//   node --import tsx bench/adam-step.ts
import { FlatAdam, makeLayout } from '@gradq/model';
import { nativeAdamUpdate } from '../src/index';

const size = 770_084;
const layout = makeLayout([{ name: 'w', shape: [size] }]);
const grad = new Float32Array(size).map((_, i) => Math.sin(i) * 1e-2);

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
  bench(`${native ? 'native' : 'js'} Adam`, () => adam.step(params, grad));
}
