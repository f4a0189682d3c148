/**
 * How fast the native engine computes the seed model's 128-sample step: as one leaf (K=1) and as four leaves of 32
 * (K=4, the leaf tree's three merges included). Not a test; prints samples/s.
 *   node --import tsx packages/engine/bench/engine-speed.ts [steps=400] [repeats=3]
 */
import { readFile } from 'node:fs/promises';
import { DEFAULT_LAYER_SIZES, MNIST_FILES, parseImages } from '@gradq/model';
import { loadAddon } from '@gradq/native-kernels';
import { findMnistDir } from '@gradq/testing';
import { NativeEngine } from '../src/native-engine';
import type { Leaf } from '../src/types';

const STEP = 128;
const WARM_UP = 50;
const steps = Number(process.argv[2] ?? 400);
const repeats = Number(process.argv[3] ?? 3);

/** Real MNIST where @gradq/testing finds it (ReLU sparsity is realistic), else random bytes. */
async function trainingSet(): Promise<Uint8Array> {
  const dir = findMnistDir();
  if (dir !== undefined) {
    const file = `${dir}/${MNIST_FILES.trainImages.name}`;
    return parseImages(new Uint8Array(await readFile(file)), file).pixels;
  }
  return Uint8Array.from({ length: 60000 * 784 }, () => Math.floor(Math.random() * 256));
}

const shape = { layerSizes: DEFAULT_LAYER_SIZES, outputActivation: 'relu' as const };
const engine = new NativeEngine(shape);
const pixels = await trainingSet();
const samples = pixels.length / 784;
engine.setTrainingSet(pixels, 784);
// Glorot-like weights, small biases.
const params = new Float32Array(engine.paramCount).map(() => (Math.random() - 0.5) * 0.1);
const order = Uint32Array.from({ length: samples }, (_, i) => i);
for (let i = samples - 1; i > 0; i--) {
  const j = Math.floor(Math.random() * (i + 1));
  [order[i], order[j]] = [order[j] as number, order[i] as number];
}

function leavesOf(step: number, k: number): Leaf[] {
  const first = (step * STEP) % (samples - STEP);
  return Array.from({ length: k }, (_, i) => ({ start: first + (i * STEP) / k, end: first + ((i + 1) * STEP) / k }));
}

/** Steps of K=1 and K=4 interleaved in chunks, so that both see the same machine load (others' tests, here). */
const CHUNK = 50;
function measure(): { one: number; four: number } {
  let step = 0;
  const run = (k: number, count: number) => {
    const t0 = process.hrtime.bigint();
    for (let end = step + count; step < end; step++)
      engine.computeBlock({ version: 0, params, order, leaves: leavesOf(step, k), stepSamples: STEP, rounding: 'f32' });
    return Number(process.hrtime.bigint() - t0) / 1e9;
  };
  run(1, WARM_UP);
  run(4, WARM_UP);
  let one = 0;
  let four = 0;
  for (let done = 0; done < steps; done += CHUNK) {
    one += run(1, CHUNK);
    four += run(4, CHUNK);
  }
  const total = Math.ceil(steps / CHUNK) * CHUNK * STEP;
  return { one: total / one, four: total / four };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const one: number[] = [];
const four: number[] = [];
for (let r = 0; r < repeats; r++) {
  const { one: a, four: b } = measure();
  one.push(a);
  four.push(b);
}
const show = (xs: number[]) => `${xs.map((x) => Math.round(x)).join(', ')} samples/s, median ${Math.round(median(xs))}`;
console.log(`GEMM kernel ${loadAddon().gemmKernel()}, ${engine.name}`);
console.log(`K=1 (one leaf of 128):  ${show(one)}`);
console.log(`K=4 (four leaves of 32): ${show(four)}`);
console.log(`K=4 / K=1: ${(median(four) / median(one)).toFixed(3)} (${steps} steps each after ${WARM_UP} warm-up)`);
