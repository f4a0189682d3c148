import type { CheckpointContent } from '../content';
import { CheckpointVerificationError } from '../errors/index';
import { CHECKPOINT_FILES } from '../keys';
import type { Manifest } from '../manifest';
import { decodeInnerFiles } from './inner-file';
import { decodeModelFiles } from './model-artifacts';
import { decodeOptimizerFiles } from './optimizer-file';
import { decodeTrainerJson } from './trainer-file';

/** A verified checkpoint, decoded: what was saved (continue with `trainee.params.set(params)` and
 * `trainee.optimizer.setState(adam)`), plus when it was written and the manifest it was verified against. */
export interface LoadedCheckpoint extends CheckpointContent {
  readonly createdAt: string;
  readonly manifest: Manifest;
}

/** Decodes files that already matched their manifest, cross-checking what the files say about each other. */
export function decodeCheckpoint(manifest: Manifest, files: ReadonlyMap<string, Uint8Array>): LoadedCheckpoint {
  const file = (name: string) => {
    const bytes = files.get(name);
    if (!bytes) throw new CheckpointVerificationError(`${name} is missing`, name);
    return bytes;
  };
  const trainer = decodeTrainerJson(file(CHECKPOINT_FILES.trainer));
  const model = decodeModelFiles({
    modelJson: file(CHECKPOINT_FILES.modelJson),
    weights: file(CHECKPOINT_FILES.weights),
  });
  const { adam, description } = decodeOptimizerFiles(
    file(CHECKPOINT_FILES.optimizerJson),
    file(CHECKPOINT_FILES.optimizer),
  );
  const mismatch = (name: string, why: string) => new CheckpointVerificationError(`${name}: ${why}`, name);
  if (trainer.runId !== manifest.runId || trainer.step !== manifest.step || trainer.position.step !== manifest.step) {
    throw mismatch(
      CHECKPOINT_FILES.trainer,
      `describes run ${trainer.runId} step ${trainer.step}, manifest step ${manifest.step}`,
    );
  }
  if (model.fingerprint !== trainer.layoutFingerprint) {
    throw mismatch(
      CHECKPOINT_FILES.modelJson,
      `layout ${model.fingerprint} differs from trainer.json's ${trainer.layoutFingerprint}`,
    );
  }
  if (description.layoutFingerprint !== trainer.layoutFingerprint || adam.firstMoment.length !== model.params.length) {
    throw mismatch(CHECKPOINT_FILES.optimizerJson, `does not match the model's layout`);
  }
  if (adam.iterations !== trainer.step) {
    throw mismatch(CHECKPOINT_FILES.optimizerJson, `iterations ${adam.iterations} differ from step ${trainer.step}`);
  }
  const innerBin = files.get(CHECKPOINT_FILES.inner);
  const innerJson = files.get(CHECKPOINT_FILES.innerJson);
  if ((innerBin === undefined) !== (innerJson === undefined))
    throw mismatch(CHECKPOINT_FILES.innerJson, 'inner.bin and inner.json come together');
  const inner = innerBin && innerJson ? decodeInnerFiles(innerJson, innerBin, model.params.length) : undefined;
  return {
    ...(inner ? { inner } : {}),
    runId: trainer.runId,
    step: trainer.step,
    epochEnd: trainer.epochEnd,
    hyperparams: trainer.hyperparams,
    params: model.params,
    layoutFingerprint: trainer.layoutFingerprint,
    adam,
    position: trainer.position,
    rngState: trainer.rngState,
    backend: trainer.backend,
    metrics: trainer.metrics,
    createdAt: trainer.createdAt,
    manifest,
  };
}
