import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fromBytes, toBytes } from './codec';

/** Values whose bits are easy to lose: signed zero, infinities, NaN, subnormals, extremes. */
const TRICKY = Float32Array.of(
  0,
  -0,
  1,
  -1,
  Math.fround(Math.PI),
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  Number.NaN,
  1.4e-45,
  -1.17549435e-38,
  3.4028234663852886e38,
  Math.fround(1e-7),
);

function bits(values: Float32Array): Uint32Array {
  return new Uint32Array(Float32Array.from(values).buffer);
}

describe('codec', () => {
  test('toBytes then fromBytes returns the same bits', () => {
    const bytes = toBytes(TRICKY);
    assert.equal(bytes.byteLength, TRICKY.length * 4);
    const back = fromBytes(bytes, TRICKY.length);
    assert.deepEqual(bits(back), bits(TRICKY));
  });

  test('toBytes is little-endian float32', () => {
    const bytes = toBytes(Float32Array.of(1, -2));
    assert.deepEqual([...bytes], [0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0]);
    assert.equal(bytes.readFloatLE(4), -2);
  });

  test('toBytes shares memory with a subarray and covers only its range', () => {
    const whole = Float32Array.of(1, 2, 3, 4, 5);
    const bytes = toBytes(whole.subarray(1, 3));
    assert.equal(bytes.byteLength, 8);
    assert.equal(bytes.readFloatLE(0), 2);
    assert.equal(bytes.readFloatLE(4), 3);
    whole[1] = 42;
    assert.equal(bytes.readFloatLE(0), 42);
  });

  test('an aligned Buffer is viewed without a copy', () => {
    const source = Buffer.alloc(4 * 4 + 8);
    const bytes = source.subarray(8);
    bytes.writeFloatLE(6.5, 4);
    const view = fromBytes(bytes, 4);
    assert.equal(view.buffer, source.buffer);
    assert.equal(view[1], 6.5);
  });

  test('a Buffer at an unaligned byteOffset is copied, with the right values', () => {
    const source = Buffer.alloc(TRICKY.byteLength + 3);
    for (const offset of [1, 2, 3]) {
      const bytes = source.subarray(offset, offset + TRICKY.byteLength);
      assert.notEqual(bytes.byteOffset % 4, 0);
      toBytes(TRICKY).copy(bytes);
      const back = fromBytes(bytes, TRICKY.length);
      assert.deepEqual(bits(back), bits(TRICKY), `offset ${offset}`);
      assert.equal(back.byteOffset % 4, 0);
      assert.notEqual(back.buffer, source.buffer);
      // A copy: later writes to the received bytes must not change the decoded vector.
      bytes.fill(0);
      assert.deepEqual(bits(back), bits(TRICKY));
    }
  });

  test('a wrong length throws with the expected count and what was read', () => {
    const bytes = toBytes(new Float32Array(10));
    assert.throws(() => fromBytes(bytes, 12, 'params v3'), {
      name: 'RangeError',
      message: 'params v3: expected 12 float32 values, got 10',
    });
    assert.throws(() => fromBytes(bytes, 9), { message: /expected 9 float32 values, got 10/ });
  });

  test('a byte count that is not a multiple of four throws', () => {
    assert.throws(() => fromBytes(new Uint8Array(7), undefined, 'gradient'), {
      name: 'RangeError',
      message: /gradient: 7 bytes is not a whole number of float32 values/,
    });
  });

  test('zero bytes decode to an empty vector', () => {
    assert.equal(fromBytes(new Uint8Array(0), 0).length, 0);
  });
});
