import { bindModel, createAutoencoder, makeLayout, setParams } from '@gradq/model';
import type { Hyperparams } from '@gradq/trainer';
import * as tf from '@tensorflow/tfjs';
import { CheckpointVerificationError } from '../errors/index';
import { CHECKPOINT_FILES } from '../keys';

/** The LayersModel files, as `tf.loadLayersModel('file://.../model.json')` reads them. */
export interface ModelFiles {
  readonly modelJson: Uint8Array;
  readonly weights: Uint8Array;
}

/**
 * Builds the run's autoencoder with these parameters and runs `fn` on it, then frees it. tfjs's own `model.save`
 * produces the topology and weight specs, so the files are exactly what tfjs expects, whatever its version.
 */
export async function withModel<T>(
  hyperparams: Hyperparams,
  params: Float32Array,
  layoutFingerprint: string,
  fn: (model: tf.LayersModel) => Promise<T>,
): Promise<T> {
  const model = createAutoencoder({
    layerSizes: hyperparams.layerSizes,
    outputActivation: hyperparams.outputActivation,
    seed: hyperparams.seed,
  });
  try {
    const bound = bindModel(model);
    if (bound.layout.fingerprint !== layoutFingerprint) {
      throw new RangeError(
        `checkpoint: layout fingerprint ${layoutFingerprint} does not match the hyperparameters' model (${bound.layout.fingerprint})`,
      );
    }
    setParams(bound, params);
    return await fn(model);
  } finally {
    model.dispose();
  }
}

/** model.json and weights.bin, written the way tfjs-node's file handler writes them. */
export async function encodeModelFiles(model: tf.LayersModel): Promise<ModelFiles> {
  let files: ModelFiles | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weightData = artifacts.weightData
        ? tf.io.CompositeArrayBuffer.join(artifacts.weightData)
        : new ArrayBuffer(0);
      const modelJson: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology as object,
        weightsManifest: [{ paths: [CHECKPOINT_FILES.weights], weights: artifacts.weightSpecs ?? [] }],
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
        ...(artifacts.userDefinedMetadata ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
      };
      files = {
        modelJson: new TextEncoder().encode(JSON.stringify(modelJson)),
        weights: new Uint8Array(weightData),
      };
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
  if (!files) throw new Error('model.save produced no artifacts');
  return files;
}

/**
 * The flat parameters out of model.json + weights.bin, without TensorFlow.js: weights in manifest order (tfjs
 * writes them in the model's weight order, which is layout order), and the fingerprint of that layout, which the
 * caller compares with the one recorded in trainer.json.
 */
export function decodeModelFiles(files: ModelFiles): { params: Float32Array; fingerprint: string } {
  const fail = (why: string) => new CheckpointVerificationError(`model.json: ${why}`, CHECKPOINT_FILES.modelJson);
  let json: tf.io.ModelJSON;
  try {
    json = JSON.parse(new TextDecoder().decode(files.modelJson)) as tf.io.ModelJSON;
  } catch (err) {
    throw fail(`not JSON (${(err as Error).message})`);
  }
  const groups = json.weightsManifest;
  if (!Array.isArray(groups) || groups.length !== 1) throw fail('expected one weights group');
  const group = groups[0] as tf.io.WeightsManifestConfig[number];
  if (group.paths.length !== 1 || group.paths[0] !== CHECKPOINT_FILES.weights) {
    throw fail(`weights must be in ${CHECKPOINT_FILES.weights}`);
  }
  const specs = group.weights;
  let bytes = 0;
  for (const spec of specs) {
    if (spec.dtype !== 'float32' || spec.quantization) throw fail(`weight ${spec.name} is not plain float32`);
    bytes += 4 * spec.shape.reduce((a, b) => a * b, 1);
  }
  if (bytes !== files.weights.byteLength) {
    throw new CheckpointVerificationError(
      `weights.bin has ${files.weights.byteLength} bytes, model.json describes ${bytes}`,
      CHECKPOINT_FILES.weights,
    );
  }
  const layout = makeLayout(specs.map((s) => ({ name: s.name, shape: s.shape })));
  return { params: float32View(files.weights), fingerprint: layout.fingerprint };
}

/** A Float32Array copy of little-endian bytes (copied because the bytes may not be 4-byte aligned). */
export function float32View(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}
