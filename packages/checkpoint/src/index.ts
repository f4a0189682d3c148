export { type CheckpointConfig, loadCheckpointConfig } from './config';
export type { CheckpointContent, InnerStates } from './content';
export { CheckpointConfigError } from './errors/index';
// The README's way to load a downloaded model with plain @tensorflow/tfjs in Node.
export { registerFileSystemRouter } from './file-router';
export { type LoadedCheckpoint, previewDigitsFrom } from './files/index';
export { CHECKPOINT_FILES, checkpointFileKey } from './keys';
export { listCheckpoints, loadLatestValid, readLatestStep } from './reader';
export { createStore, LocalStore, type ObjectStore, S3Store } from './store/index';
export { CheckpointWriter } from './writer';
