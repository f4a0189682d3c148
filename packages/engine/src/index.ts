export { CudaConfigError, type CudaDevice, CudaEngine, type CudaEngineOptions } from './cuda-engine';
export { firstNonFinite } from './finite';
export { type EngineFactory, nativeTreeAdd, selectEngine } from './select';
export { type ModelShape, TfjsEngine } from './tfjs-engine';
export { alignedBlocks, isAlignedBlock, type LeafBlock, roundLeaf, TreeReducer } from './tree';
export type { BlockGradient, BlockTask, Engine, Leaf } from './types';
export {
  type ChooseEngineOptions,
  chooseWorkerEngine,
  ENGINE_REQUESTS,
  EngineConfigError,
  type EngineRequest,
  EngineUnavailableError,
  selfTest,
  type WorkerEngine,
} from './worker-engine';
