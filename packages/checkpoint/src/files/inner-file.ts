import type { AdamState } from '@gradq/model';
import { z } from 'zod';
import type { InnerStates } from '../content';
import { CheckpointVerificationError } from '../errors/index';
import { CHECKPOINT_FILES } from '../keys';
import { float32View } from './model-artifacts';

export const INNER_FORMAT = 'gradq-inner-adam/1';

/**
 * inner.json: how to read inner.bin, the inner Adam states of a `--algorithm local` run's replicas (kept between
 * rounds): per replica, its first moment then its second moment, float32 little-endian, layout order.
 */
const innerJsonSchema = z.strictObject({
  format: z.literal(INNER_FORMAT),
  /** Values per moment: the parameter layout's size. */
  size: z.number().int().nonnegative(),
  replicas: z.array(
    z.strictObject({
      replica: z.number().int().nonnegative(),
      /** Inner Adam steps the replica has taken: decides its next bias corrections. */
      iterations: z.number().int().nonnegative(),
      byteOffset: z.number().int().nonnegative(),
    }),
  ),
});

export function encodeInnerFiles(inner: InnerStates, size: number): { json: Uint8Array; bin: Uint8Array } {
  const bin = new Uint8Array(inner.length * 8 * size);
  const replicas = inner.map(({ replica, state }, i) => {
    const byteOffset = i * 8 * size;
    bin.set(new Uint8Array(state.firstMoment.buffer, state.firstMoment.byteOffset, 4 * size), byteOffset);
    bin.set(new Uint8Array(state.secondMoment.buffer, state.secondMoment.byteOffset, 4 * size), byteOffset + 4 * size);
    return { replica, iterations: state.iterations, byteOffset };
  });
  const json = { format: INNER_FORMAT, size, replicas } satisfies z.infer<typeof innerJsonSchema>;
  return { json: new TextEncoder().encode(`${JSON.stringify(json, null, 2)}\n`), bin };
}

export function decodeInnerFiles(json: Uint8Array, bin: Uint8Array, size: number): InnerStates {
  const fail = (why: string) => new CheckpointVerificationError(`inner.json: ${why}`, CHECKPOINT_FILES.innerJson);
  let parsed: z.ZodSafeParseResult<z.infer<typeof innerJsonSchema>>;
  try {
    parsed = innerJsonSchema.safeParse(JSON.parse(new TextDecoder().decode(json)));
  } catch (err) {
    throw fail((err as Error).message);
  }
  if (!parsed.success) throw fail(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  if (parsed.data.size !== size) throw fail(`size ${parsed.data.size} differs from the model's ${size}`);
  if (bin.byteLength !== parsed.data.replicas.length * 8 * size)
    throw new CheckpointVerificationError(
      `inner.bin has ${bin.byteLength} bytes, inner.json describes ${parsed.data.replicas.length * 8 * size}`,
      CHECKPOINT_FILES.inner,
    );
  return parsed.data.replicas.map(({ replica, iterations, byteOffset }) => {
    if (byteOffset + 8 * size > bin.byteLength) throw fail(`replica ${replica}'s offset is past inner.bin's end`);
    const state: AdamState = {
      iterations,
      firstMoment: float32View(bin.subarray(byteOffset, byteOffset + 4 * size)),
      secondMoment: float32View(bin.subarray(byteOffset + 4 * size, byteOffset + 8 * size)),
    };
    return { replica, state };
  });
}
