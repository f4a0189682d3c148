import type { BlockTask, Leaf } from './types';

export class EngineTaskError extends Error {
  override readonly name = 'EngineTaskError';
}

/** The checks every engine makes before computing: a block it cannot compute correctly is an error, never garbage. */
export function checkTask(task: BlockTask, paramCount: number, trainCount: number): void {
  if (task.params.length !== paramCount)
    throw new EngineTaskError(`params has ${task.params.length} values, the model has ${paramCount}`);
  if (task.out && task.out.length !== paramCount)
    throw new EngineTaskError(`out has ${task.out.length} values, the model has ${paramCount}`);
  if (task.out && task.out.buffer === task.params.buffer)
    throw new EngineTaskError('out shares its memory with params');
  if (task.leaves.length === 0) throw new EngineTaskError('a block needs at least one leaf');
  let samples = 0;
  let previousEnd = (task.leaves[0] as Leaf).start;
  for (const [i, { start, end }] of task.leaves.entries()) {
    if (!Number.isInteger(start) || !Number.isInteger(end) || start !== previousEnd || end <= start)
      throw new EngineTaskError(`leaf ${i} [${start}, ${end}) does not follow the previous leaf`);
    if (end > task.order.length)
      throw new EngineTaskError(`leaf ${i} [${start}, ${end}) exceeds the epoch's ${task.order.length} samples`);
    samples += end - start;
    previousEnd = end;
  }
  if (!Number.isInteger(task.stepSamples) || task.stepSamples < samples)
    throw new EngineTaskError(`stepSamples ${task.stepSamples} is less than the block's ${samples} samples`);
  const first = (task.leaves[0] as Leaf).start;
  for (let i = first; i < previousEnd; i++)
    if ((task.order[i] as number) >= trainCount)
      throw new EngineTaskError(`order[${i}] = ${task.order[i]} is not a sample of the ${trainCount} held`);
}

/**
 * What the addon engines pass per block: the leaves as [start, end) pairs and room for each leaf's loss, as views of
 * arrays grown to the largest block seen; and each leaf's sample count.
 */
export class BlockScratch {
  private spans = new Int32Array(0);
  private losses = new Float64Array(0);

  views(leaves: readonly Leaf[]): { spans: Int32Array; losses: Float64Array; counts: number[] } {
    const count = leaves.length;
    if (this.losses.length < count) {
      this.spans = new Int32Array(2 * count);
      this.losses = new Float64Array(count);
    }
    const spans = this.spans.subarray(0, 2 * count);
    const counts: number[] = [];
    leaves.forEach(({ start, end }, i) => {
      spans[2 * i] = start;
      spans[2 * i + 1] = end;
      counts.push(end - start);
    });
    return { spans, losses: this.losses.subarray(0, count), counts };
  }
}

/** Copies a leaf's samples (uint8) into one contiguous block. */
export function gatherLeaf(pixels: Uint8Array, sampleSize: number, order: Uint32Array, leaf: Leaf): Uint8Array {
  const out = new Uint8Array((leaf.end - leaf.start) * sampleSize);
  for (let i = leaf.start; i < leaf.end; i++) {
    const sample = order[i] as number;
    out.set(pixels.subarray(sample * sampleSize, (sample + 1) * sampleSize), (i - leaf.start) * sampleSize);
  }
  return out;
}
