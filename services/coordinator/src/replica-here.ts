import type { BlockGradient, Leaf } from '@gradq/engine';
import type { AdamState } from '@gradq/model';
import type { InnerPointer, RunData } from '@gradq/protocol';
import type { ReplicaRunner } from '@gradq/trainer';

/**
 * A local round's replica computed by the coordinator itself (its change came back non-finite twice, so no worker's
 * word decides): the same inner steps as a worker's, from the inner state Redis points at; the new state is written
 * to Redis like a worker's, and returned as the pointer that makes it current.
 */
export async function replicaHere(o: {
  readonly runner: ReplicaRunner;
  readonly data: RunData;
  /** The replica's current pointer; undefined with `--inner-state reset`. */
  readonly pointer: InnerPointer | undefined;
  readonly step: number;
  readonly global: Float32Array;
  readonly order: Uint32Array;
  readonly span: Leaf;
  readonly roundSamples: number;
  readonly out: Float32Array;
}): Promise<BlockGradient & { inner?: InnerPointer }> {
  let state: AdamState | undefined;
  if (o.pointer && !('fresh' in o.pointer)) {
    const moments = { firstMoment: new Float32Array(o.global.length), secondMoment: new Float32Array(o.global.length) };
    if (!(await o.data.readInnerState(o.pointer.step, o.pointer.token, moments)))
      throw new Error(`inner state of round ${o.pointer.step} is not in Redis`);
    state = { iterations: o.pointer.iterations, ...moments };
  }
  const result = await o.runner.run({
    global: o.global,
    order: o.order,
    span: o.span,
    roundSamples: o.roundSamples,
    ...(state ? { state } : {}),
    out: o.out,
  });
  if (!o.pointer) return result;
  const token = await o.data.writeInnerState(o.step, result.state);
  return { ...result, inner: { step: o.step, token, iterations: result.state.iterations } };
}
