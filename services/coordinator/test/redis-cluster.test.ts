// Redis Cluster is how users scale past one Redis: every key and the queue prefix must hash-tag into slots that
// work there (no CROSSSLOT from the submit script or BullMQ). A real 3-master cluster, a short training to the end,
// and the same bits as on a standalone Redis.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  CLI,
  CliProcesses,
  cliEnv,
  type RedisClusterInstance,
  type RedisInstance,
  startRedisCluster,
  startRedisServer,
  uniqueRunId,
} from '@gradq/testing';
import type { CoordinatorSummary } from '../src/coordinator';

const procs = new CliProcesses();
// A bound on each test, so that a hang fails here (and `after` cleans up) instead of stalling the suite.
const TEST_TIMEOUT_MS = 420_000;
let cluster: RedisClusterInstance;
let standalone: RedisInstance;
let dir: string;

const HYPER = ['--limit', '512', '--epochs', '1', '--seed', '11', '--workers', '1'];

before(async () => {
  [cluster, standalone] = await Promise.all([startRedisCluster({ nodes: 3 }), startRedisServer()]);
  dir = await mkdtemp(join(tmpdir(), 'gradq-cluster-'));
});

after(async () => {
  await procs.stopAll();
  await Promise.allSettled([cluster?.stop(), standalone?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

function start(name: string, redisArgs: string[]) {
  const runId = uniqueRunId(name);
  return procs.spawn(
    CLI.start,
    [...HYPER, '--run-id', runId, ...redisArgs, '--metrics-port', '0', '--worker-metrics-port', '0'],
    { env: cliEnv({ CHECKPOINT_DIR: join(dir, runId) }), name },
  );
}

test('a short training on a 3-node Redis Cluster completes with the same params as on a standalone Redis', {
  timeout: TEST_TIMEOUT_MS,
}, async () => {
  assert.equal(cluster.url.split(',').length, 3);
  const onCluster = start('cluster', ['--redis-cluster', '--redis-url', cluster.url]);
  const onStandalone = start('standalone', ['--redis-url', standalone.url]);
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
