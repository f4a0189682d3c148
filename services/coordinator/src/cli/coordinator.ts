import { selectBackend } from '@gradq/backend';
import { assertConverged, givenOptions, Progress, readOptions, runMain, usage } from '@gradq/trainer';
import { COORDINATOR_OPTIONS, coordinatorConfigSchema } from '../config';
import { runCoordinator } from '../coordinator';

runMain(async (signal) => {
  const config = readOptions(COORDINATOR_OPTIONS, coordinatorConfigSchema, process.argv.slice(2), process.env);
  if (config.help) {
    process.stdout.write(
      `${usage('pnpm coordinator', COORDINATOR_OPTIONS)}\n\nRuns the coordinator alone; start workers with 'pnpm worker' anywhere that reaches the same Redis.\n`,
    );
    return;
  }
  const progress = new Progress({ epochs: config.epochs });
  const log = (line: string) => progress.log(`coordinator: ${line}`);
  const backend = await selectBackend({ log });
  const summary = await runCoordinator(config, backend, {
    log,
    signal,
    given: givenOptions(COORDINATOR_OPTIONS, process.argv.slice(2), process.env),
    onStep: (r) => progress.step(r),
    onEpoch: (r, previous) => progress.epoch(r, previous),
  });
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  assertConverged(summary, config.learningRate);
});
