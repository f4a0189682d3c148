export { CheckpointConfigError } from './config-error';
export { DownloadTargetError } from './download-target-error';
export { CheckpointNotFoundError } from './not-found-error';
export { UnsafeKeyError } from './unsafe-key-error';
export { CheckpointVerificationError } from './verification-error';
