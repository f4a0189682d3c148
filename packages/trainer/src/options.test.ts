import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import {
  checkHyperparams,
  DATA_OPTIONS,
  dataOptionsShape,
  HYPERPARAM_OPTIONS,
  hyperparamsSchema,
  hyperparamsShape,
  newRunId,
  pickHyperparams,
  RUN_ID_PATTERN,
} from './config';
import { ConfigError, type OptionSpec, readOptions, usage } from './options';

/** What the baseline command parses: hyperparameters, data options and --help. */
const SPECS: readonly OptionSpec[] = [
  ...HYPERPARAM_OPTIONS,
  ...DATA_OPTIONS,
  { key: 'help', flag: 'help', type: 'boolean', doc: 'print this help' },
];
const schema = z
  .object({ ...hyperparamsShape, ...dataOptionsShape, help: z.boolean().optional() })
  .superRefine(checkHyperparams);

const read = (argv: string[], env: NodeJS.ProcessEnv = {}) => readOptions(SPECS, schema, argv, env);

/** Asserts a ConfigError whose message contains every fragment. */
function configError(fn: () => unknown, ...fragments: (string | RegExp)[]): void {
  assert.throws(fn, (err: Error) => {
    assert.ok(err instanceof ConfigError, `not a ConfigError: ${err}`);
    assert.equal(err.name, 'ConfigError');
    for (const f of fragments) {
      if (typeof f === 'string') assert.ok(err.message.includes(f), `'${f}' not in: ${err.message}`);
      else assert.match(err.message, f);
    }
    return true;
  });
}

describe('readOptions with the trainer options', () => {
  test('defaults are the seed network and its training settings', () => {
    const config = read([]);
    assert.deepEqual(pickHyperparams(config), {
      epochs: 10,
      batchSize: 128,
      shardsPerStep: 4,
      outputActivation: 'relu',
      layerSizes: [784, 392, 196, 392, 784],
      learningRate: 1e-3,
      seed: 1,
      limit: 0,
      gradEncoding: 'f32',
      algorithm: 'sync',
      replicas: 4,
      innerSteps: 8,
      outerLr: 0.7,
      outerMomentum: 0.9,
      innerState: 'keep',
    });
    assert.equal(config.dataDir, 'data/mnist');
    assert.equal(config.runId, undefined);
    assert.equal(config.help, undefined);
  });

  test('flags and environment variables are read and coerced', () => {
    const config = read(['--batch-size', '64', '--layers', '784, 64,784', '--learning-rate=5e-4'], {
      SEED: '42',
      OUTPUT_ACTIVATION: 'sigmoid',
      MNIST_DIR: '/data/mnist',
      RUN_ID: 'exp-1.a_b',
    });
    assert.equal(config.batchSize, 64);
    assert.deepEqual(config.layerSizes, [784, 64, 784]);
    assert.equal(config.learningRate, 5e-4);
    assert.equal(config.seed, 42);
    assert.equal(config.outputActivation, 'sigmoid');
    assert.equal(config.dataDir, '/data/mnist');
    assert.equal(config.runId, 'exp-1.a_b');
  });

  test('a flag beats its environment variable', () => {
    assert.equal(read(['--batch-size', '32'], { BATCH_SIZE: '64' }).batchSize, 32);
    assert.equal(read([], { BATCH_SIZE: '64' }).batchSize, 64);
    assert.deepEqual(read(['--layers', '784,10,784'], { LAYERS: '784,20,784' }).layerSizes, [784, 10, 784]);
  });

  test('an empty environment variable counts as unset', () => {
    assert.equal(read([], { BATCH_SIZE: '', EPOCHS: '' }).batchSize, 128);
  });

  test('boolean flags take no value, and 1/true/yes from the environment', () => {
    assert.equal(read(['--help']).help, true);
    const specs: OptionSpec[] = [{ key: 'verbose', flag: 'verbose', env: 'VERBOSE', type: 'boolean', doc: '' }];
    const s = z.object({ verbose: z.boolean().default(false) });
    assert.equal(readOptions(specs, s, [], { VERBOSE: 'TRUE' }).verbose, true);
    assert.equal(readOptions(specs, s, [], { VERBOSE: 'yes' }).verbose, true);
    assert.equal(readOptions(specs, s, [], { VERBOSE: '0' }).verbose, false);
    assert.equal(readOptions(specs, s, [], {}).verbose, false);
  });

  test('an invalid flag value names the flag and its variable, and what was given', () => {
    configError(() => read(['--batch-size', 'abc']), '--batch-size (BATCH_SIZE): ', "got 'abc'");
    configError(() => read(['--batch-size', '12.5']), '--batch-size (BATCH_SIZE): must be an integer');
    configError(() => read(['--epochs', '0']), '--epochs (EPOCHS): must be at least 1', "got '0'");
    configError(() => read(['--limit=-1']), '--limit (LIMIT): must be at least 0');
    configError(() => read(['--learning-rate=-0.1']), '--learning-rate (LEARNING_RATE): must be positive');
    configError(() => read(['--learning-rate', 'Infinity']), '--learning-rate (LEARNING_RATE)');
    configError(() => read(['--output-activation', 'tanh']), '--output-activation (OUTPUT_ACTIVATION)', "'tanh'");
    configError(() => read(['--layers', '784,x,784']), '--layers (LAYERS)');
    configError(() => read(['--layers', '784,0,784']), '--layers (LAYERS): sizes must be positive');
    configError(() => read(['--run-id', '../etc']), '--run-id (RUN_ID): must be 1-64 characters');
  });

  test('an invalid environment value names the same flag and variable', () => {
    configError(() => read([], { BATCH_SIZE: 'lots' }), '--batch-size (BATCH_SIZE)', "got 'lots'");
    configError(() => read([], { SEED: '-3' }), '--seed (SEED): must be at least 0');
  });

  test('every problem is reported at once, one line each', () => {
    assert.throws(
      () => read(['--epochs', '0', '--seed', 'x']),
      (err: Error) => {
        const lines = err.message.split('\n');
        assert.equal(lines.length, 2, err.message);
        assert.ok(
          lines.some((l) => l.startsWith('--epochs (EPOCHS)')),
          err.message,
        );
        assert.ok(
          lines.some((l) => l.startsWith('--seed (SEED)')),
          err.message,
        );
        return true;
      },
    );
  });

  test('unknown flags, missing values and positional arguments are rejected', () => {
    configError(
      () => read(['--bach-size', '3']),
      "Unknown option '--bach-size'",
      'Did you mean --batch-size?',
      '--help',
    );
    configError(() => read(['--epoch', '3']), 'Did you mean --epochs?');
    assert.throws(
      () => read(['--quux', '3']),
      (err: Error) => !err.message.includes('Did you mean'),
    );
    configError(() => read(['--batch-size']), '--batch-size');
    configError(() => read(['train']), "'train'");
  });

  test('cross-field rule: shards per step may not exceed the batch size', () => {
    configError(
      () => read(['--batch-size', '8', '--shards-per-step', '9']),
      '--shards-per-step (SHARDS_PER_STEP): must not exceed the batch size (8)',
    );
    assert.equal(read(['--batch-size', '8', '--shards-per-step', '8']).shardsPerStep, 8);
    configError(() => read([], { SHARDS_PER_STEP: '129' }), 'SHARDS_PER_STEP', 'batch size (128)');
  });

  test('cross-field rule: layers must start and end with 784', () => {
    for (const layers of ['100,784', '784,100', '784,32,783', '28,28']) {
      configError(() => read(['--layers', layers]), '--layers (LAYERS): must start and end with 784');
    }
  });
});

describe('hyperparamsSchema', () => {
  test('rejects unknown keys, so a checkpoint from another version is not silently misread', () => {
    const valid = hyperparamsSchema.parse({});
    assert.equal(hyperparamsSchema.safeParse(valid).success, true);
    const result = hyperparamsSchema.safeParse({ ...valid, momentum: 0.9 });
    assert.equal(result.success, false);
    assert.match(JSON.stringify(result.error?.issues), /momentum/);
  });

  test('applies the cross-field rules too', () => {
    assert.equal(hyperparamsSchema.safeParse({ batchSize: 2, shardsPerStep: 3 }).success, false);
    assert.equal(hyperparamsSchema.safeParse({ layerSizes: [784, 10] }).success, false);
  });

  test('pickHyperparams drops everything else', () => {
    const config = read(['--run-id', 'r1', '--summary', 'out.json']);
    const h = pickHyperparams(config);
    assert.deepEqual(Object.keys(h).sort(), Object.keys(hyperparamsShape).sort());
    assert.equal(hyperparamsSchema.safeParse(h).success, true);
  });
});

describe('run ids and usage', () => {
  test('newRunId is a valid run id, stamped with the time', () => {
    const id = newRunId(new Date('2024-05-06T07:08:09Z'));
    assert.match(id, /^run-20240506-070809-[0-9a-f]{4}$/);
    assert.match(id, RUN_ID_PATTERN);
  });

  test('usage lists every flag with its variable', () => {
    const text = usage('pnpm baseline', SPECS);
    for (const spec of SPECS) {
      assert.ok(text.includes(`--${spec.flag}`), spec.flag);
      if (spec.env) assert.ok(text.includes(spec.env), spec.env);
    }
    assert.ok(text.includes('--help  '), 'a boolean flag shows no <value>');
  });
});
