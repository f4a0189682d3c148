/**
 * The native engine's bits: a block is reduceLeaves over its leaves' gradients, whatever the grouping, and treeAdd
 * is addRounded; plus the leak check and the argument checks.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WIRE_ENCODINGS, type WireEncoding } from '@gradq/model';
import { loadAddon } from '@gradq/native-kernels';
import { skipWithoutNative } from '@gradq/native-kernels/test-support';
import { NativeEngine, nativeTreeAdd } from './native-engine';
import { EngineTaskError } from './task';
import { assertBits, garbageCollector, leavesOf, random, seededBytes, seededFloats, shuffled } from './test-support';
import type { ModelShape } from './tfjs-engine';
import { addRounded, alignedBlocks, reduceLeaves, TreeReducer } from './tree';
import type { BlockTask, Leaf } from './types';

const skip = skipWithoutNative();
const SMALL: ModelShape = { layerSizes: [20, 9, 6, 9, 20], outputActivation: 'relu' };
const SEED: ModelShape = { layerSizes: [784, 392, 196, 392, 784], outputActivation: 'relu' };

function engineFor(shape: ModelShape, samples: number, seed: number) {
  const engine = new NativeEngine(shape);
  const sampleSize = shape.layerSizes[0] as number;
  engine.setTrainingSet(seededBytes(samples * sampleSize, seed), sampleSize);
  const params = seededFloats(engine.paramCount, seed + 1, 0.3);
  const order = shuffled(samples, seed + 2);
  const task = (leaves: readonly Leaf[], rounding: WireEncoding, stepSamples = 64): BlockTask => ({
    version: 0,
    params,
    order,
    leaves,
    stepSamples,
    rounding,
  });
  return { engine, task };
}

describe('a native block is reduceLeaves over its leaves, bit for bit', { skip }, () => {
  for (const rounding of WIRE_ENCODINGS) {
    test(`${rounding}: blocks of 1 to 8 uneven leaves on a small model`, () => {
      const { engine, task } = engineFor(SMALL, 80, 7);
      const sizes = [3, 1, 7, 2, 5, 4, 9, 6];
      for (let k = 1; k <= sizes.length; k++) {
        const leaves = leavesOf(2, sizes.slice(0, k));
        const singles = leaves.map((leaf) => engine.computeBlock(task([leaf], rounding)));
        const block = engine.computeBlock(task(leaves, rounding));
        const expected = reduceLeaves(
          singles.map((s) => s.grad.slice()),
          rounding,
        );
        assertBits(block.grad, expected, `${k} leaves`);
        assert.deepEqual(
          block.losses,
          singles.map((s) => s.losses[0]),
        );
      }
      engine.dispose();
    });

    test(`${rounding}: four leaves of 32 on the seed model`, () => {
      const { engine, task } = engineFor(SEED, 160, 8);
      const leaves = leavesOf(16, [32, 32, 32, 32]);
      const singles = leaves.map((leaf) => engine.computeBlock(task([leaf], rounding, 128)).grad);
      assertBits(engine.computeBlock(task(leaves, rounding, 128)).grad, reduceLeaves(singles, rounding), 'block');
      engine.dispose();
    });
  }
});

describe("a leaf's gradient does not depend on the block it is computed in", { skip }, () => {
  for (const rounding of WIRE_ENCODINGS) {
    test(`${rounding}: every split of 7 leaves into aligned blocks gives the same root`, () => {
      const { engine, task } = engineFor(SMALL, 80, 9);
      const leaves = leavesOf(0, [4, 4, 4, 4, 4, 4, 3]);
      let root: Float32Array | undefined;
      for (let jobs = 1; jobs <= leaves.length; jobs++) {
        const reducer = new TreeReducer(leaves.length, rounding);
        // Blocks arrive in reverse, as jobs may finish in any order.
        for (const block of alignedBlocks(leaves.length, jobs).reverse())
          reducer.add(block, engine.computeBlock(task(leaves.slice(block.first, block.end), rounding)).grad);
        if (root) assertBits(reducer.root(), root, `${jobs} jobs`);
        else root = reducer.root();
      }
      engine.dispose();
    });
  }

  test('uneven leaves on the seed model: a block is its leaves computed alone (tile edges, long chains)', () => {
    // 7 and 13 rows: partial row tiles; 400 samples: a weight-gradient chain longer than one k chunk (384), merged
    // into its left neighbour; every second leaf merges inside the product.
    const { engine, task } = engineFor(SEED, 500, 11);
    const leaves = leavesOf(3, [7, 33, 13, 400]);
    const singles = leaves.map((leaf) => engine.computeBlock(task([leaf], 'f32', 453)).grad);
    assertBits(engine.computeBlock(task(leaves, 'f32', 453)).grad, reduceLeaves(singles, 'f32'), 'block');
    engine.dispose();
  });

  test('every GEMM kernel gives the same bits: the widest the CPU has, AVX2+FMA and the portable fmaf', () => {
    const fixture = fileURLToPath(new URL('./fixtures/seed-block-digest.ts', import.meta.url));
    const run = (kernel: string) =>
      JSON.parse(
        execFileSync(process.execPath, ['--import', 'tsx', fixture], {
          env: { ...process.env, GRADQ_GEMM_KERNEL: kernel },
          encoding: 'utf8',
        }),
      ) as { kernel: string; digest: string };
    const widest = run('');
    const avx2 = run('avx2');
    const portable = run('portable');
    assert.equal(portable.kernel, 'portable');
    assert.equal(avx2.digest, widest.digest, `${avx2.kernel} against ${widest.kernel}`);
    assert.equal(portable.digest, widest.digest, `portable against ${widest.kernel}`);
  });

  test('the same samples give the same bits at any position of the order, before or after a larger block', () => {
    const { engine, task } = engineFor(SMALL, 80, 10);
    const alone = engine.computeBlock(task(leavesOf(5, [6]), 'f32')).grad;
    engine.computeBlock(task(leavesOf(0, [40, 30]), 'f32', 70)); // grows the scratch buffers
    assertBits(engine.computeBlock(task(leavesOf(5, [6]), 'f32')).grad, alone, 'after a larger block');
    // The same six samples placed elsewhere in another order.
    const order = (task(leavesOf(0, [1]), 'f32').order as Uint32Array).slice();
    const moved = Uint32Array.from([...order.subarray(40, 50), ...order.subarray(5, 11), ...order.subarray(0, 5)]);
    const elsewhere = engine.computeBlock({ ...task(leavesOf(10, [6]), 'f32'), order: moved }).grad;
    assertBits(elsewhere, alone, 'at position 10 of another order');
    engine.dispose();
  });
});

/** Float32 values that exercise every rounding path: specials, the f16 limits, subnormals, ties, random bits. */
function roundingCases(count: number, seed: number): Float32Array {
  const special = [
    0,
    -0,
    1,
    -1,
    Infinity,
    -Infinity,
    Number.NaN,
    65504,
    65519.99,
    65520,
    -65520,
    65536,
    1e9,
    2 ** -14,
    2 ** -14 * (1 - 2 ** -11),
    2 ** -24,
    2 ** -25,
    2 ** -25 * 1.0001,
    3 * 2 ** -25,
    2 ** -26,
    1e-40,
    -1e-45,
    1 + 2 ** -11,
    1 + 3 * 2 ** -11,
    1 + 2 ** -8,
    1 + 3 * 2 ** -8,
    3.4e38,
    -3.4e38,
  ];
  const values = new Float32Array(count);
  const bits = new Uint32Array(values.buffer);
  const next = random(seed);
  for (let i = 0; i < count; i++) {
    const kind = i % 4;
    if (i < special.length) values[i] = special[i] as number;
    else if (kind === 0)
      bits[i] = Math.floor(next() * 2 ** 32); // any bit pattern, NaNs included
    else if (kind === 1) values[i] = (next() - 0.5) * 2 ** Math.floor(next() * 60 - 40);
    else if (kind === 2)
      bits[i] = (Math.floor(next() * 2 ** 16) << 16) | 0x8000; // bf16 ties
    else bits[i] = (Math.floor(next() * 2 ** 19) << 13) | 0x1000 | (Math.floor(next() * 2) << 31); // f16 ties
  }
  return values;
}

describe('treeAdd is addRounded, bit for bit', { skip }, () => {
  const treeAdd = nativeTreeAdd();
  for (const encoding of WIRE_ENCODINGS) {
    test(`${encoding}: specials, ties, subnormals, overflow and random bit patterns`, () => {
      assert.ok(treeAdd, 'the addon is built');
      const left = roundingCases(1 << 18, 21);
      const right = roundingCases(1 << 18, 22).reverse();
      const zeros = new Float32Array(left.length).fill(-0); // x + -0 is x: round(x) alone
      for (const [a, b] of [
        [left, right],
        [left, zeros],
        [right, zeros],
      ] as const) {
        const native = a.slice();
        const js = a.slice();
        treeAdd(native, b, encoding);
        addRounded(js, b, encoding);
        assertBits(native, js, encoding);
      }
    });
  }

  test('TreeReducer with the native add gives the JS root', () => {
    const treeAdd = nativeTreeAdd();
    assert.ok(treeAdd);
    const leaves = Array.from({ length: 6 }, (_, i) => seededFloats(1000, 30 + i, 10 ** (i - 3)));
    for (const encoding of WIRE_ENCODINGS) {
      const js = new TreeReducer(6, encoding);
      const native = new TreeReducer(6, encoding, treeAdd);
      for (const block of alignedBlocks(6, 6)) {
        js.add(block, (leaves[block.first] as Float32Array).slice());
        native.add(block, (leaves[block.first] as Float32Array).slice());
      }
      assertBits(native.root(), js.root(), encoding);
    }
  });
});

describe('native engine memory', { skip }, () => {
  const MB = 2 ** 20;

  test('once warm, engineCompute allocates nothing: 1,000 calls grow RSS by less than 8 MB', () => {
    // Straight to the addon with reused arrays, so that no JS garbage hides or mimics a native leak. 82,624
    // parameters: one gradient buffer leaked per call would be 330 MB (measured: 315 MB with such a leak, 0.25 MB
    // without). Leaf sizes and roundings vary, so the scratch buffers must serve every shape.
    const addon = loadAddon();
    const handle = addon.engineCreate(Int32Array.from([256, 128, 64, 128, 256]), 1);
    const pixels = seededBytes(200 * 256, 14);
    const params = seededFloats(handle.paramCount, 15, 0.3);
    const order = shuffled(200, 16);
    const grad = new Float32Array(handle.paramCount);
    const losses = new Float64Array(4);
    const leaves = new Int32Array(8);
    const run = (from: number, count: number) => {
      for (let i = from; i < from + count; i++) {
        const start = i % 100;
        const first = 8 + (i % 5);
        leaves.set([start, start + first, start + first, start + first + 8]);
        leaves.set([start + first + 8, start + first + 16, start + first + 16, start + first + 24], 4);
        addon.engineCompute(handle, params, pixels, 256, order, leaves, 64, i % 3, grad, losses);
      }
    };
    run(0, 100);
    const before = process.memoryUsage().rss;
    run(100, 1000);
    const growth = process.memoryUsage().rss - before;
    assert.ok(growth < 8 * MB, `RSS grew ${(growth / MB).toFixed(1)} MB`);
  });

  test('1,000 computeBlock calls after 100 warm-up calls grow RSS by less than 8 MB', () => {
    // Each call returns a fresh gradient (21 KB here) that V8 frees only when it collects: collect every 100 calls,
    // or RSS measures garbage, not leaks.
    const { engine, task } = engineFor({ layerSizes: [64, 32, 16, 32, 64], outputActivation: 'sigmoid' }, 200, 12);
    const gc = garbageCollector();
    const run = (from: number, count: number) => {
      for (let i = from; i < from + count; i++) {
        engine.computeBlock(task(leavesOf(i % 100, [8 + (i % 5), 8, 8, 8]), WIRE_ENCODINGS[i % 3] as WireEncoding));
        if (i % 100 === 99) gc();
      }
    };
    run(0, 100);
    const before = process.memoryUsage().rss;
    run(100, 1000);
    const growth = process.memoryUsage().rss - before;
    assert.ok(growth < 8 * MB, `RSS grew ${(growth / MB).toFixed(1)} MB`);
    engine.dispose();
  });
});

describe('native engine argument checks', { skip }, () => {
  const addon = loadAddon();
  const handle = addon.engineCreate(Int32Array.from([4, 3, 4]), 0);
  const params = new Float32Array(handle.paramCount);
  const pixels = new Uint8Array(4 * 10);
  const order = Uint32Array.from({ length: 10 }, (_, i) => i);
  const leaves = Int32Array.from([0, 2, 2, 5]);
  const grad = new Float32Array(handle.paramCount);
  const losses = new Float64Array(2);
  const args = [handle, params, pixels, 4, order, leaves, 5, 0, grad, losses] as const;
  /** engineCompute with argument `index` replaced. */
  const compute = (index: number, value: unknown) => {
    const a: unknown[] = [...args];
    a[index] = value;
    return () => (addon.engineCompute as (...x: unknown[]) => void)(...a);
  };

  test('the untouched arguments are accepted', () => {
    compute(0, handle)();
  });

  for (const [what, index, value, name, message] of [
    ['a handle not from engineCreate', 0, {}, 'TypeError', /handle must be an engine/],
    ['params of the wrong type', 1, new Float64Array(params.length), 'TypeError', /params must be a Float32Array/],
    ['params of the wrong length', 1, new Float32Array(3), 'RangeError', /params has 3 values, the model has 31/],
    ['pixels of the wrong type', 2, new Int8Array(40), 'TypeError', /pixels must be a Uint8Array/],
    ['another sample size', 3, 5, 'RangeError', /sampleSize must be the model's input size 4/],
    ['a fractional sample size', 3, 4.5, 'RangeError', /sampleSize/],
    ['pixels that are not whole samples', 2, new Uint8Array(41), 'RangeError', /pixels has 41 bytes/],
    ['order of the wrong type', 4, new Int32Array(10), 'TypeError', /order must be a Uint32Array/],
    ['leaves of the wrong type', 5, [0, 2], 'TypeError', /leaves must be an Int32Array/],
    ['an odd number of leaf bounds', 5, Int32Array.from([0, 2, 2]), 'RangeError', /leaves must hold \(start, end\)/],
    ['an empty leaf', 5, Int32Array.from([2, 2, 2, 5]), 'RangeError', /leaves: leaf 0 \[2, 2\) is empty/],
    ['a leaf past the order', 5, Int32Array.from([0, 2, 2, 11]), 'RangeError', /leaf 1 \[2, 11\) is empty or outside/],
    ['leaves with a gap', 5, Int32Array.from([0, 2, 3, 5]), 'RangeError', /leaf 1 starts at 3, not where leaf 0/],
    [
      'an order value past the samples',
      4,
      Uint32Array.from([0, 1, 2, 10, 4, 5, 6, 7, 8, 9]),
      'RangeError',
      /order\[3\] = 10 is not one of the 10 samples/,
    ],
    ['stepSamples below the block', 6, 4, 'RangeError', /stepSamples must be an integer of at least the block's 5/],
    ['an unknown rounding', 7, 3, 'RangeError', /rounding must be 0 \(f32\), 1 \(f16\) or 2 \(bf16\)/],
    ['outGrad of the wrong length', 8, new Float32Array(30), 'RangeError', /outGrad has 30 values/],
    ['outGrad that is params', 8, params, 'RangeError', /outGrad shares memory/],
    ['outLosses of the wrong type', 9, new Float32Array(2), 'TypeError', /outLosses must be a Float64Array/],
    ['outLosses of the wrong length', 9, new Float64Array(1), 'RangeError', /outLosses has 1 values for 2 leaves/],
  ] as const) {
    test(`engineCompute rejects ${what}`, () => {
      assert.throws(compute(index, value), { name, message });
    });
  }

  test('engineCompute rejects a wrong argument count', () => {
    assert.throws(() => (addon.engineCompute as (...x: unknown[]) => void)(handle), {
      name: 'TypeError',
      message: /expected 10 arguments/,
    });
  });

  for (const [what, sizes, activation, message] of [
    ['one layer size', [4], 0, /layerSizes must hold 2 to 65 sizes, got 1/],
    ['a zero layer', [4, 0, 4], 0, /layerSizes\[1\] = 0 is not from 1 to/],
    ['an output unlike the input', [4, 3, 5], 0, /must end with the input size 4/],
    [
      'an unknown output activation',
      [4, 3, 4],
      3,
      /outputActivation must be 0 \(relu\), 1 \(sigmoid\) or 2 \(linear\)/,
    ],
  ] as const) {
    test(`engineCreate rejects ${what}`, () => {
      assert.throws(() => addon.engineCreate(Int32Array.from(sizes), activation), { name: 'RangeError', message });
    });
  }

  test('treeAdd rejects mismatched lengths, unknown roundings and overlapping views', () => {
    const a = new Float32Array(8);
    assert.throws(() => addon.treeAdd(a, new Float32Array(7), 0), {
      name: 'RangeError',
      message: /left has 8 values, right 7/,
    });
    assert.throws(() => addon.treeAdd(a, new Float32Array(8), 5), { name: 'RangeError', message: /rounding must be/ });
    assert.throws(() => addon.treeAdd(a.subarray(0, 4), a.subarray(2, 6), 0), {
      name: 'RangeError',
      message: /overlap/,
    });
    assert.throws(() => addon.treeAdd(new Float64Array(8) as unknown as Float32Array, a, 0), {
      name: 'TypeError',
      message: /left must be a Float32Array/,
    });
  });

  test('NativeEngine checks the task first and refuses use after dispose', () => {
    const { engine, task } = engineFor(SMALL, 20, 13);
    assert.throws(
      () => engine.computeBlock({ ...task(leavesOf(0, [4]), 'f32'), params: new Float32Array(5) }),
      EngineTaskError,
    );
    assert.throws(() => engine.computeBlock(task(leavesOf(18, [4]), 'f32')), {
      name: 'EngineTaskError',
      message: /exceeds/,
    });
    assert.throws(() => engine.setTrainingSet(new Uint8Array(40), 21), {
      name: 'RangeError',
      message: /sampleSize 21/,
    });
    engine.dispose();
    assert.throws(() => engine.computeBlock(task(leavesOf(0, [4]), 'f32')), /disposed/);
  });
});
