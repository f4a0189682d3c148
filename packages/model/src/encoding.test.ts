import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bytesPerValue, decodeVector, encodeVector, quantize, WIRE_ENCODINGS } from './encoding';

/** Reference f16 rounding through a different route: search the nearest representable half (ties to even). */
function nearestHalf(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  if (Math.abs(x) >= 65520) return Math.sign(x) * Number.POSITIVE_INFINITY; // 65520 = halfway past 65504
  const halves = [...Array(65536).keys()]
    .filter((h) => ((h >>> 10) & 0x1f) !== 0x1f)
    .map((h) => ({ h, v: decodeVector(Buffer.from(Uint16Array.of(h).buffer), 'f16', 1)[0] as number }));
  let best = halves[0] as { h: number; v: number };
  for (const c of halves) {
    const d = Math.abs(c.v - x);
    const bd = Math.abs(best.v - x);
    if (d < bd || (d === bd && (c.h & 1) === 0 && (best.h & 1) === 1)) best = c;
  }
  return best.v === 0 ? (Object.is(Math.fround(x), -0) || x < 0 ? -0 : 0) : best.v;
}

describe('wire encodings', () => {
  test('f32 is exact and shares memory', () => {
    const v = Float32Array.of(1.5, -0, Number.NaN, 3.4e38, 1e-45);
    const bytes = encodeVector(v, 'f32');
    assert.equal(bytes.buffer, v.buffer);
    assert.deepEqual(decodeVector(bytes, 'f32', 5), v);
  });

  test('16-bit encodings take 2 bytes per value', () => {
    for (const e of WIRE_ENCODINGS) assert.equal(encodeVector(new Float32Array(7), e).byteLength, 7 * bytesPerValue(e));
  });

  test('f16 rounds to the nearest half, ties to even, matching a brute-force search', () => {
    const samples = [
      0.1,
      1 / 3,
      -2.5e-5,
      6e-8,
      3e-8,
      2.98e-8,
      65504,
      65519,
      65520,
      -70000,
      1 + 2 ** -11,
      1 + 3 * 2 ** -11,
      1e-3,
      123.456,
    ];
    const decoded = quantize(Float32Array.from(samples), 'f16');
    samples.forEach((x, i) => {
      assert.equal(decoded[i], Math.fround(nearestHalf(Math.fround(x))), `value ${x}`);
    });
  });

  test('every half value survives f16 -> f32 -> f16', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const back = encodeVector(decodeVector(Buffer.from(all.buffer), 'f16', 65536), 'f16');
    const halves = new Uint16Array(back.buffer, back.byteOffset, 65536);
    for (let h = 0; h < 65536; h++) {
      const nan = ((h >>> 10) & 0x1f) === 0x1f && (h & 0x3ff) !== 0;
      if (nan) assert.ok(((halves[h] as number) & 0x7c00) === 0x7c00 && ((halves[h] as number) & 0x3ff) !== 0);
      else assert.equal(halves[h], h, `half 0x${h.toString(16)}`);
    }
  });

  test('bf16 keeps the top 16 bits, rounded to nearest even; NaN and Inf survive', () => {
    const v = Float32Array.of(
      1,
      1 + 2 ** -8,
      1 + 2 ** -9,
      1 + 3 * 2 ** -9,
      -3.0e38,
      Number.POSITIVE_INFINITY,
      Number.NaN,
    );
    const q = quantize(v, 'bf16');
    // bf16 spacing at 1 is 2^-7: 1 + 2^-8 is exactly halfway and ties to the even neighbour 1; 1 + 0.75 * 2^-7 rounds up.
    assert.deepEqual(Array.from(q.subarray(0, 4)), [1, 1, 1, 1 + 2 ** -7]);
    assert.ok(Math.abs((q[4] as number) / -3.0e38 - 1) < 2 ** -8);
    assert.equal(q[5], Number.POSITIVE_INFINITY);
    assert.ok(Number.isNaN(q[6]));
  });

  test('decoding the wrong number of bytes names what and how many', () => {
    assert.throws(
      () => decodeVector(Buffer.alloc(10), 'f16', 6, 'gradient of step 3 shard 1'),
      /gradient of step 3 shard 1: expected 6 f16 values \(12 bytes\), got 10 bytes/,
    );
    assert.throws(() => decodeVector(Buffer.alloc(10), 'f32', 6, 'params'), /params/);
  });

  test('decodes from an unaligned Buffer', () => {
    const pool = Buffer.alloc(9);
    encodeVector(Float32Array.of(0.5, -2, 1024, 3), 'f16').copy(pool, 1);
    assert.deepEqual(Array.from(decodeVector(pool.subarray(1), 'f16', 4)), [0.5, -2, 1024, 3]);
  });
});
