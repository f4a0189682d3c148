import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { mnistDir } from '@gradq/testing';
import { DownloadError, ensureMnist } from './download';
import { MNIST_FILES } from './files';

const MNIST_DIR = mnistDir();
const NAMES = Object.values(MNIST_FILES).map((f) => f.name);

/**
 * A local stand-in for the mirrors, serving the real files under several behaviours:
 *   /good/<file>      the original bytes
 *   /missing/<file>   404
 *   /corrupt/<file>   the original bytes with one byte flipped (same length, wrong sha256)
 *   /cut/<file>       announces the full length, sends half, then drops the connection
 *   /only-<file>/...  serves that one file and 404s the rest
 */
let server: Server;
let base: string;
const originals = new Map<string, Buffer>();
/** Every path requested, in order. */
let requests: string[] = [];
let tmp: string;

before(async () => {
  for (const name of NAMES) originals.set(name, await readFile(join(MNIST_DIR, name)));
  server = createServer((req, res) => {
    const path = req.url ?? '';
    requests.push(path);
    const [, mode, name] = path.split('/');
    const original = name ? originals.get(name) : undefined;
    const onlyFile = mode?.startsWith('only-') ? mode.slice('only-'.length) : undefined;
    if (!original || mode === 'missing' || (onlyFile !== undefined && onlyFile !== name)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    } else if (mode === 'good' || onlyFile === name) {
      res.writeHead(200, { 'content-length': original.length }).end(original);
    } else if (mode === 'corrupt') {
      const bytes = Buffer.from(original);
      bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] as number) ^ 0xff;
      res.writeHead(200, { 'content-length': bytes.length }).end(bytes);
    } else if (mode === 'cut') {
      res.writeHead(200, { 'content-length': original.length });
      res.write(original.subarray(0, original.length >> 1), () => res.destroy());
    } else {
      res.writeHead(500).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  tmp = await mkdtemp(join(tmpdir(), 'gradq-download-'));
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(tmp, { recursive: true, force: true });
});

beforeEach(() => {
  requests = [];
});

let dirs = 0;
function freshDir(): string {
  dirs += 1;
  return join(tmp, `data-${dirs}`, 'mnist');
}

async function assertOriginals(dir: string): Promise<void> {
  assert.deepEqual((await readdir(dir)).sort(), [...NAMES].sort());
  for (const { name, sha256 } of Object.values(MNIST_FILES)) {
    const digest = createHash('sha256')
      .update(await readFile(join(dir, name)))
      .digest('hex');
    assert.equal(digest, sha256, name);
  }
}

describe('ensureMnist', () => {
  test('downloads all four files into a new directory, checksums verified', async () => {
    const dir = freshDir();
    const lines: string[] = [];
    await ensureMnist(dir, { mirrors: [`${base}/good/`], log: (l) => lines.push(l) });
    await assertOriginals(dir);
    assert.deepEqual(requests.sort(), NAMES.map((n) => `/good/${n}`).sort());
    assert.equal(lines.length, 4);
    assert.match(lines[0] ?? '', /downloaded .*-ubyte\.gz \(\d+ bytes\)/);
  });

  test('a first mirror that returns 404 is skipped and the second used', async () => {
    const dir = freshDir();
    await ensureMnist(dir, { mirrors: [`${base}/missing/`, `${base}/good/`] });
    await assertOriginals(dir);
    for (const name of NAMES) {
      assert.ok(requests.indexOf(`/missing/${name}`) < requests.indexOf(`/good/${name}`), name);
    }
  });

  test('a first mirror that serves corrupted bytes is skipped and the second used', async () => {
    const dir = freshDir();
    await ensureMnist(dir, { mirrors: [`${base}/corrupt/`, `${base}/good/`] });
    await assertOriginals(dir);
    assert.equal(requests.filter((r) => r.startsWith('/corrupt/')).length, 4);
  });

  test('a connection dropped mid-transfer falls through to the next mirror', async () => {
    const dir = freshDir();
    await ensureMnist(dir, { mirrors: [`${base}/cut/`, `${base}/good/`] });
    await assertOriginals(dir);
  });

  test('every mirror bad: a DownloadError naming the file and each URL, and nothing left behind', async () => {
    const dir = freshDir();
    const mirrors = [`${base}/missing/`, `${base}/corrupt/`, `${base}/cut/`];
    await assert.rejects(ensureMnist(dir, { mirrors }), (err: Error) => {
      assert.ok(err instanceof DownloadError, `not a DownloadError: ${err}`);
      assert.equal(err.name, 'DownloadError');
      const first = MNIST_FILES.trainImages.name;
      assert.match(err.message, new RegExp(`could not download ${first.replace(/\./g, '\\.')} into`));
      assert.ok(err.message.includes(dir), err.message);
      for (const mirror of mirrors) assert.ok(err.message.includes(`${mirror}${first}`), `${mirror} not named`);
      assert.match(err.message, /HTTP 404/);
      assert.match(err.message, /sha256 [0-9a-f]{64} does not match/);
      return true;
    });
    assert.deepEqual(await readdir(dir), []);
  });

  test('a failure on a later file keeps the earlier ones whole and leaves no partial file', async () => {
    const dir = freshDir();
    const first = MNIST_FILES.trainImages.name;
    await assert.rejects(ensureMnist(dir, { mirrors: [`${base}/cut/`, `${base}/only-${first}/`] }), (err: Error) => {
      assert.equal(err.name, 'DownloadError');
      assert.ok(err.message.includes(MNIST_FILES.trainLabels.name), err.message);
      return true;
    });
    assert.deepEqual(await readdir(dir), [first]);
    assert.deepEqual(await readFile(join(dir, first)), originals.get(first));
  });

  test('files already present are not fetched again', async () => {
    const dir = freshDir();
    await mkdir(dir, { recursive: true });
    for (const { name } of [MNIST_FILES.trainImages, MNIST_FILES.trainLabels, MNIST_FILES.testImages]) {
      await copyFile(join(MNIST_DIR, name), join(dir, name));
    }
    await ensureMnist(dir, { mirrors: [`${base}/good/`] });
    assert.deepEqual(requests, [`/good/${MNIST_FILES.testLabels.name}`]);
    await assertOriginals(dir);

    requests = [];
    await ensureMnist(dir, { mirrors: [`${base}/good/`] });
    assert.deepEqual(requests, []);
  });

  test('a present file is kept as is, even if wrong: the IDX reader is what validates it', async () => {
    const dir = freshDir();
    await ensureMnist(dir, { mirrors: [`${base}/good/`] });
    await writeFile(join(dir, MNIST_FILES.testLabels.name), 'not mnist');
    requests = [];
    await ensureMnist(dir, { mirrors: [`${base}/good/`] });
    assert.deepEqual(requests, []);
    assert.equal(await readFile(join(dir, MNIST_FILES.testLabels.name), 'utf8'), 'not mnist');
  });

  test('a mirror URL without a trailing slash still means that directory', async () => {
    const dir = freshDir();
    await ensureMnist(dir, { mirrors: [`${base}/good`] });
    await assertOriginals(dir);
  });
});
