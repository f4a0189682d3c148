export { firstNonFinite } from './finite';
export { type EngineChoice, type EngineFactory, nativeTreeAdd, selectEngine } from './select';
export { checkTask, EngineTaskError, gatherLeaf } from './task';
export { type ModelShape, TfjsEngine } from './tfjs-engine';
export {
  addRounded,
  alignedBlocks,
  isAlignedBlock,
  type LeafBlock,
  nextPowerOfTwo,
  reduceLeaves,
  roundLeaf,
  TreeReducer,
} from './tree';
export type { BlockGradient, BlockTask, Engine, Leaf } from './types';
