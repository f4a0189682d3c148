/** Invalid checkpoint configuration; the message names each bad environment variable. */
export class CheckpointConfigError extends Error {
  override readonly name = 'CheckpointConfigError';
}
