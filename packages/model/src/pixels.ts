const SCALE = Float32Array.from({ length: 256 }, (_, v) => v / 255);

/** MNIST bytes (0-255) to model inputs in [0, 1]. */
export function scalePixels(bytes: Uint8Array, out = new Float32Array(bytes.length)): Float32Array {
  for (let i = 0; i < bytes.length; i++) out[i] = SCALE[bytes[i] as number] as number;
  return out;
}
