/** No such run, checkpoint or object. */
export class CheckpointNotFoundError extends Error {
  override readonly name = 'CheckpointNotFoundError';
}
