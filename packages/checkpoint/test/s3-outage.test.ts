import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CheckpointWriter, loadLatestValid, type ObjectStore, readLatestStep } from '../src/index';
import type { FailureEvent } from '../src/writer';
import { advance, contentOf, openStore, type StoreFixture, tfReady, trainedTrainee, uniqueRunId } from './helpers';

let fx: StoreFixture;
before(async () => {
  await tfReady();
  fx = await openStore('s3');
});
after(() => fx.close());

/** The real S3 store, except that the server is killed right after the first object of a save is stored. */
function killAfterFirstPut(inner: ObjectStore, kill: () => Promise<void>): ObjectStore {
  let armed = false;
  return {
    description: inner.description,
    get: (k) => inner.get(k),
    getStream: (k) => inner.getStream(k),
    list: (p) => inner.list(p),
    delete: (k) => inner.delete(k),
    close: () => inner.close(),
    put: async (key, body) => {
      await inner.put(key, body);
      if (armed) {
        armed = false;
        await kill();
      }
    },
    arm: () => {
      armed = true;
    },
  } as ObjectStore & { arm(): void };
}

test('S3 server killed mid-save: retried with backoff, latest never partial, completes after restart', async () => {
  const s3 = fx.s3 as NonNullable<StoreFixture['s3']>;
  const runId = uniqueRunId('outage');
  const store = killAfterFirstPut(fx.store, () => s3.kill()) as ObjectStore & { arm(): void };
  const lines: string[] = [];
  const failures: FailureEvent[] = [];
  let restarted: Promise<void> | undefined;
  let latestDuringOutage: number | undefined;
  const writer = new CheckpointWriter({
    store,
    log: (l) => lines.push(l),
    retry: { attempts: 30, baseDelayMs: 100, maxDelayMs: 3000 },
    hooks: {
      onFailure: (e) => {
        failures.push(e);
        // After a few failed attempts (100, 200, 400 ms apart), bring the server back; the next delay is 800 ms,
        // time enough to look at what a reader would see before the writer's retry lands.
        if (failures.length === 4) {
          restarted = s3.restart().then(async () => {
            latestDuringOutage = await readLatestStep(fx.store, runId);
          });
        }
      },
    },
  });

  const trainee = trainedTrainee(1);
  writer.save(await contentOf(runId, trainee));
  await writer.flush();
  assert.equal(await readLatestStep(fx.store, runId), 1);

  advance(trainee, 1);
  store.arm();
  writer.save(await contentOf(runId, trainee));
  const result = await writer.flush();
  await restarted;

  assert.ok(failures.length >= 4, `expected several failed attempts, got ${failures.length}`);
  assert.ok(failures.every((f) => f.step === 2 && f.willRetry));
  assert.deepEqual(
    failures.slice(0, 4).map((f) => f.attempt),
    [1, 2, 3, 4],
  );
  // One log line per failure, naming the step and the error, and never a credential.
  assert.equal(lines.length, failures.length);
  for (const line of lines) {
    assert.match(line, /^checkpoint: run \S+ step 2: upload attempt \d+ failed: .+; retrying in \d+ ms$/);
    assert.ok(!line.includes(s3.credentials.secretAccessKey), line);
  }
  // Step 2's weights were stored before the outage, but latest still named step 1 while its manifest was missing.
  assert.equal(latestDuringOutage, 1);

  assert.deepEqual(result, { lastSavedStep: 2 });
  assert.equal(await readLatestStep(fx.store, runId), 2);
  const loaded = await loadLatestValid(fx.store, runId, { warn: (l) => assert.fail(l) });
  assert.equal(loaded?.step, 2);
  assert.equal(writer.stats.failures, failures.length);
});

test('a save given up after its attempts is reported by flush', async () => {
  const s3 = fx.s3 as NonNullable<StoreFixture['s3']>;
  const runId = uniqueRunId('giveup');
  const lines: string[] = [];
  const writer = new CheckpointWriter({
    store: fx.store,
    log: (l) => lines.push(l),
    retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 10 },
  });
  await s3.kill();
  try {
    writer.save(await contentOf(runId, trainedTrainee(1)));
    const result = await writer.flush();
    assert.ok(result.error, 'the newest checkpoint was given up');
    assert.equal(result.lastSavedStep, undefined);
  } finally {
    await s3.restart();
  }
  assert.equal(lines.length, 2);
  assert.match(lines[1] as string, /giving up after 2 attempts$/);
});
