// Redis Cluster is how users scale past one Redis: every key and the queue prefix must hash-tag into slots that
// work there (no CROSSSLOT from the submit script or BullMQ). A real 3-master cluster, a short training to the end,
// and the same bits as on a standalone Redis.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, test } from 'node:test';
import {
  closeRedis,
  createRedis,
  DEFAULT_SLICES,
  newSession,
  PROTOCOL_VERSION,
  paramsHash,
  RunData,
} from '@gradq/protocol';
import { CLI, cliEnv, type RedisClusterInstance, serviceRig, startRedisCluster, uniqueRunId } from '@gradq/testing';
import { hyperparamsSchema } from '@gradq/trainer';
import type { CoordinatorSummary } from '../src/coordinator';

// The standalone Redis is the rig's.
const rig = serviceRig('cluster');
// A bound on each test, so that a hang fails here (and `after` cleans up) instead of stalling the suite.
const TEST_TIMEOUT_MS = 420_000;
let cluster: RedisClusterInstance;

const HYPER = ['--limit', '512', '--epochs', '1', '--seed', '11', '--workers', '1'];

before(async () => {
  cluster = await startRedisCluster({ nodes: 3 });
  rig.onTeardown(() => cluster.stop());
});

function start(name: string, redisArgs: string[]) {
  const runId = uniqueRunId(name);
  return rig.procs.spawn(
    CLI.start,
    [...HYPER, '--run-id', runId, ...redisArgs, '--metrics-port', '0', '--worker-metrics-port', '0'],
    { env: cliEnv({ CHECKPOINT_DIR: join(rig.dir, runId) }), name },
  );
}

test('a short training on a 3-node Redis Cluster completes with the same params as on a standalone Redis', {
  timeout: TEST_TIMEOUT_MS,
}, async () => {
  assert.equal(cluster.url.split(',').length, 3);
  const onCluster = start('cluster', ['--redis-cluster', '--redis-url', cluster.url]);
  const onStandalone = start('standalone', ['--redis-url', rig.server.url]);
  const [c, s] = await Promise.all([
    onCluster.summary<CoordinatorSummary>(300_000),
    onStandalone.summary<CoordinatorSummary>(300_000),
  ]);
  assert.doesNotMatch(onCluster.stderr(), /CROSSSLOT|MOVED|CLUSTERDOWN/, 'cluster errors on the way');
  // 512 samples, batch 128: 4 steps of 4 shards.
  assert.equal(c.steps, 4);
  assert.equal(c.distributed.shards_planned, 16);
  assert.equal(c.distributed.shards_applied, c.distributed.shards_planned);
  assert.equal(c.distributed.workers_seen, 1);
  assert.equal(c.params_sha256, s.params_sha256, 'the cluster run ended on other parameters');
  assert.deepEqual(c.test_mse_by_epoch, s.test_mse_by_epoch);
});

test("a run's parameter and gradient slices spread evenly over the 3 masters; submit and reads work there", {
  timeout: TEST_TIMEOUT_MS,
}, async () => {
  const redis = createRedis({ url: cluster.url, cluster: true });
  const masters = () => ('nodes' in redis ? redis.nodes('master') : []);
  const runId = uniqueRunId('slices');
  const session = newSession();
  const paramCount = 10_007;
  const data = new RunData(redis, runId, paramCount, DEFAULT_SLICES);
  try {
    const meta = {
      protocol: PROTOCOL_VERSION,
      runId,
      hyperparams: hyperparamsSchema.parse({ layerSizes: [784, 16, 784] }),
      fingerprint: '0123456789abcdef',
      paramCount,
      trainCount: 1,
      sampleSize: 784,
      slices: DEFAULT_SLICES,
    };
    await data.seed(meta, new Uint8Array(784), session);
    const params = Float32Array.from({ length: paramCount }, (_, i) => Math.cos(i) * 1e-3);
    await data.publishParams(0, params, session);
    // The opening, then each quarter announced once its slices (on three nodes) answered.
    const announced = await redis.xrange(data.keys.versions, '-', '+');
    assert.deepEqual(
      announced.map(([, fields]) => fields.slice(4)),
      [
        ['hash', paramsHash(params)],
        ['ready', '3'],
        ['ready', '6'],
        ['ready', '9'],
        ['ready', '12'],
      ],
    );
    const read = await data.readParams(0, session);
    assert.ok(read && Buffer.from(read.params.buffer).equals(Buffer.from(params.buffer)), 'parameters changed');
    const grad = await data.submitGradient(
      { step: 0, session, first: 0, end: 1 },
      Buffer.from(params.buffer),
      'f32',
      (t) => JSON.stringify({ token: t }),
    );
    assert.equal(grad.status, 'accepted');
    // Where the slices live: each master holds a third of the parameters and a third of the gradient.
    const perMaster: Record<string, number> = {};
    assert.equal(masters().length, 3);
    for (const node of masters()) {
      const keys = await node.keys(`gradq:{${runId}#*}:*`);
      perMaster[`${node.options.host}:${node.options.port}`] = keys.length;
    }
    assert.deepEqual(Object.values(perMaster), [8, 8, 8], JSON.stringify(perMaster));
    const back = await data.readGradient(0, grad.token, 'f32');
    assert.ok('grad' in back && Buffer.from(back.grad.buffer).equals(Buffer.from(params.buffer)));
    await data.remove();
    for (const node of masters()) assert.deepEqual(await node.keys(`gradq:{${runId}*`), []);
  } finally {
    await closeRedis(redis);
  }
});
