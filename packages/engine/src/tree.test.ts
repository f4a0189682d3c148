import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WIRE_ENCODINGS, type WireEncoding } from '@gradq/model';
import { alignedBlocks, isAlignedBlock, type LeafBlock, reduceLeaves, roundLeaf, TreeReducer } from './tree';

/** A small seeded generator (mulberry32): the property tests are reproducible. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Leaf gradients with wildly different magnitudes, so that the association of the sums shows in the bits. */
function leafGrads(leaves: number, length: number, seed: number, encoding: WireEncoding): Float32Array[] {
  const random = rng(seed);
  return Array.from({ length: leaves }, () => {
    const g = Float32Array.from({ length }, () => (random() - 0.5) * 10 ** Math.floor(random() * 8 - 4));
    roundLeaf(g, encoding);
    return g;
  });
}

/** Every way to cut [0, K) into contiguous aligned blocks. */
function allGroupings(leaves: number): LeafBlock[][] {
  const out: LeafBlock[][] = [];
  const walk = (first: number, acc: LeafBlock[]) => {
    if (first === leaves) return void out.push(acc);
    for (let end = first + 1; end <= leaves; end++)
      if (isAlignedBlock(first, end, leaves)) walk(end, [...acc, { first, end }]);
  };
  walk(0, []);
  return out;
}

/** What the workers and the coordinator do: each block reduced on its own, the blocks combined in some order. */
function reduceGrouped(
  grads: readonly Float32Array[],
  blocks: readonly LeafBlock[],
  encoding: WireEncoding,
  arrival: readonly number[],
): Float32Array {
  const reducer = new TreeReducer(grads.length, encoding);
  for (const i of arrival) {
    const block = blocks[i] as LeafBlock;
    const copies = grads.slice(block.first, block.end).map((g) => g.slice());
    reducer.add(block, reduceLeaves(copies, encoding));
  }
  return reducer.root();
}

function bitsOf(values: Float32Array): Buffer {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
}

describe('the leaf tree', () => {
  it('gives identical bits for every grouping of the leaves into aligned blocks, in any arrival order', () => {
    for (const encoding of WIRE_ENCODINGS) {
      for (const leaves of [1, 2, 3, 4, 7, 8, 16]) {
        const grads = leafGrads(leaves, 257, leaves * 31 + encoding.length, encoding);
        const reference = bitsOf(
          reduceLeaves(
            grads.map((g) => g.slice()),
            encoding,
          ),
        );
        const groupings = allGroupings(leaves);
        const random = rng(leaves);
        // K = 16 has thousands of groupings: 200 random ones, plus every one for the smaller trees.
        const picked =
          groupings.length <= 200
            ? groupings
            : Array.from({ length: 200 }, () => groupings[Math.floor(random() * groupings.length)] as LeafBlock[]);
        for (const blocks of picked) {
          const arrival = blocks.map((_, i) => i).sort(() => random() - 0.5);
          const root = reduceGrouped(grads, blocks, encoding, arrival);
          assert.ok(
            bitsOf(root).equals(reference),
            `${encoding}, K=${leaves}: ${blocks.map((b) => `[${b.first},${b.end})`).join(' ')} differs`,
          );
        }
      }
    }
  });

  it('fixes an association that matters (so the test above could fail)', () => {
    // float32 spacing at 1e8 is 8: the +1s vanish or survive depending on what they are added to first.
    const values = [1e8, 1, -1e8, 1];
    const tree = reduceLeaves(
      values.map((v) => new Float32Array([v])),
      'f32',
    )[0];
    let inOrder = 0;
    for (const v of values) inOrder = Math.fround(inOrder + v);
    assert.equal(tree, 0); // (1e8 + 1) + (-1e8 + 1)
    assert.equal(inOrder, 1); // ((1e8 + 1) - 1e8) + 1
  });

  it('splits K leaves into at most J aligned blocks, as even as the tree allows', () => {
    assert.deepEqual(alignedBlocks(4, 1), [{ first: 0, end: 4 }]);
    assert.deepEqual(alignedBlocks(4, 2), [
      { first: 0, end: 2 },
      { first: 2, end: 4 },
    ]);
    assert.deepEqual(alignedBlocks(4, 3), [
      { first: 0, end: 1 },
      { first: 1, end: 2 },
      { first: 2, end: 4 },
    ]);
    assert.deepEqual(alignedBlocks(3, 2), [
      { first: 0, end: 2 },
      { first: 2, end: 3 },
    ]);
    assert.equal(alignedBlocks(4, 9).length, 4);
    for (let leaves = 1; leaves <= 33; leaves++) {
      for (let jobs = 1; jobs <= leaves + 2; jobs++) {
        const blocks = alignedBlocks(leaves, jobs);
        assert.equal(blocks.length, Math.min(jobs, leaves));
        let next = 0;
        for (const b of blocks) {
          assert.equal(b.first, next);
          assert.ok(isAlignedBlock(b.first, b.end, leaves), `K=${leaves} J=${jobs}: [${b.first},${b.end})`);
          next = b.end;
        }
        assert.equal(next, leaves);
      }
    }
  });

  it('knows aligned blocks from the others', () => {
    assert.ok(isAlignedBlock(0, 3, 3));
    assert.ok(!isAlignedBlock(0, 3, 4));
    assert.ok(!isAlignedBlock(1, 3, 4));
    assert.ok(isAlignedBlock(2, 4, 4));
    assert.ok(isAlignedBlock(4, 7, 7));
    assert.ok(!isAlignedBlock(2, 5, 8));
    assert.ok(!isAlignedBlock(0, 0, 4));
    assert.ok(!isAlignedBlock(3, 5, 4));
  });

  it('refuses a block twice, a misaligned block, and a root before every leaf', () => {
    const reducer = new TreeReducer(4, 'f32');
    reducer.add({ first: 0, end: 2 }, new Float32Array(3));
    assert.throws(() => reducer.root(), /2 of 4 leaves/);
    assert.throws(() => reducer.add({ first: 1, end: 3 }, new Float32Array(3)), /not an aligned block/);
    assert.throws(() => reducer.add({ first: 0, end: 4 }, new Float32Array(3)), /already added/);
  });
});
