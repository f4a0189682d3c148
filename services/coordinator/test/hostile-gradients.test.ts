// A rogue "worker" (a compromised or buggy machine) takes real jobs from the queue and submits bad results through the
// real submit script: gradients of the wrong length, NaN gradients, a refusal for another layout, NaN losses. The
// coordinator must reject and count each, re-issue the block to an honest worker, and never let one reach the
// parameters; a block non-finite twice is computed by the coordinator itself, and only a value it computed decides a
// step (real divergence: the step is skipped and the alert gauge raised).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { selectBackend } from '@gradq/backend';
import { selectEngine } from '@gradq/engine';
import {
  createRedis,
  GRADIENT_QUEUE,
  type GradientJob,
  QUEUE_PREFIX,
  type RedisClient,
  RunData,
  sliceRanges,
  submitBlock,
} from '@gradq/protocol';
import { CLI, type CliProcess, cliEnv, serviceRig, testBackend, uniqueRunId, waitUntil } from '@gradq/testing';
import type { RunSummary } from '@gradq/trainer';
import { GradientProcessor, StepNotOpenError } from '@gradq/worker';
import { DelayedError, type Job, Worker } from 'bullmq';
import type { CoordinatorSummary } from '../src/coordinator';

// 512 samples, batch 128 in 4 leaves: 4 steps. Four jobs per step, so that each job is one leaf and an attack hits
// exactly the leaf it names; 16 jobs, a few seconds of compute.
const HYPER = ['--limit', '512', '--epochs', '1', '--batch-size', '128', '--shards-per-step', '4', '--seed', '21'];

type Attack = 'length' | 'nonfinite' | 'nan-loss' | 'layout';

const rig = serviceRig('hostile-gradients');
const rogues: Worker[] = [];
const processors: GradientProcessor[] = [];
/** BullMQ does not close a connection it was given: these are quit at teardown, or the test file never exits. */
const connections: RedisClient[] = [];
let redis: RedisClient;
let backendName: string;

before(async () => {
  // The rogue computes honest gradients in this process: same backend as the baseline, or the bits differ.
  backendName = (await selectBackend({ request: testBackend(), log: () => {} })).name;
  await rig.ready;
  redis = createRedis({ url: rig.server.url, cluster: false });
  rig.onTeardown(() => redis.quit());
  // Runs first: the rogues stop before the connections they use are quit.
  rig.onTeardown(async () => {
    await Promise.allSettled(rogues.map((w) => w.close(true)));
    for (const p of processors) p.dispose();
    await Promise.allSettled(connections.map((c) => c.quit()));
  });
});

/**
 * The only worker of the run. For a block `<step>/<first leaf>` listed in `plan` it submits the next attack
 * instead of the gradient, through the real data plane and submit script; every other job goes to the real
 * GradientProcessor. `hold` may delay jobs (to look at /metrics between two steps).
 */
function rogueWorker(runId: string, plan: Map<string, Attack[]>, hold?: (job: GradientJob) => Promise<void>): Worker {
  const blocking = rogueConnection();
  const processor = new GradientProcessor(redis, blocking, 'rogue', (shape) => selectEngine(shape, backendName));
  processors.push(processor);
  const serve = async (job: Job) => {
    const data = job.data as GradientJob;
    const meta = await RunData.readMeta(redis, runId);
    if (!meta) return processor.process(data, job.id, job.timestamp);
    const run = new RunData(redis, runId, meta.paramCount, meta.slices);
    // Like any worker, wait for the job's step to open (it may have been taken while the step before was collected),
    // and hand the job back if it does not open soon.
    const open = await run.waitForStep(blocking, data.step, data.session, 1000);
    if (open === 'stale') return { status: 'stale', count: 0 };
    if (open === 'timeout') throw new StepNotOpenError(`step ${data.step} has not opened yet`);
    await hold?.(data);
    const attack = plan.get(`${data.step}/${data.first}`)?.shift();
    if (!attack) return processor.process(data, job.id, job.timestamp);
    // Another layout: the real processor refuses the job and tells the coordinator.
    if (attack === 'layout')
      return processor.process({ ...data, fingerprint: 'deadbeefdeadbeef' }, job.id, job.timestamp);
    const where = { step: data.step, first: data.first, end: data.first + data.leaves.length };
    const block = { ...where, session: data.session };
    const counts = data.leaves.map(([start, stop]) => stop - start);
    // What a worker whose loss diverged sends: JSON has no NaN, so the loss arrives as null.
    const losses = counts.map(() => (attack === 'nan-loss' ? null : 0.5));
    const result = (token: string) =>
      JSON.stringify({ kind: 'accepted', ...where, token, losses, counts, computeSeconds: 0.01, worker: 'rogue' });
    if (attack !== 'length') {
      const values = new Float32Array(meta.paramCount);
      if (attack === 'nonfinite') values.fill(Number.NaN);
      const { status } = await run.submitGradient(block, Buffer.from(values.buffer), 'f32', result);
      return { status, count: 0 };
    }
    // Wrong length: the data plane refuses to write that, so write the slices by hand, slice 0 three values long.
    const token = randomBytes(8).toString('hex');
    const ranges = sliceRanges(meta.paramCount, meta.slices);
    await Promise.all(
      ranges.map(({ start, end }, i) =>
        redis.set(run.keys.grad(data.step, token, i), Buffer.alloc(i === 0 ? 12 : (end - start) * 4), 'EX', 3600),
      ),
    );
    return { status: await submitBlock(redis, run.keys, block, result(token)), count: 0 };
  };
  const worker = new Worker(
    GRADIENT_QUEUE,
    async (job: Job, token?: string) => {
      try {
        return await serve(job);
      } catch (err) {
        // What the real worker does with a job of a step that has not opened yet: back to the queue, no attempt used.
        if (!(err instanceof StepNotOpenError) || token === undefined) throw err;
        await job.moveToDelayed(Date.now(), token);
        throw new DelayedError();
      }
    },
    { connection: rogueConnection(), prefix: QUEUE_PREFIX, concurrency: 1 },
  );
  worker.on('error', () => {});
  rogues.push(worker);
  return worker;
}

function rogueConnection(): RedisClient {
  const c = createRedis({ url: rig.server.url, cluster: false });
  connections.push(c);
  return c;
}

function coordinator(runId: string, extra: readonly string[] = []): CliProcess {
  return rig.procs.spawn(
    CLI.coordinator,
    [
      ...HYPER,
      ...extra,
      '--run-id',
      runId,
      '--redis-url',
      rig.server.url,
      '--check-after-ms',
      '1000',
      '--metrics-port',
      '0',
      '--checkpoint-every',
      '0',
      '--jobs-per-step',
      '4',
    ],
    { env: cliEnv({ CHECKPOINT_DIR: join(rig.dir, runId) }), name: `coordinator ${runId}` },
  );
}

/** The coordinator with the rogue as its only worker, to the end, beside the baseline `reference`. */
async function attackedRun(runId: string, reference: CliProcess, plan: Map<string, Attack[]>) {
  const c = coordinator(runId);
  const rogue = rogueWorker(runId, plan);
  const [summary, ref] = await Promise.all([
    c.summary<CoordinatorSummary>(180_000),
    reference.summary<RunSummary>(180_000),
  ]);
  await rogue.close();
  return { c, summary, ref };
}

test('wrong-length and NaN gradients and a refusal for another layout are rejected, counted, never applied', async () => {
  const runId = uniqueRunId('rogue');
  const reference = rig.procs.spawn(CLI.baseline, [...HYPER, '--run-id', uniqueRunId('rogue-ref')], {
    name: 'baseline',
  });
  const plan = new Map<string, Attack[]>([
    ['0/1', ['length']],
    ['1/3', ['nonfinite']],
    ['2/0', ['layout']],
    // Twice in a row for one block: a corrupted write is retried, and a second one too (only a value non-finite
    // twice is computed by the coordinator, and these are finite).
    ['3/2', ['length', 'length']],
  ]);
  const { c, summary, ref } = await attackedRun(runId, reference, plan);
  const d = summary.distributed;
  assert.deepEqual(d.rejected, { length: 3, nonfinite: 1, layout: 1 }, c.tail());
  assert.ok(d.reissued >= 5, `each rejection re-issues its block, got ${d.reissued}`);
  assert.equal(d.skipped_nonfinite, 0);
  assert.equal(d.shards_applied, d.shards_planned);
  assert.equal(summary.steps, ref.steps);
  assert.equal(summary.samples, ref.samples);
  assert.equal(summary.params_sha256, ref.params_sha256, 'a rejected gradient reached the parameters');
  // Each rejection is explained, naming the block and the problem.
  assert.match(c.stderr(), /step 0 leaves \[1, 2\) from rogue rejected: slice 0 has 12 bytes, expected \d+/);
  assert.match(c.stderr(), /step 1 leaves \[3, 4\) from rogue rejected: value 0 is NaN/);
  assert.match(c.stderr(), /step 2 leaves \[0, 1\) refused by rogue: .*deadbeefdeadbeef/);
  assert.equal(
    c.stderr().match(/step 3 leaves \[2, 3\) from rogue rejected: slice 0 has 12 bytes/g)?.length,
    2,
    c.tail(),
  );
});

test('a NaN written twice for one block is not believed: the coordinator computes the block, same bits', async () => {
  const runId = uniqueRunId('rogue-nan');
  const reference = rig.procs.spawn(CLI.baseline, [...HYPER, '--run-id', uniqueRunId('rogue-nan-ref')], {
    name: 'baseline',
  });
  // A worker that writes garbage may write it twice: the second time no worker's word decides.
  const plan = new Map<string, Attack[]>([
    ['1/2', ['nan-loss', 'nan-loss']],
    ['2/1', ['nonfinite', 'nonfinite']],
  ]);
  const { c, summary, ref } = await attackedRun(runId, reference, plan);
  const d = summary.distributed;
  assert.equal(d.skipped_nonfinite, 0, c.tail());
  assert.equal(d.computed_here, 2);
  assert.equal(d.rejected.nonfinite, 4);
  assert.equal(d.shards_applied, d.shards_planned);
  assert.equal(summary.params_sha256, ref.params_sha256, 'a forged value decided a step');
  assert.match(
    c.stderr(),
    /step 1 leaves \[2, 3\) from rogue not finite again \(loss is NaN\); computed here: finite, used/,
  );
  assert.match(
    c.stderr(),
    /step 2 leaves \[1, 2\) from rogue not finite again \(value 0 is NaN\); computed here: finite, used/,
  );
});

test('real divergence (learning rate 1e30): computed here too, the steps are skipped and gradq_loss_nonfinite raised', async () => {
  const runId = uniqueRunId('diverge');
  const c = coordinator(runId, ['--learning-rate', '1e30']);
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  // The last step waits until the test has scraped /metrics: the coordinator's server closes with the run.
  const rogue = rogueWorker(runId, new Map(), (job) => (job.step >= 3 ? released : Promise.resolve()));
  try {
    const url = (await c.waitForStderr(/metrics on (http:\/\/\S+)/, 120_000))[1] as string;
    const text = await waitUntil(
      'gradq_loss_nonfinite 1 on the coordinator /metrics',
      async () => {
        if (!c.running()) throw new Error(`coordinator exited:\n${c.tail()}`);
        // A scrape cut off by a busy machine is retried; an exited coordinator is caught above.
        const t = await fetch(url)
          .then((r) => r.text())
          .catch(() => '');
        return /^gradq_loss_nonfinite(\{[^}]*\})? 1$/m.test(t) ? t : undefined;
      },
      60_000,
      100,
    );
    assert.match(text, /^gradq_steps_skipped_nonfinite_total(\{[^}]*\})? [12]$/m);
  } finally {
    release();
  }
  const exit = await c.exited;
  await rogue.close();
  const summary = JSON.parse(c.stdout().trim().split('\n').at(-1) as string) as CoordinatorSummary;
  // On cpu-native the one applied step leaves a final test MSE of NaN: the summary, then exit 1 naming
  // --learning-rate (packages/trainer). The wasm backend's overflow leaves the outputs at 0, a finite test MSE: exit 0.
  const finalMse = summary.test_mse_by_epoch.at(-1);
  if (backendName === 'cpu-native') assert.equal(finalMse, null, 'the final test MSE is finite on cpu-native');
  assert.equal(exit.code, finalMse === null ? 1 : 0, c.tail());
  if (finalMse === null) assert.match(c.stderr(), /training diverged: .*lower --learning-rate than 1e\+30/);
  const d = summary.distributed;
  // Step 0 is finite; steps 1-3 diverge, and every block of them is computed here after two non-finite results.
  assert.equal(d.skipped_nonfinite, 3, c.tail());
  assert.equal(d.computed_here, 12);
  assert.equal(d.shards_applied, d.shards_planned);
  assert.match(c.stderr(), /computed here: not finite either, so the divergence is real/);
  assert.match(c.stderr(), /step 1: loss \S+ or its averaged gradient is not finite; step skipped/);
});

test('a result lost between Redis and the coordinator is taken from the done set; the run completes with the same bits', async () => {
  // What a dying connection does (a proxy failover, CLIENT KILL): Redis pops a result for a BLPOP whose reply never
  // arrives. Here a thief pops the first result pushed. Blocked clients are served longest-waiting first, and the
  // coordinator's BLPOP times out every 250 ms while the thief's does not, so the thief wins the first push.
  const runId = uniqueRunId('lost-result');
  const reference = rig.procs.spawn(CLI.baseline, [...HYPER, '--run-id', uniqueRunId('lost-ref')], {
    name: 'baseline',
  });
  const thief = rogueConnection();
  const results = new RunData(redis, runId, 1, 1).keys.results;
  // As long as the run may take: on a loaded machine without the native addon, the first result took over 60 s.
  const stolen = thief.blpop(results, 180);
  const c = coordinator(runId);
  const worker = rogueWorker(runId, new Map());
  const [summary, ref, popped] = await Promise.all([
    c.summary<CoordinatorSummary>(180_000),
    reference.summary<RunSummary>(180_000),
    stolen,
  ]);
  await worker.close();
  assert.ok(popped, 'the thief popped a result');
  const record = JSON.parse(popped[1]) as { step: number; first: number; end: number };
  assert.match(
    c.stderr(),
    new RegExp(
      `step ${record.step} leaves \\[${record.first}, ${record.end}\\): accepted in Redis but its result never arrived`,
    ),
    c.tail(),
  );
  assert.equal(summary.distributed.shards_applied, summary.distributed.shards_planned);
  assert.equal(summary.params_sha256, ref.params_sha256, 'the recovered gradient differs from the one computed');
});
