/**
 * The real CUDA addon without a GPU: pointed at the fake driver (@gradq/cuda-kernels test/fake-cuda.c: device memory
 * is host memory, cuBLAS is OpenBLAS, and cuLaunchKernel runs kernels.cu compiled as C), it computes blocks that are
 * compared with the native CPU engine leaf by leaf (relative error <= 1e-5 of each layout entry's scale: OpenBLAS's
 * summation order is not the engine's own GEMM's) and with the tfjs reference. What a GPU adds (cuBLAS's own order,
 * exp in double on the device) is scripts/gpu-check.sh's to measure.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { selectBackend } from '@gradq/backend';
import { fakeCudaEnv, skipWithoutCudaAddon } from '@gradq/cuda-kernels/test-support';
import { bindModel, createAutoencoder, OUTPUT_ACTIVATIONS, type WireEncoding } from '@gradq/model';
import { skipWithoutNative } from '@gradq/native-kernels/test-support';
import { CudaEngine } from './cuda-engine';
import { NativeEngine } from './native-engine';
import {
  assertBits,
  leavesOf,
  mnistOrRandom,
  relativeError,
  seededBytes,
  seededFloats,
  shuffled,
} from './test-support';
import { type ModelShape, TfjsEngine } from './tfjs-engine';
import { reduceLeaves } from './tree';
import type { BlockGradient, BlockTask, Engine } from './types';

const skip = skipWithoutCudaAddon() || skipWithoutNative();
/** A 16-bit rounding can land one unit of the format apart where the float32 sums differ in the last bit. */
const TOLERANCE: Record<WireEncoding, number> = { f32: 1e-5, f16: 2e-3, bf16: 1e-2 };
/** Any bytes: the fake driver does not read the image (the nvcc test checks the real one). */
const IMAGE = new Uint8Array([0x7f, 0x45, 0x4c, 0x46]);

function cudaEngine(shape: ModelShape): CudaEngine {
  return new CudaEngine(shape, { env: fakeCudaEnv(), image: IMAGE });
}

function entries(shape: ModelShape) {
  const bound = bindModel(createAutoencoder({ ...shape, seed: 0 }));
  bound.model.dispose();
  return bound.layout.entries;
}

function compare(shape: ModelShape, got: Float32Array, want: Float32Array, tolerance: number, what: string): void {
  for (const entry of entries(shape)) {
    const range = [entry.offset, entry.offset + entry.size] as const;
    const error = relativeError(got.subarray(...range), want.subarray(...range));
    assert.ok(error <= tolerance, `${what} ${entry.name}: relative error ${error}`);
  }
}

interface Setup {
  shape: ModelShape;
  pixels: Uint8Array;
  order: Uint32Array;
  params: Float32Array;
}

function setup(layerSizes: number[], outputActivation: ModelShape['outputActivation'], samples: number): Setup {
  const shape = { layerSizes, outputActivation };
  const size = layerSizes[0] as number;
  const pixels = size === 784 ? mnistOrRandom(samples).pixels : seededBytes(samples * size, layerSizes.length + 3);
  const paramCount = layerSizes.slice(1).reduce((sum, units, l) => sum + (layerSizes[l] as number) * units + units, 0);
  return { shape, pixels, order: shuffled(samples, 7), params: seededFloats(paramCount, 5, 0.2) };
}

/** The engines compared here are synchronous. */
function run(
  engine: Engine,
  s: Setup,
  leaves: BlockTask['leaves'],
  rounding: WireEncoding,
  stepSamples = 0,
): BlockGradient {
  engine.setTrainingSet(s.pixels, s.shape.layerSizes[0] as number);
  const samples = leaves.reduce((sum, l) => sum + l.end - l.start, 0);
  return engine.computeBlock({
    version: 1,
    params: s.params,
    order: s.order,
    leaves,
    stepSamples: stepSamples || samples + 3,
    rounding,
  }) as BlockGradient;
}

describe('cuda engine on the fake driver, against the native CPU engine', { skip }, () => {
  const engines: Engine[] = [];
  after(() => {
    for (const e of engines) e.dispose();
  });
  const both = (shape: ModelShape) => {
    const pair = [cudaEngine(shape), new NativeEngine(shape)] as const;
    engines.push(...pair);
    return pair;
  };

  for (const layerSizes of [
    [12, 7, 5, 12],
    [30, 17, 30],
    [9, 16, 3, 16, 9],
  ]) {
    for (const outputActivation of OUTPUT_ACTIVATIONS) {
      test(`[${layerSizes.join(', ')}] ${outputActivation}: leaves of 1, 5 and 17 samples, one at a time`, () => {
        const s = setup(layerSizes, outputActivation, 64);
        const [cuda, native] = both(s.shape);
        for (const leaf of leavesOf(2, [1, 5, 17])) {
          const got = run(cuda, s, [leaf], 'f32', 40);
          const want = run(native, s, [leaf], 'f32', 40);
          compare(s.shape, got.grad, want.grad, TOLERANCE.f32, `leaf [${leaf.start}, ${leaf.end})`);
          assert.deepEqual(got.counts, want.counts);
          const lossError =
            Math.abs((got.losses[0] as number) - (want.losses[0] as number)) / (want.losses[0] as number);
          assert.ok(lossError <= 1e-6, `loss ${got.losses[0]} vs ${want.losses[0]}`);
        }
      });
    }
  }

  for (const rounding of ['f32', 'f16', 'bf16'] satisfies WireEncoding[]) {
    test(`seed model on ${mnistOrRandom(1).real ? 'MNIST' : 'random pixels'}, a block of 7 leaves, ${rounding}`, () => {
      const s = setup([784, 392, 196, 392, 784], 'relu', 256);
      const [cuda, native] = both(s.shape);
      const leaves = leavesOf(10, [9, 9, 9, 8, 8, 8, 8]);
      const got = run(cuda, s, leaves, rounding, 128);
      const want = run(native, s, leaves, rounding, 128);
      compare(s.shape, got.grad, want.grad, TOLERANCE[rounding], rounding);
      for (const [i, loss] of got.losses.entries())
        assert.ok(Math.abs(loss - (want.losses[i] as number)) <= 1e-6 * (want.losses[i] as number), `leaf ${i} loss`);
    });
  }
});

describe('cuda engine: the leaf tree and residency', { skip }, () => {
  const s = setup([20, 11, 6, 11, 20], 'sigmoid', 96);
  let cuda: CudaEngine;
  before(() => {
    cuda = cudaEngine(s.shape);
    cuda.setTrainingSet(s.pixels, 20);
  });
  after(() => cuda.dispose());

  for (const rounding of ['f32', 'f16', 'bf16'] satisfies WireEncoding[]) {
    test(`a block equals its leaves computed alone and merged by tree.ts, bit for bit (${rounding})`, () => {
      // Every product covers one leaf, so a leaf's bits do not depend on its block, nor the block's on the grouping.
      const leaves = leavesOf(0, [7, 7, 6, 6, 6]);
      const task = (ls: BlockTask['leaves']): BlockTask => ({
        version: 3,
        params: s.params,
        order: s.order,
        leaves: ls,
        stepSamples: 32,
        rounding,
      });
      const block = cuda.computeBlock(task(leaves));
      const alone = leaves.map((leaf) => cuda.computeBlock(task([leaf])));
      assertBits(
        block.grad,
        reduceLeaves(
          alone.map((a) => a.grad),
          rounding,
        ),
        `block of 5 (${rounding})`,
      );
      assert.deepEqual(
        block.losses,
        alone.map((a) => a.losses[0]),
      );
    });
  }

  test('parameters stay on the device while the version and the array stay the same', () => {
    const params = s.params.slice();
    const task = (version: number): BlockTask => ({
      version,
      params,
      order: s.order,
      leaves: leavesOf(0, [8]),
      stepSamples: 8,
      rounding: 'f32',
    });
    const first = cuda.computeBlock(task(10)).grad.slice();
    params.fill(0.01);
    // Same version: the resident copy is used, so the same gradient, although the array changed.
    assertBits(cuda.computeBlock(task(10)).grad, first, 'same version');
    const next = cuda.computeBlock(task(11)).grad;
    assert.notDeepEqual(next, first);
  });

  test('writes into task.out and refuses bad tasks before touching the device', () => {
    const out = new Float32Array(cuda.paramCount);
    const task: BlockTask = {
      version: 1,
      params: s.params,
      order: s.order,
      leaves: leavesOf(4, [3]),
      stepSamples: 3,
      rounding: 'f32',
      out,
    };
    assert.equal(cuda.computeBlock(task).grad, out);
    const outOfRange = Uint32Array.from(s.order);
    outOfRange[5] = 96;
    assert.throws(() => cuda.computeBlock({ ...task, order: outOfRange }), /order\[5\] = 96/);
  });
});

describe('cuda engine against the tfjs reference', { skip }, () => {
  before(async () => {
    await selectBackend({ request: 'cpu-native', log: () => {} });
  });
  test('[30, 17, 30] relu, leaves of 4 and 9', () => {
    const s = setup([30, 17, 30], 'relu', 40);
    const cuda = cudaEngine(s.shape);
    const tfjs = new TfjsEngine(s.shape);
    try {
      for (const leaf of leavesOf(1, [4, 9])) {
        const got = run(cuda, s, [leaf], 'f32', 20);
        const want = run(tfjs, s, [leaf], 'f32', 20);
        compare(s.shape, got.grad, want.grad, TOLERANCE.f32, `leaf [${leaf.start}, ${leaf.end})`);
      }
    } finally {
      cuda.dispose();
      tfjs.dispose();
    }
  });
});

describe('cuda engine without a driver', { skip: skipWithoutCudaAddon() }, () => {
  const shape: ModelShape = { layerSizes: [4, 2, 4], outputActivation: 'relu' };
  test('names the missing driver', () => {
    const env = { GRADQ_CUDA_DRIVER: '/nonexistent/libcuda.so.1' };
    assert.throws(
      () => new CudaEngine(shape, { env, image: IMAGE }),
      (err: Error) =>
        err.name === 'CudaUnavailableError' &&
        /^\/nonexistent\/libcuda\.so\.1 not found: no NVIDIA driver \(dlopen: /.test(err.message),
    );
  });

  test('names missing cuBLAS libraries', () => {
    const env = fakeCudaEnv({ GRADQ_CUBLAS: 'libcublas-missing.so.12' });
    assert.throws(() => new CudaEngine(shape, { env, image: IMAGE }), /cuBLAS not found \(tried libcublas-missing/);
  });

  test('names missing kernels', () => {
    const env = { GRADQ_CUDA_FATBIN: '/nonexistent/gradq_cuda.fatbin' };
    assert.throws(() => new CudaEngine(shape, { env }), /CUDA kernels were not built.*nvcc/);
  });

  test('a bad GRADQ_CUDA_DEVICE or GRADQ_CUDA_TF32 is a configuration error', () => {
    assert.throws(() => new CudaEngine(shape, { env: { GRADQ_CUDA_DEVICE: 'x' } }), { name: 'CudaConfigError' });
    assert.throws(() => new CudaEngine(shape, { env: { GRADQ_CUDA_TF32: 'yes' } }), { name: 'CudaConfigError' });
  });

  test('disposed engines refuse work; creating and disposing many leaks no device memory', () => {
    // The fake driver holds 4,096 live allocations at most: a leak of one per engine would show within the loop.
    for (let i = 0; i < 5000; i++) cudaEngine(shape).dispose();
    const engine = cudaEngine(shape);
    engine.dispose();
    assert.throws(() => engine.setTrainingSet(new Uint8Array(8), 4), /disposed/);
  });
});
