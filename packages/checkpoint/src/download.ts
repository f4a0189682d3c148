import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { lstat, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  CheckpointNotFoundError,
  CheckpointVerificationError,
  DownloadTargetError,
  UnsafeKeyError,
} from './errors/index';
import { assertFileName, checkpointFileKey } from './keys';
import { type Manifest, verifyDigest } from './manifest';
import { readManifest } from './reader';
import type { ObjectStore } from './store/index';

export interface DownloadResult {
  readonly dir: string;
  readonly manifest: Manifest;
  /** Absolute paths written, manifest.json included. */
  readonly files: readonly string[];
}

/**
 * Downloads one checkpoint into `outDir`, streaming each file through sha256 into a private staging directory
 * inside `outDir`; only when every file matches the manifest are they moved into place. A checkpoint that fails
 * verification leaves nothing behind and throws {@link CheckpointVerificationError} naming the file. Every path
 * is a checked single file name joined to `outDir`, so a hostile manifest cannot write elsewhere. `outDir` must be
 * new or empty ({@link DownloadTargetError} otherwise): nothing already there is overwritten, and no link planted
 * there (`manifest.json` -> elsewhere) is written through; every file, the manifest too, is created afresh in
 * staging and renamed into place, and a rename replaces a link rather than following it.
 */
export async function downloadCheckpoint(
  store: ObjectStore,
  runId: string,
  step: number,
  outDir: string,
): Promise<DownloadResult> {
  const manifest = await readManifest(store, runId, step);
  const dir = resolve(outDir);
  const inside = (name: string) => {
    assertFileName(name);
    const path = join(dir, name);
    if (!path.startsWith(dir + sep)) throw new UnsafeKeyError(`file '${name}' would be written outside ${dir}`);
    return path;
  };
  await assertNewOrEmpty(dir);
  await mkdir(dir, { recursive: true });
  const staging = join(dir, `.gradq-download-${randomBytes(6).toString('hex')}`);
  await mkdir(staging);
  try {
    for (const entry of manifest.files) {
      inside(entry.name);
      let source: NodeJS.ReadableStream;
      try {
        source = await store.getStream(checkpointFileKey(runId, step, entry.name));
      } catch (err) {
        if (err instanceof CheckpointNotFoundError) {
          throw new CheckpointVerificationError(`${entry.name} is listed in the manifest but missing`, entry.name);
        }
        throw err;
      }
      const hash = createHash('sha256');
      let size = 0;
      const meter = new Transform({
        transform(chunk: Buffer, _enc, done) {
          size += chunk.length;
          // A lying object larger than its manifest entry is cut off instead of filling the disk.
          if (size > entry.size) {
            done(
              new CheckpointVerificationError(
                `${entry.name}: larger than the manifest's ${entry.size} bytes`,
                entry.name,
              ),
            );
            return;
          }
          hash.update(chunk);
          done(null, chunk);
        },
      });
      await pipeline(source, meter, createWriteStream(join(staging, entry.name), { flags: 'wx' }));
      verifyDigest(entry, size, hash.digest('hex'));
    }
    const written: string[] = [];
    for (const entry of manifest.files) {
      await rename(join(staging, entry.name), inside(entry.name));
      written.push(inside(entry.name));
    }
    await writeFile(join(staging, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`, { flag: 'wx' });
    const manifestPath = inside('manifest.json');
    await rename(join(staging, 'manifest.json'), manifestPath);
    written.push(manifestPath);
    return { dir, manifest, files: written };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function assertNewOrEmpty(dir: string): Promise<void> {
  let kind: import('node:fs').Stats;
  try {
    kind = await lstat(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (kind.isSymbolicLink())
    throw new DownloadTargetError(`--out ${dir} is a symbolic link; give the directory itself, or a new one`);
  if (!kind.isDirectory()) throw new DownloadTargetError(`--out ${dir} exists and is not a directory`);
  const entries = await readdir(dir);
  if (entries.length > 0)
    throw new DownloadTargetError(
      `--out ${dir} is not empty (${entries.length} entries, e.g. ${entries[0]}); choose a new or empty directory`,
    );
}
