/** A run id, step, file name or object key that could address something outside its run (`..`, `/abs`, ...). */
export class UnsafeKeyError extends Error {
  override readonly name = 'UnsafeKeyError';
}
