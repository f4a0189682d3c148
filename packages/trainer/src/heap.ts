import { setFlagsFromString } from 'node:v8';

/**
 * Lets V8's old generation grow to twice its live size before the next full collection, instead of its own dynamic
 * factor (about 1.35x here). Every command calls this first; the services need it.
 *
 * Why (measured, `packages/bench` scaling point, instant workers): a coordinator moves 3 MB of parameters and 3 MB
 * per gradient each step, and about 40 MB of its 64 MB live heap is module text and source maps. With the default
 * factor the old-generation limit sat ~23 MB above the live size, less than the new space, so V8 began incremental
 * marking right after every full collection: a mark-compact every 3-4 steps, 4.5 ms of main thread per step plus a
 * marking thread competing for the cores. With 2x: no full collection in steady state, and the step at W = 2 fell
 * from 42-43 ms to 21-32 ms (6 runs each). The cost is memory: at most twice the live heap.
 */
export function relaxHeapGrowth(): void {
  setFlagsFromString('--heap-growing-percent=100');
}
