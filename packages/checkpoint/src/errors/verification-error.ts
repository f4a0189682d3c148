/** A checkpoint whose manifest is missing or malformed, or a file whose size or sha256 differs from it. */
export class CheckpointVerificationError extends Error {
  override readonly name = 'CheckpointVerificationError';

  constructor(
    message: string,
    /** The file that failed, when one did (`weights.bin`, `manifest.json`, ...). */
    readonly file?: string,
  ) {
    super(message);
  }
}
