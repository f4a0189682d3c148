/** Default cap on the bytes a pool keeps for reuse. */
export const DEFAULT_POOL_BYTES = 256 * 1024 * 1024;

/**
 * Float32Arrays by length, for kernel outputs whose tensors were disposed. Why: every tfjs op allocates a fresh
 * output; at ~100 MB per training step the fresh pages and the external-memory GCs they trigger (a mark-compact every
 * ~35 ms) cost more than the arithmetic (measured: a 392x784 multiply 0.15 ms into a reused array, 0.5-0.8 ms into
 * a new one). Arrays come back dirty: callers overwrite every element.
 */
export class BufferPool {
  private readonly free = new Map<number, Float32Array[]>();
  private pooledBytes = 0;

  constructor(readonly maxBytes: number = DEFAULT_POOL_BYTES) {}

  alloc(length: number): Float32Array {
    const reused = this.free.get(length)?.pop();
    if (reused) {
      this.pooledBytes -= reused.byteLength;
      return reused;
    }
    return new Float32Array(length);
  }

  /** Takes an array back; beyond `maxBytes` it is left to the garbage collector. */
  release(values: Float32Array): void {
    if (values.length === 0 || this.pooledBytes + values.byteLength > this.maxBytes) return;
    let list = this.free.get(values.length);
    if (!list) {
      list = [];
      this.free.set(values.length, list);
    }
    list.push(values);
    this.pooledBytes += values.byteLength;
  }

  get bytes(): number {
    return this.pooledBytes;
  }

  clear(): void {
    this.free.clear();
    this.pooledBytes = 0;
  }
}
