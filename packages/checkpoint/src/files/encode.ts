import { MNIST_PIXELS, scalePixels } from '@gradq/model';
import * as tf from '@tensorflow/tfjs';
import type { CheckpointContent } from '../content';
import { CHECKPOINT_FILES } from '../keys';
import { buildManifest, encodeManifest, type Manifest } from '../manifest';
import { encodeInnerFiles } from './inner-file';
import { encodeModelFiles, withModel } from './model-artifacts';
import { encodeOptimizerFiles } from './optimizer-file';
import { renderPreview } from './preview';
import { encodeTrainerJson, TRAINER_FORMAT } from './trainer-file';

export interface EncodedFile {
  readonly name: string;
  readonly bytes: Uint8Array;
}

export interface EncodedCheckpoint {
  /** Every file but the manifest, in upload order. */
  readonly files: readonly EncodedFile[];
  readonly manifest: Manifest;
  readonly manifestBytes: Uint8Array;
  /** Sum of all file sizes, manifest included. */
  readonly bytes: number;
}

export interface EncodeOptions {
  /** Up to 16 MNIST test images (784 bytes each) for preview.png. Default: no preview. */
  readonly previewDigits?: Uint8Array;
  /** Time recorded in the manifest and trainer.json. Default: now. */
  readonly now?: Date;
}

/** The first `count` test digits, for {@link EncodeOptions.previewDigits}. */
export function previewDigitsFrom(test: { count: number; pixels: Uint8Array }, count = 16): Uint8Array {
  return test.pixels.slice(0, Math.min(count, test.count) * MNIST_PIXELS);
}

/** All files of a checkpoint, in memory. Uses TensorFlow.js (the selected backend) to build the model once. */
export async function encodeCheckpoint(
  content: CheckpointContent,
  options: EncodeOptions = {},
): Promise<EncodedCheckpoint> {
  const createdAt = (options.now ?? new Date()).toISOString();
  const digits = options.previewDigits;
  const previewCount = digits ? Math.min(16, Math.floor(digits.length / MNIST_PIXELS)) : 0;
  const { model, preview } = await withModel(
    content.hyperparams,
    content.params,
    content.layoutFingerprint,
    async (m) => {
      const modelFiles = await encodeModelFiles(m);
      let png: Uint8Array | undefined;
      if (digits && previewCount > 0) {
        const inputs = scalePixels(digits.subarray(0, previewCount * MNIST_PIXELS));
        const outputs = tf.tidy(() =>
          (m.predict(tf.tensor2d(inputs, [previewCount, MNIST_PIXELS])) as tf.Tensor).dataSync(),
        );
        png = renderPreview(digits, outputs as Float32Array, previewCount);
      }
      return { model: modelFiles, preview: png };
    },
  );
  const optimizer = encodeOptimizerFiles(content.adam, {
    learningRate: content.hyperparams.learningRate,
    layoutFingerprint: content.layoutFingerprint,
  });
  const trainer = encodeTrainerJson({
    format: TRAINER_FORMAT,
    runId: content.runId,
    step: content.step,
    epochEnd: content.epochEnd,
    position: content.position,
    rngState: content.rngState,
    hyperparams: content.hyperparams,
    layoutFingerprint: content.layoutFingerprint,
    paramCount: content.params.length,
    backend: content.backend,
    metrics: content.metrics,
    createdAt,
  });
  // The big weights first: if anything fails, it fails early; the small descriptive files follow.
  const files: EncodedFile[] = [
    { name: CHECKPOINT_FILES.weights, bytes: model.weights },
    { name: CHECKPOINT_FILES.optimizer, bytes: optimizer.bin },
    { name: CHECKPOINT_FILES.modelJson, bytes: model.modelJson },
    { name: CHECKPOINT_FILES.optimizerJson, bytes: optimizer.json },
    { name: CHECKPOINT_FILES.trainer, bytes: trainer },
    ...(preview ? [{ name: CHECKPOINT_FILES.preview, bytes: preview }] : []),
  ];
  if (content.inner) {
    const inner = encodeInnerFiles(content.inner, content.params.length);
    files.splice(
      2,
      0,
      { name: CHECKPOINT_FILES.inner, bytes: inner.bin },
      { name: CHECKPOINT_FILES.innerJson, bytes: inner.json },
    );
  }
  const manifest = buildManifest(
    { runId: content.runId, step: content.step, epochEnd: content.epochEnd, createdAt },
    files,
  );
  const manifestBytes = encodeManifest(manifest);
  const bytes = files.reduce((sum, f) => sum + f.bytes.byteLength, manifestBytes.byteLength);
  return { files, manifest, manifestBytes, bytes };
}
