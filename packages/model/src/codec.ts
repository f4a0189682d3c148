/** Float32 vectors to and from bytes (little-endian, as every platform tfjs runs on). */

/** The bytes of `values`, sharing its memory (no copy). */
export function toBytes(values: Float32Array): Buffer {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
}

/**
 * A Float32Array view of `bytes` when its offset is 4-byte aligned (Node pools small Buffers at arbitrary offsets),
 * else an aligned copy. Throws when the length is not what the layout says, naming what was read.
 */
export function fromBytes(bytes: Uint8Array, expectedLength?: number, what = 'vector'): Float32Array {
  if (bytes.byteLength % 4 !== 0) {
    throw new RangeError(`${what}: ${bytes.byteLength} bytes is not a whole number of float32 values`);
  }
  const length = bytes.byteLength / 4;
  if (expectedLength !== undefined && length !== expectedLength) {
    throw new RangeError(`${what}: expected ${expectedLength} float32 values, got ${length}`);
  }
  if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, length);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}
