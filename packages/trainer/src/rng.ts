/**
 * sfc32: a small, fast generator whose whole state is four uint32 words, so it can be saved in a checkpoint and
 * restored exactly. Seeded through splitmix32 so that nearby seeds give unrelated streams.
 */
export class Rng {
  private constructor(private readonly s: Uint32Array) {}

  static fromSeed(seed: number): Rng {
    let x = seed >>> 0;
    const s = new Uint32Array(4);
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    const rng = new Rng(s);
    for (let i = 0; i < 12; i++) rng.nextUint32();
    return rng;
  }

  static fromState(state: readonly number[]): Rng {
    if (state.length !== 4 || state.some((w) => !Number.isInteger(w) || w < 0 || w > 0xffffffff)) {
      throw new RangeError(`RNG state must be four uint32 words, got [${state.join(', ')}]`);
    }
    return new Rng(Uint32Array.from(state));
  }

  get state(): number[] {
    return Array.from(this.s);
  }

  nextUint32(): number {
    const s = this.s;
    const a = s[0] as number;
    const b = s[1] as number;
    const c = s[2] as number;
    const d = s[3] as number;
    const t = (((a + b) >>> 0) + d) >>> 0;
    s[3] = (d + 1) >>> 0;
    s[0] = b ^ (b >>> 9);
    s[1] = (c + (c << 3)) >>> 0;
    s[2] = (((c << 21) | (c >>> 11)) + t) >>> 0;
    return t;
  }

  /** Uniform integer in [0, n), without modulo bias. */
  below(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 0x100000000) throw new RangeError(`below(${n})`);
    const limit = 0x100000000 - (0x100000000 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }
}

/** The RNG that shuffles `epoch` of a run with `seed`: derived, so any epoch can be recomputed on resume. */
export function epochRng(seed: number, epoch: number): Rng {
  return Rng.fromSeed((Math.imul(seed >>> 0, 0x01000193) ^ Math.imul(epoch + 1, 0x9e3779b1)) >>> 0);
}

/** A seeded Fisher-Yates permutation of 0..count-1. */
export function shuffledOrder(count: number, rng: Rng): Uint32Array {
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  for (let i = count - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    const tmp = order[i] as number;
    order[i] = order[j] as number;
    order[j] = tmp;
  }
  return order;
}
