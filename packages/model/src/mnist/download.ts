import { createHash } from 'node:crypto';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MNIST_FILES, MNIST_MIRRORS } from './files';

export class DownloadError extends Error {
  override readonly name = 'DownloadError';
}

export interface DownloadOptions {
  /** Base URLs tried in order. Default {@link MNIST_MIRRORS}. */
  mirrors?: readonly string[];
  /** One line per file fetched. */
  log?: (line: string) => void;
  /** Per-request timeout. Default 60 s. */
  timeoutMs?: number;
}

/**
 * Makes sure the four MNIST files are in `dir`: files already there are kept (the reader validates them), missing
 * ones are fetched from the first mirror that returns bytes with the right sha256. Each file is written to a
 * temporary name and renamed into place, so an interrupted download never leaves a half-written file behind.
 */
export async function ensureMnist(dir: string, options: DownloadOptions = {}): Promise<void> {
  const mirrors = options.mirrors ?? MNIST_MIRRORS;
  const log = options.log ?? (() => {});
  await mkdir(dir, { recursive: true });
  for (const { name, sha256 } of Object.values(MNIST_FILES)) {
    const target = join(dir, name);
    if (await exists(target)) continue;
    const failures: string[] = [];
    let done = false;
    for (const mirror of mirrors) {
      // new URL('f', 'https://host/mnist') would resolve to https://host/f: a base must end with '/'.
      const url = new URL(name, mirror.endsWith('/') ? mirror : `${mirror}/`).toString();
      try {
        const bytes = await fetchBytes(url, options.timeoutMs ?? 60_000);
        const actual = createHash('sha256').update(bytes).digest('hex');
        if (actual !== sha256) throw new Error(`sha256 ${actual} does not match the expected ${sha256}`);
        const partial = `${target}.partial-${process.pid}`;
        try {
          await writeFile(partial, bytes);
          await rename(partial, target);
        } finally {
          await rm(partial, { force: true });
        }
        log(`mnist: downloaded ${name} (${bytes.byteLength} bytes) from ${mirror}`);
        done = true;
        break;
      } catch (err) {
        failures.push(`${url}: ${(err as Error).message}`);
      }
    }
    if (!done) {
      throw new DownloadError(
        `could not download ${name} into ${dir}:\n  ${failures.join('\n  ')}\n` +
          'Copy the four MNIST .gz files into that directory by hand, or point --data-dir / MNIST_DIR at them.',
      );
    }
  }
}

async function fetchBytes(url: string, timeoutMs: number): Promise<Uint8Array> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`);
  return new Uint8Array(await response.arrayBuffer());
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
