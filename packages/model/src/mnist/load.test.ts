import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { mnistDir } from '@gradq/testing';
import { MNIST_FILES } from './files';
import { IdxFormatError } from './idx';
import { loadMnist } from './load';

const MNIST_DIR = mnistDir();

let tmp: string;
let images: Uint8Array;
let labels: Uint8Array;

function idxImages(count: number): Uint8Array {
  const out = new Uint8Array(16 + count * 784);
  out.set(images.subarray(0, 16 + count * 784));
  new DataView(out.buffer).setUint32(4, count);
  return out;
}

function idxLabels(count: number): Uint8Array {
  const out = new Uint8Array(8 + count);
  out.set(labels.subarray(0, 8 + count));
  new DataView(out.buffer).setUint32(4, count);
  return out;
}

/** A data dir of small, internally consistent MNIST-format files: `counts` images and labels per file. */
async function smallDir(name: string, counts: { [K in keyof typeof MNIST_FILES]: number }): Promise<string> {
  const dir = join(tmp, name);
  await mkdir(dir);
  await writeFile(join(dir, MNIST_FILES.trainImages.name), gzipSync(idxImages(counts.trainImages)));
  await writeFile(join(dir, MNIST_FILES.trainLabels.name), gzipSync(idxLabels(counts.trainLabels)));
  await writeFile(join(dir, MNIST_FILES.testImages.name), gzipSync(idxImages(counts.testImages)));
  await writeFile(join(dir, MNIST_FILES.testLabels.name), gzipSync(idxLabels(counts.testLabels)));
  return dir;
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'gradq-load-'));
  images = gunzipSync(await readFile(join(MNIST_DIR, MNIST_FILES.testImages.name)));
  labels = gunzipSync(await readFile(join(MNIST_DIR, MNIST_FILES.testLabels.name)));
});

after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('loadMnist', () => {
  test('loads the real files: 60,000 + 10,000 samples of 784 bytes', async () => {
    const { train, test: testSplit } = await loadMnist(MNIST_DIR, { download: false });
    assert.deepEqual([train.count, train.pixels.length, train.labels.length], [60_000, 60_000 * 784, 60_000]);
    assert.deepEqual([testSplit.count, testSplit.pixels.length], [10_000, 10_000 * 784]);
    // Known first labels of each split: 5 0 4 1 9 (train) and 7 2 1 0 4 (test).
    assert.deepEqual([...train.labels.subarray(0, 5)], [5, 0, 4, 1, 9]);
    assert.deepEqual([...testSplit.labels.subarray(0, 5)], [7, 2, 1, 0, 4]);
    assert.deepEqual(testSplit.pixels.subarray(0, 784), images.subarray(16, 16 + 784));
  });

  test('files already present are not downloaded again (the default download mode)', async () => {
    const dir = await smallDir('present', { trainImages: 20, trainLabels: 20, testImages: 10, testLabels: 10 });
    // An unreachable mirror: any fetch would fail the load.
    const data = await loadMnist(dir, { mirrors: ['http://127.0.0.1:1/'], timeoutMs: 1000 });
    assert.equal(data.train.count, 20);
    assert.equal(data.test.count, 10);
  });

  test('a label count that differs from the image count names both files', async () => {
    const dir = await smallDir('mismatch', { trainImages: 20, trainLabels: 20, testImages: 10, testLabels: 9 });
    await assert.rejects(loadMnist(dir, { download: false }), (err: Error) => {
      assert.ok(err instanceof IdxFormatError, `not an IdxFormatError: ${err}`);
      assert.ok(err.message.includes(join(dir, MNIST_FILES.testImages.name)), err.message);
      assert.ok(err.message.includes(join(dir, MNIST_FILES.testLabels.name)), err.message);
      assert.match(err.message, /has 10 images but .* has 9 labels/);
      return true;
    });
  });

  test('a missing file without download names the file', async () => {
    const dir = await smallDir('missing', { trainImages: 5, trainLabels: 5, testImages: 5, testLabels: 5 });
    await rm(join(dir, MNIST_FILES.trainLabels.name));
    await assert.rejects(loadMnist(dir, { download: false }), (err: Error) => {
      assert.equal(err.name, 'IdxFormatError');
      assert.ok(err.message.includes(join(dir, MNIST_FILES.trainLabels.name)), err.message);
      assert.match(err.message, /cannot read \(ENOENT\)/);
      return true;
    });
  });

  test('a malformed file fails the whole load, naming that file', async () => {
    const dir = await smallDir('bad', { trainImages: 5, trainLabels: 5, testImages: 5, testLabels: 5 });
    const path = join(dir, MNIST_FILES.testImages.name);
    await writeFile(path, gzipSync(idxImages(5).subarray(0, 16 + 4 * 784)));
    await assert.rejects(loadMnist(dir, { download: false }), (err: Error) => {
      assert.equal(err.name, 'IdxFormatError');
      assert.ok(err.message.startsWith(`${path}: truncated`), err.message);
      return true;
    });
  });
});
