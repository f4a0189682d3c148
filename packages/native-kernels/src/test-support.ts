/**
 * Helpers for tests of the addon: whether they can run here, run an op on a named backend and compare the results
 * bit for bit. Other packages' tests import it as `@gradq/native-kernels/test-support`.
 */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { loadAddon } from './addon';
import { registerNativeBackend } from './backend';

export const NATIVE = 'cpu-native';
export const STOCK = 'cpu';

let nativeSkip: string | false | undefined;

/**
 * node:test's `skip` option for tests that need the addon: false where it loads, else what is missing and how to
 * build it. The addon is optional (its build never fails `pnpm install`, and `--ignore-scripts` skips it), so a
 * machine without it skips these tests instead of failing them (issue 14). GRADQ_REQUIRE_NATIVE=1, which .ci/run
 * sets, never skips: the tests run, and fail where the addon is missing, so that CI still proves them.
 */
export function skipWithoutNative(): string | false {
  nativeSkip ??= probeNative(process.env);
  return nativeSkip;
}

function probeNative(env: NodeJS.ProcessEnv): string | false {
  if (env.GRADQ_REQUIRE_NATIVE === '1') return false;
  try {
    loadAddon({ env });
    return false;
  } catch (err) {
    // A bad GRADQ_BLAS_THREADS is not a missing addon: the tests fail on it.
    if ((err as Error).name !== 'NativeKernelsUnavailableError') throw err;
    return (
      `${(err as Error).message}. Fix: apt-get install build-essential python3 libopenblas-dev && ` +
      'pnpm --filter @gradq/native-kernels build (GRADQ_REQUIRE_NATIVE=1 makes this skip a failure)'
    );
  }
}

export function setUpBackends(): void {
  registerNativeBackend();
}

export interface OpResult {
  readonly shape: number[];
  readonly dtype: string;
  readonly values: Float32Array | Int32Array | Uint8Array;
}

/** Runs `op` with `backend` active; inputs must be created inside `op`. */
export async function runOn(backend: string, op: () => tf.Tensor): Promise<OpResult> {
  assert.ok(await tf.setBackend(backend), `backend ${backend}`);
  const t = tf.tidy(op);
  const result = { shape: t.shape, dtype: t.dtype, values: t.dataSync() as Float32Array | Int32Array | Uint8Array };
  t.dispose();
  return result;
}

/** Stock cpu result and cpu-native result of the same op. */
export async function both(op: () => tf.Tensor): Promise<[OpResult, OpResult]> {
  return [await runOn(STOCK, op), await runOn(NATIVE, op)];
}

function bitsOf(values: OpResult['values']): Uint32Array | Int32Array | Uint8Array {
  return values instanceof Float32Array ? new Uint32Array(values.buffer, values.byteOffset, values.length) : values;
}

export function assertBitIdentical(actual: OpResult, expected: OpResult, what: string): void {
  assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  assert.equal(actual.dtype, expected.dtype, `${what}: dtype`);
  const a = bitsOf(actual.values);
  const e = bitsOf(expected.values);
  assert.equal(a.length, e.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) {
    // NaN payloads are not part of the contract; NaN-ness is.
    if (Number.isNaN(actual.values[i]) && Number.isNaN(expected.values[i])) continue;
    if (a[i] !== e[i]) assert.fail(`${what}[${i}]: ${actual.values[i]} !== ${expected.values[i]}`);
  }
}

/** |a - e| <= tol * (1 + |e|) elementwise: for GEMMs, whose summation order is OpenBLAS's. */
export function assertClose(actual: OpResult, expected: OpResult, what: string, tol = 1e-5): void {
  assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  assert.equal(actual.dtype, expected.dtype, `${what}: dtype`);
  for (let i = 0; i < expected.values.length; i++) {
    const a = actual.values[i] as number;
    const e = expected.values[i] as number;
    if (!(Math.abs(a - e) <= tol * (1 + Math.abs(e)))) assert.fail(`${what}[${i}]: ${a} vs ${e}`);
  }
}

/** Deterministic values in [-scale, scale) (xorshift32), with some exact zeros. */
export function seeded(size: number, seed: number, scale = 2): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = i % 13 === 5 ? 0 : (s / 2 ** 32 - 0.5) * 2 * scale;
  }
  return out;
}

export function tensor(shape: number[], seed: number, scale = 2): tf.Tensor {
  return tf.tensor(
    seeded(
      shape.reduce((a, b) => a * b, 1),
      seed,
      scale,
    ),
    shape,
    'float32',
  );
}
