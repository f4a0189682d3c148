/**
 * The leaf tree: how a step's K leaf gradients combine into its gradient, with bits that do not depend on how the
 * leaves were grouped into jobs.
 *
 * The tree is the complete binary tree over leaf indices 0..P-1 (P = K rounded up to a power of two); a node's
 * value is round(left + right), a node with an empty right half (past K) passes its left child up unchanged, and
 * `round` is the run's gradient encoding (none for f32). Floating-point addition is not associative, so the tree
 * fixes the association once. A job computes one *aligned block*: the leaves under one node, [lo, min(lo + s, K))
 * with lo a multiple of s. Whoever computes it, on however many jobs the step was split, the block's value is the
 * same node of the same tree, and so is the root.
 */
import { quantize, type WireEncoding } from '@gradq/model';

/** A block of leaves [first, end). */
export interface LeafBlock {
  readonly first: number;
  readonly end: number;
}

export function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** Is [first, end) the set of leaves under one node of the tree over `leaves` leaves? */
export function isAlignedBlock(first: number, end: number, leaves: number): boolean {
  if (!Number.isInteger(first) || !Number.isInteger(end) || first < 0 || end <= first || end > leaves) return false;
  const size = nextPowerOfTwo(end - first);
  return first % size === 0 && (end - first === size || end === leaves);
}

/**
 * Splits `leaves` leaves into at most `jobs` aligned blocks, as even as the tree allows: starting from the root,
 * the block with the most leaves is split in two until there are `jobs` blocks or every block is one leaf.
 * Deterministic; blocks come back in leaf order.
 */
export function alignedBlocks(leaves: number, jobs: number): LeafBlock[] {
  if (!Number.isInteger(leaves) || leaves < 1) throw new RangeError(`alignedBlocks: ${leaves} leaves`);
  if (!Number.isInteger(jobs) || jobs < 1) throw new RangeError(`alignedBlocks: ${jobs} jobs`);
  // Nodes as (lo, size) of the padded tree; a node's leaves are [lo, min(lo + size, leaves)).
  let nodes: { lo: number; size: number }[] = [{ lo: 0, size: nextPowerOfTwo(leaves) }];
  const count = (n: { lo: number; size: number }) => Math.min(n.lo + n.size, leaves) - n.lo;
  while (nodes.length < jobs) {
    let widest = -1;
    for (let i = 0; i < nodes.length; i++) {
      const node = nodes[i] as { lo: number; size: number };
      if (count(node) > 1 && (widest < 0 || count(node) > count(nodes[widest] as { lo: number; size: number })))
        widest = i;
    }
    if (widest < 0) break;
    const { lo, size } = nodes[widest] as { lo: number; size: number };
    const half = size / 2;
    const split =
      lo + half < leaves
        ? [
            { lo, size: half },
            { lo: lo + half, size: half },
          ]
        : [{ lo, size: half }];
    nodes = [...nodes.slice(0, widest), ...split, ...nodes.slice(widest + 1)];
    // A node whose right half is empty has the same leaves as its left half: splitting it made no new block.
  }
  return nodes.map((n) => ({ first: n.lo, end: Math.min(n.lo + n.size, leaves) }));
}

/** left = round(left + right), in place. */
export function addRounded(left: Float32Array, right: Float32Array, encoding: WireEncoding): void {
  if (left.length !== right.length)
    throw new RangeError(`addRounded: ${left.length} values plus ${right.length} values`);
  // Float32Array stores round-to-nearest of the float64 sum, which equals the float32 sum (53 >= 2 * 24 + 2 bits).
  for (let i = 0; i < left.length; i++) left[i] = (left[i] as number) + (right[i] as number);
  if (encoding !== 'f32') left.set(quantize(left, encoding));
}

/** Rounds a leaf's gradient to the encoding, in place (a leaf is a node too). */
export function roundLeaf(values: Float32Array, encoding: WireEncoding): void {
  if (encoding !== 'f32') values.set(quantize(values, encoding));
}

/**
 * The reference reduction of one block's leaf gradients (already rounded as leaves), in tree order: a binary
 * counter that merges equal-sized neighbours as leaves arrive, then folds what is left from the right. For an
 * aligned block this is exactly its node's value. `leafGrads` are consumed (the first one holds the result).
 */
export function reduceLeaves(leafGrads: readonly Float32Array[], encoding: WireEncoding): Float32Array {
  if (leafGrads.length === 0) throw new RangeError('reduceLeaves: no leaves');
  const stack: { grad: Float32Array; size: number }[] = [];
  for (const grad of leafGrads) {
    let node = { grad, size: 1 };
    for (let top = stack.at(-1); top && top.size === node.size; top = stack.at(-1)) {
      stack.pop();
      addRounded(top.grad, node.grad, encoding);
      node = { grad: top.grad, size: top.size * 2 };
    }
    stack.push(node);
  }
  let acc = (stack.pop() as { grad: Float32Array }).grad;
  for (let below = stack.pop(); below; below = stack.pop()) {
    addRounded(below.grad, acc, encoding);
    acc = below.grad;
  }
  return acc;
}

/**
 * Combines a step's block gradients into its root as they arrive, in any order: a block waits for its sibling
 * node, then the two become their parent. Blocks must be aligned and together cover every leaf exactly once.
 */
export class TreeReducer {
  private readonly size: number;
  /** Nodes waiting for their sibling, by `lo:size`. */
  private readonly waiting = new Map<string, Float32Array>();
  private rootValue: Float32Array | undefined;
  private covered = 0;

  constructor(
    readonly leaves: number,
    private readonly encoding: WireEncoding,
    /** Native `left = round(left + right)`; default the JS one (same bits). */
    private readonly addFn: (left: Float32Array, right: Float32Array, encoding: WireEncoding) => void = addRounded,
  ) {
    this.size = nextPowerOfTwo(leaves);
  }

  /** Adds block [first, end)'s gradient; the reducer may keep and overwrite `grad`. */
  add(block: LeafBlock, grad: Float32Array): void {
    const { first, end } = block;
    if (!isAlignedBlock(first, end, this.leaves))
      throw new RangeError(`TreeReducer: [${first}, ${end}) is not an aligned block of ${this.leaves} leaves`);
    this.covered += end - first;
    if (this.covered > this.leaves) throw new RangeError(`TreeReducer: leaves [${first}, ${end}) were already added`);
    let lo = first;
    let size = nextPowerOfTwo(end - first);
    let value = grad;
    while (size < this.size) {
      const isLeft = lo % (2 * size) === 0;
      const siblingLo = isLeft ? lo + size : lo - size;
      if (siblingLo >= this.leaves) {
        // The right half is empty: the parent is this node unchanged.
      } else {
        const key = `${siblingLo}:${size}`;
        const sibling = this.waiting.get(key);
        if (!sibling) break;
        this.waiting.delete(key);
        if (isLeft) this.addFn(value, sibling, this.encoding);
        else {
          this.addFn(sibling, value, this.encoding);
          value = sibling;
        }
      }
      lo = isLeft ? lo : siblingLo;
      size *= 2;
    }
    if (size === this.size) this.rootValue = value;
    else this.waiting.set(`${lo}:${size}`, value);
  }

  /** True once every leaf has been added. */
  get complete(): boolean {
    return this.rootValue !== undefined;
  }

  /** The step's gradient: the root of the tree. */
  root(): Float32Array {
    if (!this.rootValue) throw new Error(`TreeReducer: ${this.covered} of ${this.leaves} leaves added`);
    return this.rootValue;
  }
}
