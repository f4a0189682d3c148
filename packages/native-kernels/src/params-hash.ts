import { loadAddonIfBuilt } from './addon';

/**
 * The parameters' hash that a step's opening names, so that a worker which derived the parameters itself knows they
 * are the coordinator's, bit for bit, before it submits a gradient computed on them.
 *
 * 16 lanes of 32-bit xor-multiply (FNV-1a's step) over the vector's 32-bit words, word i into lane i % 16, the lanes
 * then folded through murmur3's finalizer into two 32-bit halves: 16 hex digits. Changing any one word always changes
 * its lane (each step is a bijection), so a derived copy that differs in one value never passes; it is a check
 * against divergence, not against an adversary (the submit script and the coordinator's own checks are those).
 *
 * Why not zlib's CRC-32, which this replaced: both sides hashed 3 MB per step, ~0.65 ms each at batch 128 here, and
 * with instant workers the step without it measured 0.88x (4 alternating rounds). The native lanes are
 * vectorised (AVX2 where the CPU has it); the JS lanes give the same value where the addon was not built.
 */
export function paramsHash(params: Float32Array): string {
  if (native === undefined) {
    const addon = loadAddonIfBuilt();
    // An addon built before paramsHash existed has none: the JS lanes then.
    native = typeof addon?.paramsHash === 'function' ? addon.paramsHash.bind(addon) : null;
  }
  return native ? native(params) : paramsHashJs(params);
}

let native: ((params: Float32Array) => string) | null | undefined;

const LANES = 16;
const PRIME = 0x01000193;

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The same hash in JS (native/kernels.c `gq_params_hash` must agree with it; a test checks). The lanes are 16 locals
 * (an array of them ran 3x slower: 1.6 ms per 3 MB here, against 0.5 ms for this and 0.06 ms native).
 */
export function paramsHashJs(params: Float32Array): string {
  const words = new Uint32Array(params.buffer, params.byteOffset, params.length);
  const n = words.length;
  const whole = n - (n % LANES);
  // biome-ignore format: one lane a line would be 32 lines of the same
  let a0 = (0x811c9dc5 + Math.imul(0, 0x9e3779b9)) | 0, a1 = (0x811c9dc5 + Math.imul(1, 0x9e3779b9)) | 0, a2 = (0x811c9dc5 + Math.imul(2, 0x9e3779b9)) | 0, a3 = (0x811c9dc5 + Math.imul(3, 0x9e3779b9)) | 0, a4 = (0x811c9dc5 + Math.imul(4, 0x9e3779b9)) | 0, a5 = (0x811c9dc5 + Math.imul(5, 0x9e3779b9)) | 0, a6 = (0x811c9dc5 + Math.imul(6, 0x9e3779b9)) | 0, a7 = (0x811c9dc5 + Math.imul(7, 0x9e3779b9)) | 0, a8 = (0x811c9dc5 + Math.imul(8, 0x9e3779b9)) | 0, a9 = (0x811c9dc5 + Math.imul(9, 0x9e3779b9)) | 0, a10 = (0x811c9dc5 + Math.imul(10, 0x9e3779b9)) | 0, a11 = (0x811c9dc5 + Math.imul(11, 0x9e3779b9)) | 0, a12 = (0x811c9dc5 + Math.imul(12, 0x9e3779b9)) | 0, a13 = (0x811c9dc5 + Math.imul(13, 0x9e3779b9)) | 0, a14 = (0x811c9dc5 + Math.imul(14, 0x9e3779b9)) | 0, a15 = (0x811c9dc5 + Math.imul(15, 0x9e3779b9)) | 0;
  for (let i = 0; i < whole; i += LANES) {
    a0 = Math.imul(a0 ^ (words[i + 0] as number), PRIME);
    a1 = Math.imul(a1 ^ (words[i + 1] as number), PRIME);
    a2 = Math.imul(a2 ^ (words[i + 2] as number), PRIME);
    a3 = Math.imul(a3 ^ (words[i + 3] as number), PRIME);
    a4 = Math.imul(a4 ^ (words[i + 4] as number), PRIME);
    a5 = Math.imul(a5 ^ (words[i + 5] as number), PRIME);
    a6 = Math.imul(a6 ^ (words[i + 6] as number), PRIME);
    a7 = Math.imul(a7 ^ (words[i + 7] as number), PRIME);
    a8 = Math.imul(a8 ^ (words[i + 8] as number), PRIME);
    a9 = Math.imul(a9 ^ (words[i + 9] as number), PRIME);
    a10 = Math.imul(a10 ^ (words[i + 10] as number), PRIME);
    a11 = Math.imul(a11 ^ (words[i + 11] as number), PRIME);
    a12 = Math.imul(a12 ^ (words[i + 12] as number), PRIME);
    a13 = Math.imul(a13 ^ (words[i + 13] as number), PRIME);
    a14 = Math.imul(a14 ^ (words[i + 14] as number), PRIME);
    a15 = Math.imul(a15 ^ (words[i + 15] as number), PRIME);
  }
  const acc = Uint32Array.of(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15);
  for (let i = whole; i < n; i++) {
    const l = i % LANES;
    acc[l] = Math.imul((acc[l] as number) ^ (words[i] as number), PRIME);
  }
  let h1 = (0x9747b28c ^ n) >>> 0;
  let h2 = (0x1b873593 ^ Math.floor(n / 2 ** 32)) >>> 0;
  for (let l = 0; l < LANES; l++) {
    h1 = fmix32(h1 ^ (acc[l] as number));
    h2 = fmix32(h2 ^ (acc[LANES - 1 - l] as number));
  }
  return h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0');
}
