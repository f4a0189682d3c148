import type { WireEncoding } from '@gradq/model';

/**
 * One leaf of a step: the samples at positions [start, end) of the epoch's order. A step's batch is split into K
 * leaves (`--shards-per-step`); K is a run setting and never depends on the number of workers.
 */
export interface Leaf {
  readonly start: number;
  readonly end: number;
}

/** A job's work: consecutive leaves of one step that form an aligned block of the step's leaf tree (see tree.ts). */
export interface BlockTask {
  /** Version of `params`; engines that keep parameters resident (a GPU) copy them only when it changes. */
  readonly version: number;
  readonly params: Float32Array;
  /** The epoch's sample order: indices into the resident training set. */
  readonly order: Uint32Array;
  readonly leaves: readonly Leaf[];
  /** Samples in the whole step (all K leaves): each leaf's gradient is its share of the step's mean gradient. */
  readonly stepSamples: number;
  /** Rounding applied at every node of the leaf tree: f32 (none), or the 16-bit wire encodings. */
  readonly rounding: WireEncoding;
  /**
   * Where to write the block's gradient (as many values as the parameters), so that a caller computing block after
   * block reuses one array: 3 MB per job less for the garbage collector. A fresh array when absent.
   */
  readonly out?: Float32Array;
}

/** What a block returns. `grad` summed over the block's leaves in tree order; the step's root is the mean gradient. */
export interface BlockGradient {
  /** Sum over the block's samples of d(per-sample MSE)/d(params), divided by the step's sample count. */
  readonly grad: Float32Array;
  /** Per leaf: mean squared error over the leaf's pixels, at the block's parameters. */
  readonly losses: readonly number[];
  /** Per leaf: samples. */
  readonly counts: readonly number[];
}

/**
 * Computes blocks of leaves. One call per job: parameters and the training set stay resident; only the sample
 * spans cross. Engines are not thread-safe and compute one block at a time.
 */
export interface Engine {
  /** `native-cpu`, `tfjs-<backend>`, ...: different engines give different bits (a run keeps one). */
  readonly name: string;
  /** The whole training set as uint8 pixels (`sampleSize` per sample); kept by reference, never copied per call. */
  setTrainingSet(pixels: Uint8Array, sampleSize: number): void;
  /** Synchronous for the CPU engines; an engine that waits on a device (or the bench's stand-in) returns a promise. */
  computeBlock(task: BlockTask): BlockGradient | Promise<BlockGradient>;
  dispose(): void;
}
