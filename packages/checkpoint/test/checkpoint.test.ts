import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { downloadCheckpoint } from '../src/download';
import { CheckpointVerificationError, DownloadTargetError, UnsafeKeyError } from '../src/errors/index';
import {
  CHECKPOINT_FILES,
  CheckpointWriter,
  checkpointFileKey,
  type LocalStore,
  listCheckpoints,
  loadLatestValid,
  readLatestStep,
} from '../src/index';
import { sha256Hex } from '../src/manifest';
import {
  advance,
  contentOf,
  openStore,
  SMALL,
  STORE_KINDS,
  type StoreFixture,
  tfReady,
  trainedTrainee,
  uniqueRunId,
} from './helpers';

const quiet = { log: () => {} };

for (const kind of STORE_KINDS) {
  describe(`checkpoints on the ${kind} store`, () => {
    let fx: StoreFixture;
    let scratch: string;
    before(async () => {
      await tfReady();
      fx = await openStore(kind);
      scratch = await mkdtemp(join(tmpdir(), 'gradq-ckpt-out-'));
    });
    after(async () => {
      await fx.close();
      await rm(scratch, { recursive: true, force: true });
    });

    test('save, list, then resume with every number intact', async () => {
      const runId = uniqueRunId('roundtrip');
      const trainee = trainedTrainee(3);
      trainee.position.testMse.push(0.11);
      const content = await contentOf(runId, trainee, SMALL, { metrics: { loss: 0.2, testMse: 0.11 } });
      const saved: number[] = [];
      const writer = new CheckpointWriter({ store: fx.store, ...quiet, hooks: { onSaved: (e) => saved.push(e.step) } });
      writer.save(content);
      // save copies: mutating the caller's buffers afterwards must not change the checkpoint.
      content.params.fill(0);
      assert.deepEqual(await writer.flush(), { lastSavedStep: 3 });
      assert.deepEqual(saved, [3]);

      const listed = await listCheckpoints(fx.store, runId);
      assert.deepEqual(
        listed.map((c) => [c.step, c.complete]),
        [[3, true]],
      );
      assert.equal(await readLatestStep(fx.store, runId), 3);

      const loaded = await loadLatestValid(fx.store, runId, { warn: (l) => assert.fail(l) });
      assert.ok(loaded);
      const expected = await contentOf(runId, trainee);
      assert.equal(loaded.step, 3);
      assert.deepEqual(loaded.params, expected.params);
      assert.deepEqual(loaded.adam, expected.adam);
      assert.deepEqual(loaded.position, trainee.position);
      assert.deepEqual(loaded.rngState, expected.rngState);
      assert.deepEqual(loaded.hyperparams, SMALL);
      assert.deepEqual(loaded.metrics, { loss: 0.2, testMse: 0.11 });
      assert.equal(loaded.layoutFingerprint, trainee.bound.layout.fingerprint);
    });

    test('while one upload runs, only the newest pending checkpoint is kept', async () => {
      const runId = uniqueRunId('supersede');
      const trainee = trainedTrainee(1);
      const superseded: number[] = [];
      const writer = new CheckpointWriter({
        store: fx.store,
        ...quiet,
        retention: { keep: 10, keepEpochs: false },
        hooks: { onSuperseded: (e) => superseded.push(e.step) },
      });
      for (let i = 0; i < 4; i++) {
        writer.save(await contentOf(runId, trainee));
        advance(trainee, 1);
      }
      await writer.flush();
      // Step 1 started uploading at once; 2 and 3 were replaced while it ran; 4 followed.
      assert.deepEqual(superseded, [2, 3]);
      assert.deepEqual(
        (await listCheckpoints(fx.store, runId)).map((c) => c.step),
        [1, 4],
      );
      assert.equal(await readLatestStep(fx.store, runId), 4);
    });

    test('retention keeps the last N and every epoch end; abandoned partial saves go', async () => {
      const runId = uniqueRunId('retention');
      const trainee = trainedTrainee(1);
      const deleted: number[] = [];
      const writer = new CheckpointWriter({
        store: fx.store,
        ...quiet,
        retention: { keep: 2, keepEpochs: true },
        hooks: { onDeleted: (e) => deleted.push(...e.steps) },
      });
      // A save that crashed before its manifest: it must never be trusted, and retention cleans it up.
      await fx.store.put(checkpointFileKey(runId, 0, CHECKPOINT_FILES.weights), new Uint8Array(8));
      for (let step = 1; step <= 6; step++) {
        writer.save(await contentOf(runId, trainee, SMALL, { epochEnd: step === 2 || step === 4 }));
        await writer.flush();
        advance(trainee, 1);
      }
      assert.deepEqual(
        (await listCheckpoints(fx.store, runId)).map((c) => c.step),
        [2, 4, 5, 6],
      );
      assert.deepEqual(
        deleted.sort((a, b) => a - b),
        [0, 1, 3],
      );
    });

    test('an altered weights file is refused by download and skipped on resume', async () => {
      const runId = uniqueRunId('tamper');
      const trainee = trainedTrainee(1);
      const writer = new CheckpointWriter({ store: fx.store, ...quiet });
      writer.save(await contentOf(runId, trainee));
      await writer.flush();
      advance(trainee, 1);
      writer.save(await contentOf(runId, trainee));
      await writer.flush();

      const key = checkpointFileKey(runId, 2, CHECKPOINT_FILES.weights);
      const weights = await fx.store.get(key);
      weights[100] = (weights[100] ?? 0) ^ 1;
      await fx.store.put(key, weights);

      const out = join(scratch, 'tampered');
      await assert.rejects(
        downloadCheckpoint(fx.store, runId, 2, out),
        (err: Error) =>
          err instanceof CheckpointVerificationError && err.file === 'weights.bin' && /sha256/.test(err.message),
      );
      assert.deepEqual(await readdir(out), [], 'a refused download leaves nothing behind');

      const warnings: string[] = [];
      const loaded = await loadLatestValid(fx.store, runId, { warn: (l) => warnings.push(l) });
      assert.equal(loaded?.step, 1);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0] as string, /step 2: weights\.bin: sha256/);

      const ok = await downloadCheckpoint(fx.store, runId, 1, join(scratch, 'good'));
      assert.deepEqual((await readdir(ok.dir)).sort(), [
        'manifest.json',
        'model.json',
        'optimizer.bin',
        'optimizer.json',
        'trainer.json',
        'weights.bin',
      ]);
    });

    test('a hostile manifest cannot write outside the download directory', async () => {
      const runId = uniqueRunId('hostile');
      const payload = new TextEncoder().encode('owned');
      const manifest = {
        format: 'gradq-checkpoint-manifest/1',
        runId,
        step: 7,
        epochEnd: false,
        createdAt: new Date().toISOString(),
        files: [
          ...['model.json', 'weights.bin', 'optimizer.bin', 'optimizer.json', 'trainer.json'].map((name) => ({
            name,
            size: payload.length,
            sha256: sha256Hex(payload),
          })),
          { name: '../escaped.txt', size: payload.length, sha256: sha256Hex(payload) },
        ],
      };
      await fx.store.put(
        checkpointFileKey(runId, 7, CHECKPOINT_FILES.manifest),
        new TextEncoder().encode(JSON.stringify(manifest)),
      );
      const out = join(scratch, 'hostile', 'inner');
      await assert.rejects(downloadCheckpoint(fx.store, runId, 7, out), CheckpointVerificationError);
      assert.deepEqual(await readdir(join(scratch, 'hostile')).catch(() => []), []);
    });

    test('download refuses a non-empty --out, and a manifest.json link planted there writes nothing elsewhere', async () => {
      const runId = uniqueRunId('planted');
      const writer = new CheckpointWriter({ store: fx.store, ...quiet });
      writer.save(await contentOf(runId, trainedTrainee(1)));
      await writer.flush();

      // A link planted where the manifest goes (say by another user of a shared /tmp): refused, the target intact.
      const out = join(scratch, 'planted');
      const victim = join(scratch, 'victim.txt');
      await mkdir(out);
      await writeFile(victim, 'untouched');
      await symlink(victim, join(out, 'manifest.json'));
      await assert.rejects(
        downloadCheckpoint(fx.store, runId, 1, out),
        (err: Error) => err instanceof DownloadTargetError && /is not empty .*manifest\.json/.test(err.message),
      );
      assert.equal(await readFile(victim, 'utf8'), 'untouched');
      assert.deepEqual(await readdir(out), ['manifest.json'], 'nothing written beside the link');

      // --out itself a link, or a file: refused too; a new directory works.
      await symlink(join(scratch, 'elsewhere'), join(scratch, 'out-link'));
      await assert.rejects(downloadCheckpoint(fx.store, runId, 1, join(scratch, 'out-link')), DownloadTargetError);
      await assert.rejects(downloadCheckpoint(fx.store, runId, 1, victim), DownloadTargetError);
      const fresh = await downloadCheckpoint(fx.store, runId, 1, join(scratch, 'planted-fresh'));
      assert.equal(fresh.files.length, 6);
      assert.ok(!(await lstat(join(fresh.dir, 'manifest.json'))).isSymbolicLink());
    });

    if (kind === 'local')
      test('the local store refuses a link planted inside a checkpoint instead of serving its target', async () => {
        const runId = uniqueRunId('linked');
        const writer = new CheckpointWriter({ store: fx.store, ...quiet });
        writer.save(await contentOf(runId, trainedTrainee(1)));
        await writer.flush();
        const key = checkpointFileKey(runId, 1, CHECKPOINT_FILES.weights);
        const root = (fx.store as LocalStore).root;
        const path = join(root, ...key.split('/'));
        const secret = join(scratch, 'secret.bin');
        await writeFile(secret, await readFile(path));
        await rm(path);
        await symlink(secret, path);
        await assert.rejects(fx.store.get(key), UnsafeKeyError);
        await assert.rejects(fx.store.getStream(key), UnsafeKeyError);
        await assert.rejects(downloadCheckpoint(fx.store, runId, 1, join(scratch, 'linked-out')), UnsafeKeyError);
      });

    test('run ids and steps that could escape the run prefix are refused', async () => {
      await assert.rejects(loadLatestValid(fx.store, '../other'), UnsafeKeyError);
      await assert.rejects(downloadCheckpoint(fx.store, 'ok', -1, scratch), UnsafeKeyError);
      await assert.rejects(downloadCheckpoint(fx.store, 'a/../../b', 1, scratch), UnsafeKeyError);
      const writer = new CheckpointWriter({ store: fx.store, ...quiet });
      const content = await contentOf('x', trainedTrainee(0));
      assert.throws(() => writer.save({ ...content, runId: '../../etc' }), UnsafeKeyError);
      assert.throws(() => writer.save({ ...content, step: 1.5 }), UnsafeKeyError);
    });
  });
}
