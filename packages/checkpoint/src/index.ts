export { backoffDelay, DEFAULT_RETRY } from './backoff';
export {
  type CheckpointConfig,
  loadCheckpointConfig,
  type RetentionConfig,
  type RetryConfig,
  type StoreConfig,
} from './config';
export { type CheckpointContent, type CheckpointMetrics, snapshotContent } from './content';
export { type DownloadResult, downloadCheckpoint } from './download';
export * from './errors/index';
export { fileSystemLoadHandler, registerFileSystemRouter } from './file-router';
export {
  decodeCheckpoint,
  type EncodedCheckpoint,
  encodeCheckpoint,
  type LoadedCheckpoint,
  previewDigitsFrom,
  renderPreview,
  type TrainerJson,
} from './files/index';
export {
  assertFileName,
  assertRunId,
  assertStep,
  CHECKPOINT_FILES,
  checkpointFileKey,
  checkpointPrefix,
  checkpointsPrefix,
  formatStep,
  latestKey,
  parseStep,
  runPrefix,
} from './keys';
export { encodeLatest, parseLatest } from './latest';
export {
  buildManifest,
  encodeManifest,
  type Manifest,
  type ManifestFile,
  parseManifest,
  REQUIRED_FILES,
  sha256Hex,
  verifyFile,
} from './manifest';
export {
  type CheckpointListing,
  type LoadLatestOptions,
  listCheckpoints,
  listRuns,
  loadLatestValid,
  readCheckpoint,
  readLatestStep,
  readManifest,
} from './reader';
export { type RetentionCandidate, type RetentionPolicy, selectForDeletion } from './retention';
export * from './store/index';
export {
  CheckpointWriter,
  type CheckpointWriterHooks,
  type CheckpointWriterOptions,
  DEFAULT_RETENTION,
  type FailureEvent,
  type FlushResult,
  type SavedEvent,
  type WriterStats,
} from './writer';
