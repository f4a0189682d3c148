/** `ckpt download --out DIR` names a directory that is not new or empty, or not a directory: nothing is written. */
export class DownloadTargetError extends Error {
  override readonly name = 'DownloadTargetError';
}
