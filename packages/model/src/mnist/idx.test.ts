import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { mnistDir } from '@gradq/testing';
import { MNIST_FILES } from './files';
import { IdxFormatError, parseImages, parseLabels } from './idx';

const MNIST_DIR = mnistDir();

let dir: string;
/** Raw (gunzipped) IDX bytes of the test split, which is enough for every malformed variant. */
let images: Uint8Array;
let labels: Uint8Array;

/** Writes bytes under a name in the temp dir and parses them from that path, like loadMnist does. */
async function parsedFrom<T>(name: string, bytes: Uint8Array, parse: (data: Uint8Array, file: string) => T) {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return { path, parse: async () => parse(new Uint8Array(await readFile(path)), path) };
}

/** Asserts an IdxFormatError whose message names the file and matches `problem`. */
async function rejects(parse: () => Promise<unknown>, path: string, problem: RegExp): Promise<void> {
  await assert.rejects(parse, (err: Error) => {
    assert.ok(err instanceof IdxFormatError, `expected an IdxFormatError, got ${err}`);
    assert.equal(err.name, 'IdxFormatError');
    assert.ok(err.message.includes(path), `message does not name ${path}: ${err.message}`);
    assert.match(err.message, problem);
    return true;
  });
}

function withWord(bytes: Uint8Array, index: number, value: number): Uint8Array {
  const copy = Uint8Array.from(bytes);
  new DataView(copy.buffer).setUint32(index * 4, value);
  return copy;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gradq-idx-'));
  images = gunzipSync(await readFile(join(MNIST_DIR, MNIST_FILES.testImages.name)));
  labels = gunzipSync(await readFile(join(MNIST_DIR, MNIST_FILES.testLabels.name)));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the real MNIST files', () => {
  test('parse with the documented counts and dimensions', async () => {
    for (const [imagesName, labelsName, count] of [
      [MNIST_FILES.trainImages.name, MNIST_FILES.trainLabels.name, 60_000],
      [MNIST_FILES.testImages.name, MNIST_FILES.testLabels.name, 10_000],
    ] as const) {
      const img = parseImages(new Uint8Array(await readFile(join(MNIST_DIR, imagesName))), imagesName);
      const lab = parseLabels(new Uint8Array(await readFile(join(MNIST_DIR, labelsName))), labelsName);
      assert.deepEqual([img.count, img.rows, img.cols, img.pixels.length], [count, 28, 28, count * 784]);
      assert.deepEqual([lab.count, lab.labels.length], [count, count]);
      assert.ok(
        lab.labels.every((l) => l <= 9),
        `${labelsName} has a label above 9`,
      );
    }
  });

  test('raw (not gzipped) IDX parses the same', () => {
    const fromRaw = parseImages(images, 'raw');
    assert.equal(fromRaw.count, 10_000);
    assert.deepEqual(fromRaw.pixels, images.subarray(16));
    // The first test digit is a 7.
    assert.equal(parseLabels(labels, 'raw').labels[0], 7);
  });
});

describe('malformed IDX files are rejected, naming the file and the problem', () => {
  test('wrong magic in an image file', async () => {
    const f = await parsedFrom('magic-images.gz', gzipSync(withWord(images, 0, 0x00000801)), parseImages);
    await rejects(f.parse, f.path, /wrong magic number 0x00000801, expected 0x00000803/);
  });

  test('a label file given as images, and images given as labels', async () => {
    const asImages = await parsedFrom('labels-as-images', labels, parseImages);
    await rejects(asImages.parse, asImages.path, /wrong magic number/);
    const asLabels = await parsedFrom('images-as-labels', images, parseLabels);
    await rejects(asLabels.parse, asLabels.path, /wrong magic number 0x00000803, expected 0x00000801/);
  });

  test('wrong dimensions', async () => {
    const rows = await parsedFrom('rows.gz', gzipSync(withWord(images, 2, 27)), parseImages);
    await rejects(rows.parse, rows.path, /wrong dimensions: images are 27x28, expected 28x28/);
    const cols = await parsedFrom('cols', withWord(images, 3, 32), parseImages);
    await rejects(cols.parse, cols.path, /wrong dimensions: images are 28x32/);
  });

  test('a truncated image file, gzipped and raw', async () => {
    const gz = await parsedFrom('short-images.gz', gzipSync(images.subarray(0, images.length - 784)), parseImages);
    await rejects(gz.parse, gz.path, /truncated: the header says 10000 images of 28x28 \(7840016 bytes\)/);
    const raw = await parsedFrom('short-images', images.subarray(0, 1000), parseImages);
    await rejects(raw.parse, raw.path, /truncated.*but the file has 1000 bytes/);
  });

  test('a file shorter than its header', async () => {
    const f = await parsedFrom('tiny', images.subarray(0, 10), parseImages);
    await rejects(f.parse, f.path, /truncated: 10 bytes is shorter than the 16-byte IDX header/);
    const empty = await parsedFrom('empty-labels', new Uint8Array(0), parseLabels);
    await rejects(empty.parse, empty.path, /truncated: 0 bytes/);
  });

  test('a truncated label file', async () => {
    const f = await parsedFrom('short-labels.gz', gzipSync(labels.subarray(0, labels.length - 1)), parseLabels);
    await rejects(f.parse, f.path, /truncated: the header says 10000 labels/);
  });

  test('trailing bytes', async () => {
    const padded = new Uint8Array(images.length + 5);
    padded.set(images);
    const f = await parsedFrom('long-images.gz', gzipSync(padded), parseImages);
    await rejects(f.parse, f.path, /has trailing bytes.*7840021 bytes/);
    const longLabels = await parsedFrom('long-labels', Uint8Array.from([...labels, 3]), parseLabels);
    await rejects(longLabels.parse, longLabels.path, /has trailing bytes/);
  });

  test('a count in the header that disagrees with the data', async () => {
    const f = await parsedFrom('count.gz', gzipSync(withWord(images, 1, 9_999)), parseImages);
    await rejects(f.parse, f.path, /has trailing bytes: the header says 9999 images/);
  });

  test('a corrupt gzip stream', async () => {
    const gz = await readFile(join(MNIST_DIR, MNIST_FILES.testImages.name));
    const corrupt = Uint8Array.from(gz);
    for (let i = 1000; i < 1100; i++) corrupt[i] = (corrupt[i] as number) ^ 0x5a;
    const f = await parsedFrom('corrupt.gz', corrupt, parseImages);
    await rejects(f.parse, f.path, /not a valid gzip file/);
  });

  test('a gzip file cut short', async () => {
    const gz = await readFile(join(MNIST_DIR, MNIST_FILES.testLabels.name));
    const f = await parsedFrom('cut.gz', gz.subarray(0, gz.length - 100), parseLabels);
    await rejects(f.parse, f.path, /not a valid gzip file/);
  });

  test('a label above 9, naming its index', async () => {
    const bad = Uint8Array.from(labels);
    bad[8 + 1234] = 10;
    const f = await parsedFrom('label10.gz', gzipSync(bad), parseLabels);
    await rejects(f.parse, f.path, /label 1234 is 10, not a digit 0-9/);
  });
});
