import { selectBackend } from '@gradq/backend';
import { loadMnist } from '@gradq/model';
import { z } from 'zod';
import {
  checkHyperparams,
  DATA_OPTIONS,
  dataOptionsShape,
  ENGINE_OPTIONS,
  engineOptionsShape,
  HYPERPARAM_OPTIONS,
  hyperparamsShape,
  newRunId,
  pickHyperparams,
} from '../config';
import { localRoundSource } from '../local/index';
import { localGradientSource } from '../local-source';
import { train, trainingSet } from '../loop';
import { runMain } from '../main';
import { loadNativeMath } from '../optimizer';
import { type OptionSpec, readOptions, usage } from '../options';
import { prepareEngine, prepareTrainee } from '../prepare';
import { Progress } from '../progress';
import { assertConverged, summarize, writeSummary } from '../summary';

const OPTIONS: readonly OptionSpec[] = [
  ...HYPERPARAM_OPTIONS,
  ...DATA_OPTIONS,
  ...ENGINE_OPTIONS,
  { key: 'help', flag: 'help', type: 'boolean', doc: 'print this help' },
];
const schema = z
  .object({ ...hyperparamsShape, ...dataOptionsShape, ...engineOptionsShape, help: z.boolean().optional() })
  .superRefine(checkHyperparams);

runMain(async (signal) => {
  const config = readOptions(OPTIONS, schema, process.argv.slice(2), process.env);
  if (config.help) {
    process.stdout.write(
      `${usage('pnpm baseline', OPTIONS)}\n\nTrains in one process, no queues: the reference the distributed trainer is held to.\n`,
    );
    return;
  }
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const h = pickHyperparams(config);
  const runId = config.runId ?? newRunId();
  const backend = await selectBackend({ log });
  const data = await loadMnist(config.dataDir, { log });
  const trainSet = trainingSet(data.train, h.limit);
  const trainee = await prepareTrainee(h, config.optimizer, log);
  const engine = await prepareEngine(h, backend.name, log);
  const local =
    h.algorithm === 'local'
      ? `, local: ${h.replicas} replica(s) x ${h.innerSteps} inner step(s) per round, outer lr ${h.outerLr} momentum ${h.outerMomentum}, inner state ${h.innerState}`
      : '';
  log(
    `baseline ${runId}: ${h.epochs} epoch(s) of ${trainSet.count} samples, batch ${h.batchSize} in ${h.shardsPerStep} shard(s), seed ${h.seed}, backend ${backend.name}${local}`,
  );
  const source =
    h.algorithm === 'local'
      ? localRoundSource(engine, trainee, trainSet, h, (await loadNativeMath()).adamUpdate)
      : localGradientSource(engine, trainee, trainSet, h.gradEncoding);

  const progress = new Progress({ epochs: h.epochs });
  const result = await train(h, { train: trainSet, test: data.test }, trainee, source, {
    signal,
    onStep: (r) => progress.step(r),
    onEpoch: (r) => progress.epoch(r, trainee.position.testMse.at(-2)),
  });

  engine.dispose();
  const summary = summarize(runId, backend.name, h.epochs, trainee, result);
  if (config.summaryPath) await writeSummary(config.summaryPath, summary);
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  assertConverged(summary, h.learningRate);
});
