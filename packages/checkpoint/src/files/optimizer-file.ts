import { endianness } from 'node:os';
import type { AdamState } from '@gradq/model';
import { z } from 'zod';
import { CheckpointVerificationError } from '../errors/index';
import { CHECKPOINT_FILES } from '../keys';
import { float32View } from './model-artifacts';

export const OPTIMIZER_FORMAT = 'gradq-adam/1';

/** optimizer.json: how to read optimizer.bin (first moment, then second moment, float32 little-endian, layout order). */
const optimizerJsonSchema = z.strictObject({
  format: z.literal(OPTIMIZER_FORMAT),
  optimizer: z.literal('adam'),
  /** Adam steps applied; decides the bias corrections of the next step. */
  iterations: z.number().int().nonnegative(),
  learningRate: z.number().positive(),
  /** Values per moment: the parameter layout's size. */
  size: z.number().int().nonnegative(),
  layoutFingerprint: z.string(),
  dtype: z.literal('float32'),
  byteOrder: z.literal('little-endian'),
  tensors: z.tuple([
    z.strictObject({ name: z.literal('firstMoment'), byteOffset: z.literal(0), length: z.number().int() }),
    z.strictObject({ name: z.literal('secondMoment'), byteOffset: z.number().int(), length: z.number().int() }),
  ]),
});
export type OptimizerJson = z.infer<typeof optimizerJsonSchema>;

// Float32Array bytes are host-order; every platform Node ships for is little-endian, and this says so loudly if not.
function assertLittleEndian(): void {
  if (endianness() !== 'LE') throw new Error('gradq checkpoints assume a little-endian host');
}

export function encodeOptimizerFiles(
  adam: AdamState,
  meta: { learningRate: number; layoutFingerprint: string },
): { json: Uint8Array; bin: Uint8Array } {
  assertLittleEndian();
  const size = adam.firstMoment.length;
  const description: OptimizerJson = {
    format: OPTIMIZER_FORMAT,
    optimizer: 'adam',
    iterations: adam.iterations,
    learningRate: meta.learningRate,
    size,
    layoutFingerprint: meta.layoutFingerprint,
    dtype: 'float32',
    byteOrder: 'little-endian',
    tensors: [
      { name: 'firstMoment', byteOffset: 0, length: size },
      { name: 'secondMoment', byteOffset: 4 * size, length: size },
    ],
  };
  const bin = new Uint8Array(8 * size);
  bin.set(new Uint8Array(adam.firstMoment.buffer, adam.firstMoment.byteOffset, 4 * size), 0);
  bin.set(new Uint8Array(adam.secondMoment.buffer, adam.secondMoment.byteOffset, 4 * size), 4 * size);
  return { json: new TextEncoder().encode(`${JSON.stringify(description, null, 2)}\n`), bin };
}

export function decodeOptimizerFiles(
  json: Uint8Array,
  bin: Uint8Array,
): { adam: AdamState; description: OptimizerJson } {
  assertLittleEndian();
  let parsed: z.ZodSafeParseResult<OptimizerJson>;
  try {
    parsed = optimizerJsonSchema.safeParse(JSON.parse(new TextDecoder().decode(json)));
  } catch (err) {
    throw new CheckpointVerificationError(`optimizer.json: ${(err as Error).message}`, CHECKPOINT_FILES.optimizerJson);
  }
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CheckpointVerificationError(
      `optimizer.json: ${issue?.path.join('.')}: ${issue?.message}`,
      CHECKPOINT_FILES.optimizerJson,
    );
  }
  const d = parsed.data;
  const [first, second] = d.tensors;
  if (first.length !== d.size || second.length !== d.size || second.byteOffset !== 4 * d.size) {
    throw new CheckpointVerificationError(
      'optimizer.json: tensor offsets do not match size',
      CHECKPOINT_FILES.optimizerJson,
    );
  }
  if (bin.byteLength !== 8 * d.size) {
    throw new CheckpointVerificationError(
      `optimizer.bin has ${bin.byteLength} bytes, optimizer.json describes ${8 * d.size}`,
      CHECKPOINT_FILES.optimizer,
    );
  }
  return {
    adam: {
      iterations: d.iterations,
      firstMoment: float32View(bin.subarray(0, 4 * d.size)),
      secondMoment: float32View(bin.subarray(4 * d.size)),
    },
    description: d,
  };
}
