/**
 * `pnpm bench:local` (issue #15): `--algorithm local` against `sync` on a slow link. For sync and for H in
 * {1, 8, 32, 128} with R = 4 replicas: the bytes through Redis per trained sample and the samples/s of the real
 * coordinator with 4 emulated workers (cli/emulated-workers.ts: the real worker, the engine replaced by a stand-in
 * that sleeps `--ms-per-sample`; a local job's inner Adam steps are real), Redis behind an emulated 100 Mbit/s link
 * (slow-link.ts: a network namespace, veth, tc tbf; needs root). Test MSE after 10 epochs comes from `pnpm baseline`
 * runs (the distributed run's bits, in one process), read from `--mse-dir` (mse-<config>.json, `--summary` files).
 * Prints a Markdown table and writes the figures as JSON to `--out`.
 *
 *   node --import tsx packages/bench/src/cli/local-link.ts [--rate 100mbit] [--ms-per-sample 0.05]
 *     [--mse-dir DIR] [--out FILE] [--only sync,h1,h8,h32,h128,h32-reset]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createRedis, type RedisClient } from '@gradq/protocol';
import { freePort, type MetricSample, scrapeMetrics } from '@gradq/testing';
import { stopChild } from '../processes';
import { sumOf } from '../prom-text';
import { openSlowLink } from '../slow-link';

const root = new URL('../../../../', import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '100mbit' },
    'ms-per-sample': { type: 'string', default: '0.05' },
    'mse-dir': { type: 'string', default: join(root, '.bench-local') },
    out: { type: 'string', default: join(root, '.bench-local', 'local-link.json') },
    only: { type: 'string' },
  },
});

/** One configuration: its flags, and a run long enough for at least 4 measured steps (rounds) after the first. */
interface Config {
  readonly name: string;
  readonly label: string;
  readonly args: readonly string[];
  readonly limit: number;
  readonly epochs: number;
}
const local = (h: number, limit: number, epochs: number, state: 'keep' | 'reset' = 'keep'): Config => ({
  name: `h${h}`,
  label: `local, H = ${h}`,
  args: ['--algorithm', 'local', '--replicas', '4', '--inner-steps', String(h), '--inner-state', state],
  limit,
  epochs,
});
const CONFIGS: Config[] = [
  // batch 128: a step of sync moves the model (1 + 3 J) times; a round of local H, 4 replicas, 4 x H batches.
  { name: 'sync', label: 'sync', args: [], limit: 3840, epochs: 1 },
  local(1, 3072, 1),
  local(8, 24_576, 1),
  local(32, 32_768, 3),
  // A round of 4 x 128 x 128 samples is longer than the 60,000-sample epoch: one short round per epoch.
  local(128, 60_000, 5),
  // Fresh inner moments every round: no states through Redis.
  { ...local(32, 32_768, 3, 'reset'), name: 'h32-reset', label: 'local, H = 32, --inner-state reset' },
].filter((c) => !values.only || values.only.split(',').includes(c.name));

interface Snapshot {
  readonly samples: number;
  readonly steps: number;
  readonly stepSeconds: number;
  readonly exchanged: number;
  readonly redisBytes: number;
}

interface Measured {
  readonly config: string;
  readonly steps: number;
  /** Steady state: from the first scrape after the first step to the last. */
  readonly measuredSteps: number;
  readonly samplesPerSecond: number;
  readonly exchangedBytesPerSample: number;
  readonly redisBytesPerSample: number;
  readonly wallSeconds: number;
}

async function snapshot(metricsUrl: string, redis: RedisClient): Promise<Snapshot | undefined> {
  let samples: MetricSample[];
  try {
    samples = await scrapeMetrics(metricsUrl, 2000);
  } catch {
    return undefined;
  }
  const info = await redis.info('stats');
  const stat = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? Number.NaN);
  return {
    samples: sumOf(samples, 'gradq_samples_total'),
    steps: sumOf(samples, 'gradq_steps_total'),
    stepSeconds: sumOf(samples, 'gradq_step_duration_seconds_sum'),
    exchanged: sumOf(samples, 'gradq_exchanged_bytes_total'),
    redisBytes: stat('total_net_input_bytes') + stat('total_net_output_bytes'),
  };
}

function node(script: string, args: readonly string[], env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', join(root, script), ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

async function measure(c: Config, redisUrl: string, redis: RedisClient): Promise<Measured> {
  const env = { ...process.env, TFJS_BACKEND: 'cpu-native', MNIST_DIR: process.env.MNIST_DIR ?? '/work/shared/mnist' };
  const workers = node(
    'packages/bench/src/cli/emulated-workers.ts',
    ['--redis', redisUrl, '--workers', '4', '--ms-per-sample', String(values['ms-per-sample'])],
    env,
  );
  let workerLog = '';
  workers.stderr?.on('data', (d: Buffer) => {
    workerLog = (workerLog + d.toString()).slice(-4000);
  });
  const checkpoints = mkdtempSync(join(tmpdir(), 'gradq-local-bench-'));
  const port = await freePort();
  const started = performance.now();
  const coordinator = node(
    'services/coordinator/src/cli/coordinator.ts',
    [
      ...['--limit', String(c.limit), '--epochs', String(c.epochs), '--batch-size', '128', ...c.args],
      ...['--checkpoint-every', '0', '--metrics-port', String(port), '--metrics-host', '127.0.0.1'],
      ...['--run-id', `bench-local-${c.name}-${Date.now()}`],
    ],
    { ...env, REDIS_URL: redisUrl, CHECKPOINT_DIR: checkpoints },
  );
  let log = '';
  coordinator.stderr?.on('data', (d: Buffer) => {
    log = (log + d.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => coordinator.on('exit', (code) => resolve(code)));
  let done = false;
  void exited.then(() => {
    done = true;
  });
  let warm: Snapshot | undefined;
  let last: Snapshot | undefined;
  try {
    while (!done) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      const s = await snapshot(`http://127.0.0.1:${port}/metrics`, redis);
      if (!s || !Number.isFinite(s.steps)) continue;
      // The first step (round) fetches the training set to every worker: not steady state.
      if (!warm && s.steps >= 1) warm = s;
      if (warm && s.steps > (last?.steps ?? 0)) last = s;
    }
    const code = await exited;
    if (code !== 0) throw new Error(`coordinator exited ${code}:\n${log}\nworkers:\n${workerLog}`);
  } finally {
    await stopChild(workers, 5000);
    rmSync(checkpoints, { recursive: true, force: true });
  }
  if (!warm || !last || last.steps <= warm.steps)
    throw new Error(`${c.name}: too few steps scraped (${warm?.steps} .. ${last?.steps})`);
  const samples = last.samples - warm.samples;
  return {
    config: c.name,
    steps: last.steps,
    measuredSteps: last.steps - warm.steps,
    samplesPerSecond: samples / (last.stepSeconds - warm.stepSeconds),
    exchangedBytesPerSample: (last.exchanged - warm.exchanged) / samples,
    redisBytesPerSample: (last.redisBytes - warm.redisBytes) / samples,
    wallSeconds: (performance.now() - started) / 1000,
  };
}

interface Mse {
  readonly testMse: number;
  readonly hash: string;
  readonly samples: number;
}

function readMse(name: string): Mse | undefined {
  const path = join(values['mse-dir'] as string, `mse-${name}.json`);
  if (!existsSync(path)) return undefined;
  const s = JSON.parse(readFileSync(path, 'utf8')) as {
    test_mse_by_epoch: number[];
    params_sha256: string;
    samples: number;
  };
  return { testMse: s.test_mse_by_epoch.at(-1) as number, hash: s.params_sha256, samples: s.samples };
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(bytes < 10_240 ? 2 : 1)} KiB`;

async function main(): Promise<void> {
  const link = await openSlowLink({ rate: values.rate as string, tag: `l${process.pid % 10000}` });
  const stop = () => {
    link.close();
    process.exit(130);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const redis = createRedis({ url: link.url, cluster: false });
  const results: Measured[] = [];
  try {
    process.stderr.write(`${link.describe}\n`);
    for (const c of CONFIGS) {
      process.stderr.write(`${c.label}: ${c.limit} samples x ${c.epochs} epoch(s)...\n`);
      const m = await measure(c, link.url, redis);
      process.stderr.write(`  ${JSON.stringify(m)}\n`);
      results.push(m);
    }
  } finally {
    redis.disconnect();
    link.close();
  }
  const rows = results.map((m) => {
    const c = CONFIGS.find((x) => x.name === m.config) as Config;
    const mse = readMse(m.config);
    return `| ${c.label} | ${kb(m.exchangedBytesPerSample)} | ${kb(m.redisBytesPerSample)} | ${m.samplesPerSecond.toFixed(0)} (${m.measuredSteps} steps) | ${mse ? mse.testMse.toFixed(5) : 'not run'} | ${mse ? `\`${mse.hash.slice(0, 12)}\`` : ''} |`;
  });
  const table = [
    '| algorithm | bytes exchanged per sample (protocol count) | bytes through Redis per sample (measured) | samples/s, 4 emulated workers, 100 Mbit/s | test MSE after 10 epochs | params_sha256 (10 epochs) |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
  writeFileSync(
    values.out as string,
    `${JSON.stringify({ date: new Date().toISOString(), cores: cpus().length, cpu: cpus()[0]?.model, link: link.describe, msPerSample: Number(values['ms-per-sample']), results, mse: Object.fromEntries(CONFIGS.map((c) => [c.name, readMse(c.name)])) }, null, 2)}\n`,
  );
  process.stdout.write(`${table}\n`);
}

await main();
