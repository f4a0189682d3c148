import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CheckpointVerificationError } from '../errors/index';
import { decodeInnerFiles, encodeInnerFiles } from './inner-file';

const state = (iterations: number, base: number) => ({
  iterations,
  firstMoment: new Float32Array([base, base + 0.5, -base]),
  secondMoment: new Float32Array([base * 2, 1e-30, 3]),
});

describe('inner.bin / inner.json', () => {
  test('round trip: every replica, its iterations and both moments, bit for bit', () => {
    const inner = [
      { replica: 0, state: state(12, 1.25) },
      { replica: 3, state: state(7, -0.1) },
    ];
    const { json, bin } = encodeInnerFiles(inner, 3);
    assert.equal(bin.byteLength, 2 * 8 * 3);
    assert.deepEqual(decodeInnerFiles(json, bin, 3), inner);
  });

  test('a size or length that does not match is refused, naming the file', () => {
    const { json, bin } = encodeInnerFiles([{ replica: 0, state: state(1, 1) }], 3);
    assert.throws(
      () => decodeInnerFiles(json, bin, 4),
      (e: Error) => e instanceof CheckpointVerificationError,
    );
    assert.throws(
      () => decodeInnerFiles(json, bin.subarray(4), 3),
      (e: Error) => e instanceof CheckpointVerificationError && /inner\.bin/.test(e.message),
    );
  });
});
