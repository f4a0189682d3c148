import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readdir, realpath, rename, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { CheckpointConfigError, CheckpointNotFoundError, UnsafeKeyError } from '../errors/index';
import type { ObjectStore, StoredObject } from './object-store';
import { assertSafeKey, assertSafePrefix } from './safe-key';

/** Marks files being written; listings skip them, so a crash mid-write leaves no visible object. */
const TEMP_MARKER = '.tmp-';

/**
 * Objects as files under one directory (the embedded default, `CHECKPOINT_DIR`). Each put writes a temporary file
 * in the same directory and renames it over the key, which POSIX makes atomic.
 */
export class LocalStore implements ObjectStore {
  readonly root: string;
  readonly description: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.description = this.root;
  }

  private path(key: string): string {
    assertSafeKey(key);
    const path = resolve(this.root, ...key.split('/'));
    // Belt and braces after assertSafeKey: the resolved path must stay under the root.
    if (!path.startsWith(this.root + sep)) throw new UnsafeKeyError(`object key '${key}' escapes ${this.root}`);
    return path;
  }

  /**
   * Throws a CheckpointConfigError naming CHECKPOINT_DIR when the directory cannot be created or written (a file in
   * its place, no permission, a read-only disk): found at start, not after a run's worth of failed uploads.
   */
  async assertWritable(): Promise<void> {
    const probe = join(this.root, `${TEMP_MARKER}probe-${randomBytes(6).toString('hex')}`);
    try {
      await mkdir(this.root, { recursive: true });
      await writeFile(probe, '');
      await unlink(probe);
    } catch (err) {
      throw new CheckpointConfigError(
        `CHECKPOINT_DIR ${this.root}: checkpoints cannot be written there (${(err as Error).message}); choose a writable directory`,
      );
    }
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    const path = this.path(key);
    await mkdir(dirname(path), { recursive: true });
    const temp = `${path}${TEMP_MARKER}${randomBytes(6).toString('hex')}`;
    try {
      await writeFile(temp, body);
      await rename(temp, path);
    } catch (err) {
      await unlink(temp).catch(() => {});
      throw err;
    }
  }

  async get(key: string): Promise<Uint8Array> {
    const file = await this.open(key);
    try {
      return new Uint8Array(await file.readFile());
    } finally {
      await file.close();
    }
  }

  async getStream(key: string): Promise<Readable> {
    // Opened here, so that a missing file fails now, not on the stream's first read.
    const file = await this.open(key);
    return file.createReadStream();
  }

  /**
   * Opens an object for reading, refusing a symbolic link anywhere below the root: a link planted in a checkpoint
   * directory (`weights.bin` -> /etc/shadow) would otherwise be read, and served by `ckpt download`, as the object.
   * The root itself may be a link (a CHECKPOINT_DIR on another disk).
   */
  private async open(key: string): Promise<import('node:fs/promises').FileHandle> {
    const path = this.path(key);
    try {
      const real = await realpath(path);
      const expected = join(await realpath(this.root), ...key.split('/'));
      if (real !== expected) throw new UnsafeKeyError(`object '${key}' in ${this.root} is a symbolic link: refused`);
      // O_NOFOLLOW: a link swapped in after the check is refused too.
      const file = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW);
      if ((await file.stat()).isFile()) return file;
      await file.close();
      throw new CheckpointNotFoundError(`no object '${key}'`);
    } catch (err) {
      throw notFound(err, key);
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
    assertSafePrefix(prefix);
    // Walk only the deepest directory the prefix names, not the whole root.
    const cut = prefix.lastIndexOf('/');
    const base = cut < 0 ? '' : prefix.slice(0, cut);
    const out: StoredObject[] = [];
    await this.walk(base ? join(this.root, ...base.split('/')) : this.root, out, prefix);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  private async walk(dir: string, out: StoredObject[], prefix: string): Promise<void> {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') {
        return;
      }
      throw err;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      const key = relative(this.root, path).split(sep).join('/');
      if (entry.isDirectory()) {
        if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) await this.walk(path, out, prefix);
      } else if (entry.isFile() && !entry.name.includes(TEMP_MARKER) && key.startsWith(prefix)) {
        out.push({ key, size: (await stat(path)).size });
      }
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    const dirs = new Set<string>();
    for (const key of keys) {
      const path = this.path(key);
      await unlink(path).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
      dirs.add(dirname(path));
    }
    // Remove directories left empty (deepest first), so deleted checkpoints leave no clutter; stop at the root.
    for (const start of [...dirs].sort((a, b) => b.length - a.length)) {
      for (let dir = start; dir.startsWith(this.root + sep); dir = dirname(dir)) {
        try {
          await rmdir(dir);
        } catch {
          break;
        }
      }
    }
  }

  async close(): Promise<void> {}
}

function notFound(err: unknown, key: string): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR') {
    return new CheckpointNotFoundError(`no object '${key}'`);
  }
  return err;
}
