// Every configuration variable of every command, given an invalid value, must stop the command with exit code 2 and
// an error naming that flag or variable. The option lists come from each command's own --help (and, for the
// coordinator and worker, from their exported OptionSpec lists), so an option added later without an entry in
// INVALID below fails this test instead of going unchecked.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CheckpointConfigError, loadCheckpointConfig } from '@gradq/checkpoint';
import { COORDINATOR_OPTIONS, coordinatorConfigSchema } from '@gradq/coordinator';
import { CLI, cliEnv, freePortRange, REPO_ROOT, uniqueRunId } from '@gradq/testing';
import { ConfigError, readOptions } from '@gradq/trainer';
import { WORKER_OPTIONS, workerConfigSchema } from '@gradq/worker';

/**
 * An invalid value per flag: `flag` for `--flag=<value>`, `env` for the variable (an empty variable means unset,
 * so some options have no invalid environment value). Booleans are handled apart.
 */
const INVALID: Record<string, { flag: string; env?: string }> = {
  epochs: { flag: '0', env: '0' },
  'batch-size': { flag: 'many', env: 'many' },
  'shards-per-step': { flag: '1.5', env: '1.5' },
  'output-activation': { flag: 'tanh', env: 'tanh' },
  layers: { flag: '784,abc,784', env: '784,0,784' },
  'learning-rate': { flag: '-0.1', env: 'fast' },
  seed: { flag: '-1', env: 'x' },
  limit: { flag: 'lots', env: '-5' },
  'grad-encoding': { flag: 'f8', env: 'int8' },
  optimizer: { flag: 'sgd', env: 'sgd' },
  'data-dir': { flag: '' },
  summary: { flag: '' },
  'run-id': { flag: '../etc/passwd', env: 'a b;rm -rf' },
  resume: { flag: '../x', env: '$(reboot)' },
  'redis-url': { flag: 'http://127.0.0.1:6379', env: 'redis://127.0.0.1:notaport' },
  'checkpoint-every': { flag: '-3', env: 'often' },
  'metrics-port': { flag: '70000', env: 'abc' },
  'metrics-host': { flag: 'no such host', env: 'http://x/' },
  'shard-deadline-ms': { flag: '10', env: 'soon' },
  'check-after-ms': { flag: '1', env: '-1' },
  'jobs-per-step': { flag: '0', env: 'many' },
  workers: { flag: '0', env: 'all' },
  'worker-metrics-port': { flag: '-1', env: '65536' },
  'worker-id': { flag: 'x'.repeat(101), env: 'y'.repeat(101) },
  'lock-ms': { flag: '999', env: 'long' },
  engine: { flag: 'gpu', env: 'opencl' },
  algorithm: { flag: 'async', env: 'diloco' },
  replicas: { flag: '0', env: 'many' },
  'inner-steps': { flag: '-2', env: '1.5' },
  'outer-lr': { flag: '0', env: 'fast' },
  'outer-momentum': { flag: '1', env: '-0.1' },
  'inner-state': { flag: 'drop', env: 'forget' },
};

interface HelpOption {
  flag: string;
  env?: string;
  boolean: boolean;
}

/**
 * Runs a command to its exit; one that does not stop by itself (a worker) gets SIGTERM `stopAfterMs` after its output
 * first matches `from` (at once without it: a loaded machine takes seconds just to start one). A command that hangs
 * is killed after 60 s (after `stopAfterMs` + 60 s), so that it fails the test instead of stalling it.
 */
function run(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  stopAfterMs?: number,
  from?: RegExp,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let stop: NodeJS.Timeout | undefined;
    const armStop = () => {
      if (stopAfterMs !== undefined && stop === undefined) stop = setTimeout(() => child.kill('SIGTERM'), stopAfterMs);
    };
    const take = (c: Buffer) => {
      out += c.toString();
      if (from?.test(out)) armStop();
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    if (!from) armStop();
    const timer = setTimeout(() => child.kill('SIGKILL'), stopAfterMs === undefined ? 60_000 : stopAfterMs + 60_000);
    child.once('close', (code) => {
      clearTimeout(stop);
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

/** `--help` rows: `  --flag <value>  ENV  doc`, with an empty ENV column for flags without a variable. */
async function helpOptions(script: string): Promise<HelpOption[]> {
  const { code, out } = await run(script, ['--help'], cliEnv());
  assert.equal(code, 0, out);
  return out
    .split('\n')
    .filter((l) => /^\s+--[a-z]/.test(l))
    .map((line) => {
      const [flagPart = '', ...rest] = line.trim().split(/\s{2,}/);
      const flag = flagPart.replace(/^--/, '').replace(/ <value>$/, '');
      const env = rest.length >= 2 && /^[A-Z][A-Z0-9_]*$/.test(rest[0] ?? '') ? rest[0] : undefined;
      return { flag, ...(env ? { env } : {}), boolean: !flagPart.includes('<value>') };
    });
}

const COMMANDS = {
  coordinator: CLI.coordinator,
  worker: CLI.worker,
  start: CLI.start,
  baseline: CLI.baseline,
} as const;

/** Environment with only what a test passes: no REDIS_URL etc. from the developer's shell. */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return cliEnv({ METRICS_PORT: undefined, WORKER_METRICS_PORT: undefined, ...extra });
}

for (const [name, script] of Object.entries(COMMANDS)) {
  test(`pnpm ${name}: each invalid flag and variable is named, exit code 2`, async () => {
    const options = await helpOptions(script);
    assert.ok(options.length > 3, `no options parsed from ${name} --help`);
    const valued = options.filter((o) => !o.boolean);
    for (const o of valued)
      assert.ok(INVALID[o.flag], `no invalid value known for ${name} --${o.flag}: add one to INVALID`);

    // Every valued flag wrong at once: the error lists each (the schema reports all its problems together).
    const flags = valued.map((o) => `--${o.flag}=${INVALID[o.flag]?.flag}`);
    const byFlag = await run(script, flags, env());
    assert.equal(byFlag.code, 2, byFlag.out);
    for (const o of valued)
      assert.match(byFlag.out, new RegExp(`--${o.flag}\\b`), `--${o.flag} not named:\n${byFlag.out}`);

    // Every variable wrong at once, booleans included ("maybe" is neither yes nor no).
    const vars: Record<string, string> = {};
    for (const o of options) {
      if (!o.env) continue;
      const bad = o.boolean ? 'maybe' : INVALID[o.flag]?.env;
      if (bad !== undefined) vars[o.env] = bad;
    }
    const byEnv = await run(script, [], env(vars));
    assert.equal(byEnv.code, 2, byEnv.out);
    for (const v of Object.keys(vars))
      assert.match(byEnv.out, new RegExp(`\\b${v}\\b`), `${v} not named:\n${byEnv.out}`);

    // A boolean flag takes no value: parseArgs stops at the first such mistake, so one run each.
    const booleans = options.filter((x) => x.boolean);
    const runs = await Promise.all(booleans.map((o) => run(script, [`--${o.flag}=perhaps`], env())));
    for (const [i, r] of runs.entries()) {
      assert.equal(r.code, 2, r.out);
      assert.match(r.out, new RegExp(`--${booleans[i]?.flag}\\b`));
    }
  });
}

test('the coordinator and worker --help list exactly their OptionSpec lists', async () => {
  const [coordinator, worker] = await Promise.all([helpOptions(CLI.coordinator), helpOptions(CLI.worker)]);
  assert.deepEqual(
    coordinator.map((o) => `${o.flag}:${o.env ?? ''}`),
    COORDINATOR_OPTIONS.map((o) => `${o.flag}:${o.env ?? ''}`),
  );
  assert.deepEqual(
    worker.map((o) => `${o.flag}:${o.env ?? ''}`),
    WORKER_OPTIONS.map((o) => `${o.flag}:${o.env ?? ''}`),
  );
});

test('coordinator and worker options one at a time: each invalid value alone is a ConfigError naming it', () => {
  const lists = [
    { specs: COORDINATOR_OPTIONS, schema: coordinatorConfigSchema },
    { specs: WORKER_OPTIONS, schema: workerConfigSchema },
  ];
  for (const { specs, schema } of lists) {
    for (const spec of specs) {
      const forms: Array<{ argv: string[]; env: NodeJS.ProcessEnv; named: string }> = [];
      const bad = INVALID[spec.flag];
      if (spec.type === 'boolean') {
        if (spec.env) forms.push({ argv: [], env: { [spec.env]: 'maybe' }, named: spec.env });
        forms.push({ argv: [`--${spec.flag}=maybe`], env: {}, named: `--${spec.flag}` });
      } else {
        assert.ok(bad, `no invalid value known for --${spec.flag}`);
        forms.push({ argv: [`--${spec.flag}=${bad.flag}`], env: {}, named: `--${spec.flag}` });
        if (spec.env && bad.env !== undefined) forms.push({ argv: [], env: { [spec.env]: bad.env }, named: spec.env });
      }
      for (const f of forms) {
        assert.throws(
          () => readOptions(specs, schema, f.argv, f.env),
          (err: Error) => err instanceof ConfigError && err.message.includes(f.named),
          `${JSON.stringify(f)} was accepted or not named`,
        );
      }
    }
  }
});

test('a password in an invalid REDIS_URL is not echoed back', async () => {
  const secret = 'hunter2-not-echoed';
  const r = await run(CLI.worker, [], env({ REDIS_URL: `redis://gradq:${secret}@127.0.0.1:notaport` }));
  assert.equal(r.code, 2, r.out);
  assert.match(r.out, /--redis-url \(REDIS_URL\)/);
  assert.ok(!r.out.includes(secret), r.out);
  assert.match(r.out, /gradq:\*\*\*@/);
});

const CHECKPOINT_INVALID: Record<string, string> = {
  S3_BUCKET: 'ab',
  S3_ENDPOINT: 'not a url',
  S3_PREFIX: 'team/../other',
  S3_FORCE_PATH_STYLE: 'maybe',
  CHECKPOINT_KEEP: '0',
  CHECKPOINT_KEEP_EPOCHS: 'sometimes',
  CHECKPOINT_RETRY_ATTEMPTS: '0',
  CHECKPOINT_RETRY_BASE_MS: '-1',
  CHECKPOINT_RETRY_MAX_MS: 'forever',
};

test('checkpoint variables: each invalid value is named, in-process and through the coordinator (exit 2)', async () => {
  for (const [name, value] of Object.entries(CHECKPOINT_INVALID)) {
    // S3_ENDPOINT and S3_PREFIX need a bucket to be meaningful.
    const base = name.startsWith('S3_') && name !== 'S3_BUCKET' ? { S3_BUCKET: 'gradq-test' } : {};
    assert.throws(
      () => loadCheckpointConfig({ ...base, [name]: value }),
      (err: Error) => err instanceof CheckpointConfigError && err.message.includes(name),
      name,
    );
  }
  const r = await run(CLI.coordinator, ['--redis-url', 'redis://127.0.0.1:1'], env(CHECKPOINT_INVALID));
  assert.equal(r.code, 2, r.out);
  for (const name of Object.keys(CHECKPOINT_INVALID)) assert.match(r.out, new RegExp(`\\b${name}\\b`), r.out);
  // A rule across variables, alone.
  const ordered = await run(
    CLI.coordinator,
    ['--redis-url', 'redis://127.0.0.1:1'],
    env({ CHECKPOINT_RETRY_BASE_MS: '5000', CHECKPOINT_RETRY_MAX_MS: '100' }),
  );
  assert.equal(ordered.code, 2, ordered.out);
  assert.match(ordered.out, /CHECKPOINT_RETRY_MAX_MS: must not be below CHECKPOINT_RETRY_BASE_MS/);
});

test('TFJS_BACKEND naming no backend: exit 2 naming it, for each command that computes', async () => {
  const results = await Promise.all(
    [CLI.coordinator, CLI.worker, CLI.baseline].map((script) => run(script, [], env({ TFJS_BACKEND: 'gpu9000' }))),
  );
  for (const r of results) {
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, /TFJS_BACKEND must be one of .*got 'gpu9000'/);
  }
});

test('rules across options name the option at fault', async () => {
  const r = await run(CLI.baseline, ['--batch-size', '8', '--shards-per-step', '16'], env());
  assert.equal(r.code, 2, r.out);
  assert.match(r.out, /--shards-per-step \(SHARDS_PER_STEP\): must not exceed the batch size \(8\)/);
  const layers = await run(CLI.baseline, ['--layers', '100,50,100'], env());
  assert.equal(layers.code, 2, layers.out);
  assert.match(layers.out, /--layers \(LAYERS\): must start and end with 784/);
  for (const script of [CLI.coordinator, CLI.start]) {
    const resume = await run(script, ['--resume', 'run-a', '--run-id', 'run-b'], env());
    assert.equal(resume.code, 2, resume.out);
    assert.match(resume.out, /--run-id \(RUN_ID\): conflicts with --resume run-a/);
  }
  // Past the training set: an error naming --limit, not a silent clamp to all 60,000 samples.
  const limit = await run(CLI.baseline, ['--limit', '60001', '--epochs', '1'], env());
  assert.equal(limit.code, 2, limit.out);
  assert.match(limit.out, /--limit \(LIMIT\): 60001 exceeds the 60000 training samples/);
});

test('an unwritable CHECKPOINT_DIR stops pnpm coordinator and pnpm start at once (exit 2, naming it), not after training', async () => {
  const file = join(tmpdir(), uniqueRunId('ckpt-file'));
  await writeFile(file, 'a file where the checkpoint directory should be');
  try {
    for (const script of [CLI.coordinator, CLI.start]) {
      const started = Date.now();
      const r = await run(
        script,
        ['--limit', '1024', '--metrics-port', '0'],
        env({ CHECKPOINT_DIR: join(file, 'ckpt') }),
      );
      assert.equal(r.code, 2, r.out);
      assert.match(r.out, /CHECKPOINT_DIR \S+ckpt: checkpoints cannot be written there \(ENOTDIR/);
      assert.doesNotMatch(r.out, /epoch 1\/|step 1\//, 'it trained before finding out');
      assert.ok(Date.now() - started < 60_000);
    }
  } finally {
    await rm(file, { force: true });
  }
});

test('a run that diverges (test MSE NaN) prints its summary, then exits 1 naming --learning-rate', async () => {
  const r = await run(CLI.baseline, ['--limit', '512', '--epochs', '1', '--learning-rate', '1e30'], env());
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /"params_sha256"/);
  // NaN on cpu-native; the wasm backend overflows to Infinity instead. Either is a diverged run.
  assert.match(r.out, /training diverged: the final test MSE is (NaN|Infinity) .*lower --learning-rate than 1e\+30/);
});

test('pnpm start: a worker whose metrics port is taken stops the run with exit 2 naming both options, no restart loop', async () => {
  // Worker 2 gets base + 1, which something else holds. Restarted, it would fail again while the run went on with one
  // worker and exited 0; a configuration error is not retried.
  const base = await freePortRange(2);
  const squatter = createServer();
  await new Promise<void>((resolve) => squatter.listen(base + 1, resolve));
  try {
    const r = await run(
      CLI.start,
      ['--workers', '2', '--epochs', '1', '--limit', '1024', '--run-id', uniqueRunId('busy-port')],
      env({
        REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
        WORKER_METRICS_PORT: String(base),
        CHECKPOINT_DIR: join(tmpdir(), uniqueRunId('busy-port-ckpt')),
      }),
    );
    assert.equal(r.code, 2, r.out);
    assert.match(
      r.out,
      new RegExp(`worker 2 stopped on a configuration error: --metrics-port / METRICS_PORT ${base + 1}:`),
    );
    assert.match(r.out, /EADDRINUSE/);
    assert.match(r.out, /--worker-metrics-port \/ WORKER_METRICS_PORT \+ i - 1/);
    assert.doesNotMatch(r.out, /restarting it/);
    assert.doesNotMatch(r.out, /"params_sha256"/, 'the run went on without its second worker');
  } finally {
    await new Promise((resolve) => squatter.close(resolve));
  }
});

test('a REDIS_URL where nothing listens: one line saying what to do, not a flood; pnpm start stops before any worker', async () => {
  const closed = `redis://127.0.0.1:${await freePortRange(1)}`;
  // A lone worker keeps trying (Redis may come up later), but says so once: it printed ~60 lines in 10 s.
  const worker = await run(CLI.worker, [], env({ REDIS_URL: closed, METRICS_PORT: '0' }), 6000, /ECONNREFUSED/);
  const refused = worker.out.split('\n').filter((l) => l.includes('ECONNREFUSED'));
  assert.equal(worker.code, 0, worker.out);
  assert.ok(
    refused.length >= 1 && refused.length <= 2,
    `${refused.length} lines about the refused connection:\n${worker.out}`,
  );
  assert.match(
    refused[0] ?? '',
    /is Redis running at redis:\/\/127\.0\.0\.1:\d+\? set REDIS_URL or --redis-url; retrying/,
  );

  // The coordinator gives up after 10 s, naming the fix, after one line about the cause.
  const coordinator = await run(
    CLI.coordinator,
    ['--metrics-port', '0', '--run-id', uniqueRunId('closed')],
    env({ REDIS_URL: closed, CHECKPOINT_DIR: join(tmpdir(), uniqueRunId('closed-ckpt')) }),
  );
  assert.equal(coordinator.code, 1, coordinator.out);
  assert.ok(coordinator.out.split('\n').filter((l) => l.includes('ECONNREFUSED')).length <= 2, coordinator.out);
  assert.match(
    coordinator.out,
    /did not answer within 10 s: start Redis there, or point REDIS_URL \(--redis-url\) at one/,
  );

  // pnpm start checks an explicit REDIS_URL before it starts workers: exit 2, no worker, no flood.
  const start = await run(
    CLI.start,
    ['--workers', '2', '--metrics-port', '0', '--worker-metrics-port', '0'],
    env({ REDIS_URL: closed, CHECKPOINT_DIR: join(tmpdir(), uniqueRunId('closed-ckpt')) }),
  );
  assert.equal(start.code, 2, start.out);
  assert.match(
    start.out,
    /REDIS_URL \/ --redis-url redis:\/\/127\.0\.0\.1:\d+: nothing answers there \(connect ECONNREFUSED/,
  );
  assert.match(start.out, /leave REDIS_URL unset and pnpm start runs a private redis-server/);
  assert.doesNotMatch(start.out, /taking gradient jobs/);
});
