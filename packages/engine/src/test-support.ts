/** Helpers for the engine tests: deterministic data and bit-for-bit comparisons. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { MNIST_FILES, parseImages } from '@gradq/model';
import { findMnistDir } from '@gradq/testing';
import type { Leaf } from './types';

/** xorshift32 stream in [0, 1). */
export function random(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

/** Values in [-scale, scale). */
export function seededFloats(size: number, seed: number, scale: number): Float32Array {
  const next = random(seed);
  return Float32Array.from({ length: size }, () => (next() - 0.5) * 2 * scale);
}

export function seededBytes(size: number, seed: number): Uint8Array {
  const next = random(seed);
  return Uint8Array.from({ length: size }, () => Math.floor(next() * 256));
}

/** A permutation of 0..count-1. */
export function shuffled(count: number, seed: number): Uint32Array {
  const next = random(seed);
  const order = Uint32Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  return order;
}

/** Consecutive leaves of these sizes, the first starting at `start`. */
export function leavesOf(start: number, sizes: readonly number[]): Leaf[] {
  const leaves: Leaf[] = [];
  for (const size of sizes) {
    const from = leaves.at(-1)?.end ?? start;
    leaves.push({ start: from, end: from + size });
  }
  return leaves;
}

/** The first `count` MNIST test images where @gradq/testing finds MNIST, else random bytes. */
export function mnistOrRandom(count: number): { pixels: Uint8Array; real: boolean } {
  const dir = findMnistDir();
  if (dir === undefined) return { pixels: seededBytes(count * 784, 99), real: false };
  const file = `${dir}/${MNIST_FILES.testImages.name}`;
  try {
    const images = parseImages(new Uint8Array(readFileSync(file)), file);
    return { pixels: images.pixels.slice(0, count * 784), real: true };
  } catch {
    return { pixels: seededBytes(count * 784, 99), real: false };
  }
}

/** max |a - b| / max |b|: relative to the vector's scale, since many single entries are near zero. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length, 'length');
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs((actual[i] as number) - (expected[i] as number)));
    scale = Math.max(scale, Math.abs(expected[i] as number));
  }
  return scale === 0 ? diff : diff / scale;
}

/** Bit-for-bit equality; NaNs only need to be NaN (their payloads are not part of the contract). */
export function assertBits(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const e = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] === e[i] || (Number.isNaN(actual[i]) && Number.isNaN(expected[i]))) continue;
    assert.fail(
      `${what}[${i}]: ${actual[i]} (0x${(a[i] as number).toString(16)}) !== ${expected[i]} (0x${(e[i] as number).toString(16)})`,
    );
  }
}

/** V8's full collection, for leak checks without `node --expose-gc`: the flag can be set at run time. */
export function garbageCollector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}
