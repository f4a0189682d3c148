import { ConfigError, HYPERPARAM_OPTIONS, type Hyperparams } from '@gradq/trainer';

/** What a resumed run trains with: its checkpoint's settings, `epochs` raised if asked; and the line that says so. */
export interface ResumeSettings {
  readonly hyperparams: Hyperparams;
  readonly line: string;
}

/**
 * A resumed run keeps the training settings of its checkpoint: any other batch, seed, model or learning rate would
 * make it a different run than the one it continues. The only one a user may change is `--epochs`, to train longer
 * (or shorter, down to the epochs done). A setting given explicitly that differs is a usage error naming it; the old
 * code ignored it silently (`--resume R --epochs 2` trained nothing and said nothing).
 */
export function resumeSettings(
  saved: Hyperparams,
  asked: Hyperparams,
  given: ReadonlySet<string>,
  epochsDone: number,
): ResumeSettings {
  const problems: string[] = [];
  for (const spec of HYPERPARAM_OPTIONS) {
    const key = spec.key as keyof Hyperparams;
    if (!(key in saved) || key === 'epochs' || !given.has(key)) continue;
    if (JSON.stringify(asked[key]) !== JSON.stringify(saved[key]))
      problems.push(`--${spec.flag} ${format(asked[key])}: this run was trained with ${format(saved[key])}`);
  }
  let epochs = saved.epochs;
  if (given.has('epochs') && asked.epochs !== saved.epochs) {
    if (asked.epochs < epochsDone)
      problems.push(`--epochs ${asked.epochs}: this run has done ${epochsDone} epoch(s) already`);
    epochs = asked.epochs;
  }
  if (problems.length > 0)
    throw new ConfigError(
      `${problems.join('\n')}\na resumed run keeps its checkpoint's training settings; only --epochs may change (to train longer)`,
    );
  const hyperparams = { ...saved, epochs };
  const changed = epochs === saved.epochs ? '' : ` (was ${saved.epochs})`;
  const line =
    epochsDone >= epochs
      ? `it has done its ${epochs} epoch(s): nothing to train; pass --epochs N (more than ${epochs}) to train longer`
      : `training settings from the checkpoint: ${epochs} epoch(s)${changed}, batch ${saved.batchSize}, seed ${saved.seed}, learning rate ${saved.learningRate}`;
  return { hyperparams, line };
}

function format(value: unknown): string {
  return Array.isArray(value) ? value.join(',') : String(value);
}
