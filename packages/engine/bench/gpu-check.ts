/**
 * The CUDA engine on a real GPU (scripts/gpu-check.sh runs this; not a test, it needs an NVIDIA GPU):
 *   1. correctness against the native CPU engine on the seed model: every layout entry of every leaf within 1e-4 of
 *      its scale (cuBLAS sums in another order: expect ~1e-6), losses within 1e-5, for f32, f16 and bf16 blocks;
 *      a block bit-identical to its leaves computed alone and merged by tree.ts (worker counts keep not changing a
 *      run); the same block twice, the same bits; the worker's own self-test (chooseWorkerEngine).
 *   2. samples/s for blocks of 32..4,096 samples with parameters resident (one version, as a worker between
 *      publishes), K = 1 and K = 4 leaves, TF32 on and off, and the native CPU engine (1 thread) beside.
 * Writes the table as markdown to stdout and to $GPU_CHECK_OUT (default gpu-check.md). Exit 1 if any check fails.
 *   node --import tsx packages/engine/bench/gpu-check.ts [seconds per figure = 1.5]
 */
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { selectBackend } from '@gradq/backend';
import { DEFAULT_LAYER_SIZES, MNIST_FILES, parseImages, type WireEncoding } from '@gradq/model';
import { findMnistDir } from '@gradq/testing';
import { CudaEngine } from '../src/cuda-engine';
import { NativeEngine } from '../src/native-engine';
import { reduceLeaves } from '../src/tree';
import type { BlockGradient, BlockTask, Engine, Leaf } from '../src/types';
import { chooseWorkerEngine } from '../src/worker-engine';

const SECONDS = Number(process.argv[2] ?? 1.5);
const SIZES = [32, 64, 128, 256, 512, 1024, 2048, 4096];
const shape = { layerSizes: DEFAULT_LAYER_SIZES, outputActivation: 'relu' as const };
const failures: string[] = [];
const say = (line: string) => process.stderr.write(`gpu-check: ${line}\n`);

async function trainingSet(): Promise<{ pixels: Uint8Array; what: string }> {
  const dir = findMnistDir();
  if (dir !== undefined) {
    const file = `${dir}/${MNIST_FILES.trainImages.name}`;
    return { pixels: parseImages(new Uint8Array(await readFile(file)), file).pixels, what: 'MNIST' };
  }
  let s = 1;
  const pixels = Uint8Array.from({ length: 60000 * 784 }, () => {
    s = (s * 1103515245 + 12345) >>> 0;
    return s >>> 24;
  });
  return { pixels, what: 'random pixels (set MNIST_DIR for real digits)' };
}

function leavesOf(start: number, total: number, k: number): Leaf[] {
  const leaves: Leaf[] = [];
  for (let i = 0; i < k; i++) {
    leaves.push({ start: start + Math.floor((i * total) / k), end: start + Math.floor(((i + 1) * total) / k) });
  }
  return leaves;
}

function check(ok: boolean, what: string): void {
  say(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
}

function relativeError(got: Float32Array, want: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs((got[i] as number) - (want[i] as number)));
    scale = Math.max(scale, Math.abs(want[i] as number));
  }
  return scale > 0 ? diff / scale : diff;
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

await selectBackend({ request: 'cpu-native', log: say });
const { pixels, what } = await trainingSet();
const order = Uint32Array.from({ length: pixels.length / 784 }, (_, i) => (i * 7919) % (pixels.length / 784));
// The parameters after a little training would be best; the model's scale of initial weights is close enough.
let seed = 7;
const paramCount = new NativeEngine(shape).paramCount;
const params = Float32Array.from({ length: paramCount }, () => {
  seed = (seed * 1664525 + 1013904223) >>> 0;
  return (seed / 2 ** 32 - 0.5) * 0.1;
});

const cuda = new CudaEngine(shape);
const native = new NativeEngine(shape);
for (const e of [cuda, native]) e.setTrainingSet(pixels, 784);
const d = cuda.device;
say(`${d.name}, compute ${d.computeCapability}, driver CUDA ${d.driverCuda}, ${d.cublas}; ${what}`);

// ---- 1. correctness
const task = (leaves: Leaf[], rounding: WireEncoding, stepSamples: number): BlockTask => ({
  version: 1,
  params,
  order,
  leaves,
  stepSamples,
  rounding,
});
const run = (e: Engine, t: BlockTask) => e.computeBlock(t) as BlockGradient;
for (const rounding of ['f32', 'f16', 'bf16'] satisfies WireEncoding[]) {
  const tolerance = { f32: 1e-4, f16: 2e-3, bf16: 1e-2 }[rounding];
  for (const [samples, k] of [
    [128, 4],
    [1000, 7],
  ] as const) {
    const t = task(leavesOf(256, samples, k), rounding, samples);
    const got = run(cuda, t);
    const want = run(native, t);
    const error = relativeError(got.grad, want.grad);
    const lossError = Math.max(...got.losses.map((l, i) => Math.abs(l - (want.losses[i] as number)) / l));
    check(
      error <= tolerance,
      `${rounding} block of ${samples} in ${k} leaves: gradient relative error ${error.toExponential(2)}`,
    );
    check(
      lossError <= 1e-5,
      `${rounding} block of ${samples} in ${k} leaves: loss relative error ${lossError.toExponential(2)}`,
    );
    const alone = t.leaves.map((leaf) => run(cuda, { ...t, leaves: [leaf] }).grad.slice());
    check(
      sameBits(reduceLeaves(alone, rounding), got.grad),
      `${rounding}: the block has the bits of its leaves merged by tree.ts`,
    );
    check(sameBits(run(cuda, t).grad, got.grad), `${rounding}: the same block twice, the same bits`);
  }
}
const worker = await chooseWorkerEngine({ request: 'cuda', backend: 'cpu-native' });
say(`worker self-test: ${worker.description}`);

// ---- 2. speed
function samplesPerSecond(e: Engine, samples: number, k: number): number {
  const t = task(leavesOf(0, samples, k), 'f32', samples);
  const out = new Float32Array(paramCount);
  for (let i = 0; i < 3; i++) run(e, { ...t, out });
  let done = 0;
  const started = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < SECONDS) {
    run(e, { ...t, out });
    done += samples;
    elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  }
  return done / elapsed;
}
const tf32 = new CudaEngine(shape, { env: { ...process.env, GRADQ_CUDA_TF32: '1' } });
tf32.setTrainingSet(pixels, 784);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const rows: string[] = [];
for (const samples of SIZES) {
  const c1 = samplesPerSecond(cuda, samples, 1);
  const c4 = samplesPerSecond(cuda, samples, 4);
  const t4 = samplesPerSecond(tf32, samples, 4);
  // The CPU engine at 1 thread gets a shorter look at the big blocks: it is the reference point, not the subject.
  const n4 = samples <= 1024 ? samplesPerSecond(native, samples, 4) : Number.NaN;
  rows.push(
    `| ${fmt(samples)} | ${fmt(c1)} | ${fmt(c4)} | ${fmt(t4)} | ${Number.isNaN(n4) ? '-' : fmt(n4)} | ${Number.isNaN(n4) ? '-' : `${(c4 / n4).toFixed(1)}x`} |`,
  );
  say(rows.at(-1) as string);
}
const table = [
  `GPU: ${d.name} (compute ${d.computeCapability}), driver CUDA ${d.driverCuda}, ${d.cublas}; ${new Date().toISOString().slice(0, 10)}; seed model 784-392-196-392-784, ${what}; parameters resident (one version), f32 gradients; samples/s over ${SECONDS} s per figure.`,
  '',
  '| samples per block | cuda, K = 1 | cuda, K = 4 | cuda-tf32, K = 4 | native-cpu (1 thread), K = 4 | cuda / native-cpu |',
  '| ---: | ---: | ---: | ---: | ---: | ---: |',
  ...rows,
  '',
  failures.length
    ? `Correctness: FAILED: ${failures.join('; ')}`
    : 'Correctness against the native CPU engine: every check passed.',
].join('\n');
process.stdout.write(`${table}\n`);
writeFileSync(process.env.GPU_CHECK_OUT || 'gpu-check.md', `${table}\n`);
for (const e of [cuda, tf32, native]) e.dispose();
process.exit(failures.length ? 1 : 0);
