import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadMnist, type Mnist } from '@gradq/model';
import { mnistDir } from '@gradq/testing';
import { CHECKPOINT_FILES, CheckpointWriter, checkpointFileKey, previewDigitsFrom } from '../src/index';
import { contentOf, openStore, SMALL, type StoreFixture, tfReady, trainedFew, uniqueRunId } from './helpers';

const here = fileURLToPath(new URL('.', import.meta.url));
const cli = join(here, '..', 'src', 'cli', 'ckpt.ts');
const MNIST_DIR = mnistDir();

let fx: StoreFixture;
let mnist: Mnist;
let out: string;
before(async () => {
  await tfReady();
  fx = await openStore('s3');
  mnist = await loadMnist(MNIST_DIR, { download: false });
  out = await mkdtemp(join(tmpdir(), 'gradq-ckpt-e2e-'));
});
after(async () => {
  await fx.close();
  await rm(out, { recursive: true, force: true });
});

function ckpt(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', cli, ...args], {
    env: { ...process.env, ...fx.env },
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('saved on S3, listed and downloaded by pnpm ckpt, loaded by tf.loadLayersModel elsewhere: same test MSE', async () => {
  const runId = uniqueRunId('e2e');
  // A few real Adam steps on 64 training digits, then the test MSE over all 10,000 test digits.
  const { trainee, testMse } = trainedFew(SMALL, mnist);
  trainee.position.testMse.push(testMse);
  // The live run page shows the preview the writer hands over when it renders it.
  const previews: Array<{ step: number; png: Uint8Array }> = [];
  const writer = new CheckpointWriter({
    store: fx.store,
    log: () => {},
    previewDigits: previewDigitsFrom(mnist.test),
    hooks: { onPreview: (e) => previews.push(e) },
  });
  writer.save(await contentOf(runId, trainee, SMALL, { epochEnd: true, metrics: { loss: 0.1, testMse } }));
  assert.deepEqual(await writer.flush(), { lastSavedStep: 5 });

  const runs = ckpt('list');
  assert.equal(runs.code, 0, runs.stderr);
  assert.match(runs.stdout, new RegExp(`${runId}\\s+1\\s+5`));
  const steps = ckpt('list', runId);
  assert.equal(steps.code, 0, steps.stderr);
  assert.match(
    steps.stdout,
    new RegExp(`^5\\s+0\\s+yes\\s+.*${testMse.toPrecision(6)}\\s+complete \\(latest\\)$`, 'm'),
  );

  const dir = join(out, 'model');
  const download = ckpt('download', runId, 'latest', '--out', dir);
  assert.equal(download.code, 0, download.stderr);

  const child = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(here, 'fixtures', 'evaluate-model.ts'), join(dir, 'model.json'), MNIST_DIR],
    { encoding: 'utf8' },
  );
  assert.equal(child.status, 0, child.stderr);
  const result = JSON.parse(child.stdout.trim().split('\n').at(-1) as string) as { testMse: number; layers: number };
  assert.equal(result.layers, 2);
  // Same weights, same backend, same chunked evaluation: the same float64 sum, bit for bit.
  assert.equal(result.testMse, testMse);

  // The README's snippet for the published @tensorflow/tfjs alone: plain Node, no tsx, no gradq package.
  const plain = spawnSync(process.execPath, [join(here, 'fixtures', 'load-with-tfjs.mjs'), dir, MNIST_DIR], {
    encoding: 'utf8',
    cwd: join(here, 'fixtures'),
  });
  assert.equal(plain.status, 0, plain.stderr);
  const loaded = JSON.parse(plain.stdout.trim().split('\n').at(-1) as string) as { testMse: number };
  // Another backend (tfjs's pure-JS cpu), another summation order: equal to float32 rounding.
  assert.ok(Math.abs(loaded.testMse - testMse) <= 1e-5 * testMse, `plain tfjs ${loaded.testMse} vs ${testMse}`);
  const readme = await readFile(join(here, '..', '..', '..', 'README.md'), 'utf8');
  const snippet = (await readFile(join(here, 'fixtures', 'load-with-tfjs.mjs'), 'utf8')).match(
    /\/\/ README snippet start\n([\s\S]*?)\/\/ README snippet end/,
  )?.[1];
  assert.ok(snippet && readme.includes(snippet), 'README.md does not hold the snippet of fixtures/load-with-tfjs.mjs');

  const inspect = ckpt('inspect', runId, '5');
  assert.equal(inspect.code, 0, inspect.stderr);
  const summary = JSON.parse(inspect.stdout) as { position: { step: number }; metrics: { testMse: number } };
  assert.equal(summary.position.step, 5);
  assert.equal(summary.metrics.testMse, testMse);

  const png = join(out, 'preview.png');
  assert.equal(ckpt('preview', runId, '--out', png).code, 0);
  assert.deepEqual([...(await readFile(png)).subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.deepEqual(
    previews.map((p) => p.step),
    [5],
  );
  assert.deepEqual(Buffer.from(previews[0]?.png ?? []), await readFile(png), 'onPreview gave the stored preview.png');

  // Tampered after upload: download refuses, naming the file, exit code 1.
  const key = checkpointFileKey(runId, 5, CHECKPOINT_FILES.weights);
  const weights = await fx.store.get(key);
  weights[0] = (weights[0] ?? 0) ^ 0xff;
  await fx.store.put(key, weights);
  const refused = ckpt('download', runId, '5', '--out', join(out, 'refused'));
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /weights\.bin: sha256/);

  const unasked = ckpt('rm', runId);
  assert.equal(unasked.code, 2, 'a whole run is deleted only with --yes');
  assert.match(unasked.stderr, /deletes the whole run \(1 checkpoint\(s\)\); add --yes/);
  assert.equal(ckpt('list', runId).code, 0, 'the run is still there');
  assert.equal(ckpt('rm', runId, '5').code, 0);
  assert.equal(ckpt('list', runId).code, 2, 'the run is gone');
});

test('pnpm ckpt: usage errors exit 2 with a clear message', () => {
  const cases: [string[], RegExp][] = [
    [['bogus'], /unknown command 'bogus'/],
    [['download', 'no-such-run', '--out', '/tmp/x'], /unknown run 'no-such-run'/],
    [['inspect', '../etc'], /invalid run id/],
    [['download', 'r'], /needs --out DIR/],
    [['list', 'a', 'b'], /too many arguments/],
  ];
  for (const [args, message] of cases) {
    const r = ckpt(...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  const help = ckpt('--help');
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: pnpm ckpt/);
});
