/**
 * Float32 vectors on the wire as f32 (exact), f16 (IEEE half) or bf16 (bfloat16): half the bytes for the two
 * 16-bit forms, at the cost of rounding. Rounding is to nearest, ties to even, as hardware conversions do;
 * f16 overflows to ±Inf past 65504 and flushes below 2^-24 to ±0; NaN stays NaN.
 */
import { fromBytes, toBytes } from './codec';

export const WIRE_ENCODINGS = ['f32', 'f16', 'bf16'] as const;
export type WireEncoding = (typeof WIRE_ENCODINGS)[number];

export function bytesPerValue(encoding: WireEncoding): number {
  return encoding === 'f32' ? 4 : 2;
}

/** The wire bytes of `values`; for f32 a view of the same memory (no copy). */
export function encodeVector(values: Float32Array, encoding: WireEncoding): Buffer {
  if (encoding === 'f32') return toBytes(values);
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  if (encoding === 'bf16') for (let i = 0; i < bits.length; i++) out[i] = bf16FromBits(bits[i] as number);
  else for (let i = 0; i < bits.length; i++) out[i] = f16FromBits(bits[i] as number);
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

/** Float32 values from wire bytes; throws naming `what` when the length is not `expectedLength` values. */
export function decodeVector(
  bytes: Uint8Array,
  encoding: WireEncoding,
  expectedLength: number,
  what = 'vector',
): Float32Array {
  if (encoding === 'f32') return fromBytes(bytes, expectedLength, what);
  if (bytes.byteLength !== expectedLength * 2) {
    throw new RangeError(
      `${what}: expected ${expectedLength} ${encoding} values (${expectedLength * 2} bytes), got ${bytes.byteLength} bytes`,
    );
  }
  const out = new Float32Array(expectedLength);
  decodeInto(bytes, encoding, out);
  return out;
}

/**
 * Decodes wire bytes into `out` (as many values as `out` holds; the caller checks the length), with no copy of the
 * bytes first: a vector read in slices lands in one array, slice by slice.
 */
export function decodeInto(bytes: Uint8Array, encoding: WireEncoding, out: Float32Array): void {
  if (bytes.byteLength !== out.length * bytesPerValue(encoding))
    throw new RangeError(`decodeInto: ${bytes.byteLength} bytes for ${out.length} ${encoding} values`);
  if (encoding === 'f32') {
    new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(bytes);
    return;
  }
  // Redis replies land at arbitrary byte offsets: an odd one is copied to an aligned buffer first.
  const halves =
    bytes.byteOffset % 2 === 0
      ? new Uint16Array(bytes.buffer, bytes.byteOffset, out.length)
      : new Uint16Array(new Uint8Array(bytes).buffer); // a copy (Buffer.slice would be a view)
  if (encoding === 'bf16') {
    const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
    for (let i = 0; i < out.length; i++) bits[i] = (halves[i] as number) << 16;
  } else {
    const table = f16Table();
    for (let i = 0; i < out.length; i++) out[i] = table[halves[i] as number] as number;
  }
}

/** What a vector looks like after a trip over the wire: the same rounding, without the bytes. */
export function quantize(values: Float32Array, encoding: WireEncoding): Float32Array {
  if (encoding === 'f32') return values;
  return decodeVector(encodeVector(values, encoding), encoding, values.length);
}

function bf16FromBits(b: number): number {
  if ((b & 0x7fffffff) > 0x7f800000) return ((b >>> 16) | 0x40) & 0xffff; // NaN stays a (quiet) NaN
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

function f16FromBits(b: number): number {
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 112; // rebias 127 -> 15
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (and past the largest finite value, to Inf).
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++;
  return sign | half;
}

let table: Float32Array | undefined;
/** All 65,536 half values as float32 (256 KiB, built once): decoding is one lookup per value. */
function f16Table(): Float32Array {
  if (table) return table;
  table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) table[h] = sign * mant * 2 ** -24;
    else if (exp === 0x1f) table[h] = mant ? Number.NaN : sign * Number.POSITIVE_INFINITY;
    else table[h] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  return table;
}
