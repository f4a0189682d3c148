import { UnsafeKeyError } from '../errors/index';

/**
 * Refuses object keys that could leave the store's root once mapped to a path or joined to a prefix: empty or
 * `.`/`..` segments, leading `/`, backslashes, NUL. Both stores check every key, so a bug upstream cannot write
 * outside `CHECKPOINT_DIR` or `S3_PREFIX`.
 */
export function assertSafeKey(key: string): void {
  const bad =
    typeof key !== 'string' ||
    key.length === 0 ||
    key.length > 1024 ||
    key.startsWith('/') ||
    key.includes('\\') ||
    key.includes('\0') ||
    key.split('/').some((segment) => segment === '' || segment === '.' || segment === '..');
  if (bad) throw new UnsafeKeyError(`unsafe object key '${String(key)}'`);
}

/** Like {@link assertSafeKey} for a listing prefix, which may be empty or end with `/`. */
export function assertSafePrefix(prefix: string): void {
  if (prefix === '') return;
  assertSafeKey(prefix.endsWith('/') ? `${prefix}x` : prefix);
}
