/**
 * Section `encodings`: what rounding gradients to 16 bits costs in quality. `pnpm baseline --grad-encoding X` for
 * f32, f16 and bf16 (the baseline rounds every node of the leaf tree exactly as workers and the coordinator do, so it
 * trains the same numbers as a cluster would); parameters stay float32.
 */
import { bytesPerValue, type WireEncoding } from '@gradq/model';
import type { BenchContext } from './context';
import type { EncodingResults } from './results';
import { runBaselineCli } from './sections';

const ENCODINGS: readonly WireEncoding[] = ['f32', 'f16', 'bf16'];

export async function measureEncodings(ctx: BenchContext, paramCount: number): Promise<EncodingResults> {
  const z = ctx.sizes.encodings;
  const runs: EncodingResults['runs'][number][] = [];
  let f32: number | undefined;
  for (const encoding of ENCODINGS) {
    ctx.log(
      `encodings: pnpm baseline --grad-encoding ${encoding}, ${z.epochs} epoch(s) of ${z.limit || 'all'} samples`,
    );
    const r = await runBaselineCli(ctx, { batchSize: ctx.sizes.batchSize, limit: z.limit, epochs: z.epochs }, [
      '--grad-encoding',
      encoding,
    ]);
    if (!r.ok) {
      runs.push({ encoding, ok: false, error: r.error });
      ctx.log(`  failed: ${r.error}`);
      continue;
    }
    const testMse = r.summary.test_mse_by_epoch.at(-1) ?? Number.NaN;
    if (encoding === 'f32') f32 = testMse;
    runs.push({
      encoding,
      ok: true,
      testMse,
      testMseByEpoch: r.summary.test_mse_by_epoch,
      ratioToF32: f32 === undefined ? Number.NaN : testMse / f32,
      gradBytesPerJob: paramCount * bytesPerValue(encoding),
      samplesPerSecond: r.summary.train_samples_per_s,
      seconds: r.seconds,
    });
    ctx.log(`  test MSE ${testMse.toFixed(6)} after ${z.epochs} epoch(s)`);
  }
  return { sizes: z, paramCount, runs };
}
