import type { CheckpointWriter, InnerStates } from '@gradq/checkpoint';
import { epochRng, type Hyperparams, type Trainee } from '@gradq/trainer';

/**
 * When to checkpoint, and what: every `every` steps and at each epoch end. `save` copies what it needs and
 * returns, so the next steps run while the writer uploads (at most one upload in flight).
 */
export class Checkpointer {
  constructor(
    private readonly writer: CheckpointWriter,
    private readonly o: {
      runId: string;
      hyperparams: Hyperparams;
      backend: string;
      every: number;
      /** `--algorithm local` with `keep`: the replicas' inner states, read when a checkpoint is taken. */
      inner?: () => Promise<InnerStates>;
    },
  ) {}

  /** The step of the last checkpoint this run asked for (-1: none yet). */
  private lastSaved = -1;

  async afterStep(trainee: Trainee, loss: number): Promise<void> {
    const { step, stepInEpoch } = trainee.position;
    // The last step of an epoch is saved by afterEpoch, with its test MSE.
    if (this.o.every > 0 && step % this.o.every === 0 && stepInEpoch !== 0) await this.save(trainee, false, { loss });
  }

  async afterEpoch(trainee: Trainee, testMse: number, loss: number | undefined): Promise<void> {
    await this.save(trainee, true, { testMse, ...(loss === undefined ? {} : { loss }) });
  }

  /**
   * A run stopped (Ctrl-C, SIGTERM): saves where it stands unless that step is saved already. The trainer stops
   * between steps, so parameters, optimizer and position agree. Returns whether a step had been trained at all.
   */
  async onStop(trainee: Trainee, loss: number | undefined): Promise<boolean> {
    if (trainee.position.step === 0) return false;
    if (trainee.position.step !== this.lastSaved) await this.save(trainee, false, loss === undefined ? {} : { loss });
    return true;
  }

  private async save(trainee: Trainee, epochEnd: boolean, metrics: { loss?: number; testMse?: number }): Promise<void> {
    const { bound, position } = trainee;
    this.lastSaved = position.step;
    const inner = await this.o.inner?.();
    this.writer.save({
      runId: this.o.runId,
      step: position.step,
      epochEnd,
      hyperparams: this.o.hyperparams,
      params: trainee.params,
      layoutFingerprint: bound.layout.fingerprint,
      adam: await trainee.optimizer.getState(),
      position,
      rngState: epochRng(this.o.hyperparams.seed, position.epoch).state,
      backend: this.o.backend,
      metrics,
      ...(inner ? { inner } : {}),
    });
  }
}
