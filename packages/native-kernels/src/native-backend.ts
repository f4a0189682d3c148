import type { BackendValues, DataId, DataType } from '@tensorflow/tfjs';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { BufferPool } from './pool';

/**
 * MathBackendCPU whose native kernels write into recycled arrays. An array is recycled only when it is safe:
 * - it was allocated by {@link allocFloat32} and registered by exactly one tensor (a stock kernel that stores a view
 *   or the same array under a second tensor, as Slice does with subarray, marks it shared: never recycled);
 * - its tensor's data was actually freed (refCount reached 0);
 * - it never left the backend: reads (dataSync, data, bufferSync) of such arrays return copies.
 */
export class NativeCpuBackend extends MathBackendCPU {
  private readonly pool: BufferPool | null;
  private readonly owned = new WeakSet<ArrayBuffer>();
  private readonly live = new WeakSet<ArrayBuffer>();
  private readonly shared = new WeakSet<ArrayBuffer>();

  constructor(options: { poolBytes?: number } = {}) {
    super();
    this.pool = options.poolBytes === 0 ? null : new BufferPool(options.poolBytes);
    // Its first-use banner recommends tfjs-node, which is exactly what cannot be installed where this runs.
    (this as unknown as { firstUse: boolean }).firstUse = false;
  }

  /** An output array for a native kernel; every element must be written. */
  allocFloat32(length: number): Float32Array {
    if (!this.pool) return new Float32Array(length);
    const values = this.pool.alloc(length);
    this.owned.add(values.buffer as ArrayBuffer);
    return values;
  }

  get pooledBytes(): number {
    return this.pool?.bytes ?? 0;
  }

  private track(values: BackendValues | null | undefined): void {
    if (!ArrayBuffer.isView(values)) return;
    const buffer = values.buffer as ArrayBuffer;
    if (!this.owned.has(buffer)) return;
    if (this.live.has(buffer)) this.shared.add(buffer);
    else this.live.add(buffer);
  }

  override write(values: BackendValues, shape: number[], dtype: DataType): DataId {
    this.track(values);
    return super.write(values, shape, dtype);
  }

  override move(dataId: DataId, values: BackendValues, shape: number[], dtype: DataType, refCount: number): void {
    this.track(values);
    super.move(dataId, values, shape, dtype, refCount);
  }

  override readSync(dataId: DataId): BackendValues {
    const values = super.readSync(dataId);
    if (values instanceof Float32Array && this.owned.has(values.buffer as ArrayBuffer)) return values.slice();
    return values;
  }

  override disposeData(dataId: DataId, force = false): boolean {
    const values = this.data.get(dataId)?.values;
    const freed = super.disposeData(dataId, force);
    if (freed && this.pool && values instanceof Float32Array) {
      const buffer = values.buffer as ArrayBuffer;
      if (this.owned.has(buffer) && this.live.has(buffer) && !this.shared.has(buffer)) {
        this.live.delete(buffer);
        this.pool.release(values);
      }
    }
    return freed;
  }

  override dispose(): void {
    this.pool?.clear();
    super.dispose();
  }
}
