// `pnpm ckpt export`: the model leaves gradq. A seed-model checkpoint (784-392-196-392-784, ReLU) exported as
// safetensors loads into the PyTorch Autoencoder by name and shape, and as ONNX runs in onnxruntime-node and passes
// onnx's checker; each reproduces gradq's test MSE on the 10,000 test digits.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadMnist, type Mnist, scalePixels } from '@gradq/model';
import { findTool, mnistDir, skipWithoutTool } from '@gradq/testing';
import { hyperparamsSchema } from '@gradq/trainer';
import * as ort from 'onnxruntime-node';
import { CheckpointWriter, LocalStore } from '../src/index';
import { contentOf, tfReady, trainedFew, uniqueRunId } from './helpers';

const here = fileURLToPath(new URL('.', import.meta.url));
const cli = join(here, '..', 'src', 'cli', 'ckpt.ts');
const SEED = hyperparamsSchema.parse({});

let dir: string;
let mnist: Mnist;
let runId: string;
let testMse: number;

before(async () => {
  await tfReady();
  dir = await mkdtemp(join(tmpdir(), 'gradq-export-'));
  mnist = await loadMnist(mnistDir(), { download: false });
  // A few real Adam steps of the seed model, then gradq's own test MSE over the 10,000 test digits.
  const trained = trainedFew(SEED, mnist);
  const { trainee } = trained;
  testMse = trained.testMse;
  runId = uniqueRunId('export');
  const writer = new CheckpointWriter({ store: new LocalStore(join(dir, 'store')), log: () => {} });
  writer.save(await contentOf(runId, trainee, SEED, { metrics: { testMse } }));
  assert.deepEqual(await writer.flush(), { lastSavedStep: 5 });
});

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function ckpt(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', cli, ...args], {
    env: { ...process.env, S3_BUCKET: '', CHECKPOINT_DIR: join(dir, 'store') },
    encoding: 'utf8',
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

function exported(format: 'safetensors' | 'onnx', name: string): string {
  const out = join(dir, `${name}.${format}`);
  const r = ckpt('export', runId, 'latest', '--format', format, '--out', out);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, new RegExp(`wrote ${out.replace(/[.]/g, '\\.')} \\(${format}: run ${runId} step 5`));
  return out;
}

const STATE_DICT = {
  'encoder.weight': [392, 784],
  'encoder.bias': [392],
  'bottleneck.weight': [196, 392],
  'bottleneck.bias': [196],
  'decoder.weight': [392, 196],
  'decoder.bias': [392],
  'output.weight': [784, 392],
  'output.bias': [784],
};

test('safetensors: the PyTorch names and [out, in] shapes, little-endian f32, metadata naming the run', async () => {
  const bytes = await readFile(exported('safetensors', 'layout'));
  const length = Number(Buffer.from(bytes).readBigUInt64LE(0));
  assert.equal((8 + length) % 8, 0, 'the data is 8-byte aligned');
  const header = JSON.parse(bytes.subarray(8, 8 + length).toString()) as Record<string, unknown>;
  const { __metadata__: metadata, ...tensors } = header as Record<string, { shape: number[]; dtype: string }>;
  assert.deepEqual(Object.fromEntries(Object.entries(tensors).map(([k, v]) => [k, v.shape])), STATE_DICT);
  assert.ok(Object.values(tensors).every((t) => t.dtype === 'F32'));
  assert.equal((metadata as unknown as Record<string, string>).gradq_run_id, runId);
  assert.equal((metadata as unknown as Record<string, string>).gradq_step, '5');
});

test("ONNX in onnxruntime-node reproduces gradq's test MSE within 1e-6", async () => {
  const session = await ort.InferenceSession.create(exported('onnx', 'ort'));
  const inputs = scalePixels(mnist.test.pixels);
  const { reconstruction } = await session.run({ pixels: new ort.Tensor('float32', inputs, [mnist.test.count, 784]) });
  const y = reconstruction?.data as Float32Array;
  let sum = 0;
  for (let i = 0; i < inputs.length; i++) sum += ((y[i] as number) - (inputs[i] as number)) ** 2;
  const onnxMse = sum / inputs.length;
  assert.ok(Math.abs(onnxMse - testMse) <= 1e-6, `onnxruntime ${onnxMse} vs gradq ${testMse}`);
  await session.release();
});

test('PyTorch loads the safetensors into the seed Autoencoder, and onnx checks the ONNX model: same test MSE', {
  skip: skipWithoutTool('python-torch') || skipWithoutTool('python-onnx'),
}, () => {
  const st = exported('safetensors', 'python');
  const model = exported('onnx', 'python');
  const [python] = findTool('python-torch') as string[];
  const r = spawnSync(python as string, [join(here, '..', 'python', 'check_export.py'), st, model, mnistDir()], {
    cwd: join(here, '..', 'python'),
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const result = JSON.parse(r.stdout.trim().split('\n').at(-1) as string) as {
    torch_mse: number;
    onnx_numpy_mse: number;
    onnx_opset: number;
    state_dict: Record<string, number[]>;
  };
  assert.deepEqual(result.state_dict, STATE_DICT);
  assert.ok(Math.abs(result.torch_mse - testMse) <= 1e-5, `PyTorch ${result.torch_mse} vs gradq ${testMse}`);
  assert.ok(Math.abs(result.onnx_numpy_mse - testMse) <= 1e-5, `onnx ${result.onnx_numpy_mse} vs ${testMse}`);
  assert.equal(result.onnx_opset, 13);
});

test('export refuses a missing or unknown --format and an existing --out (untouched), exit 2', async () => {
  assert.equal(ckpt('export', runId, '--out', join(dir, 'x.onnx')).code, 2);
  const unknown = ckpt('export', runId, '--format', 'pt', '--out', join(dir, 'x.pt'));
  assert.equal(unknown.code, 2);
  assert.match(unknown.out, /--format safetensors or --format onnx, not 'pt'/);
  const existing = join(dir, 'existing.onnx');
  await writeFile(existing, 'keep me');
  const r = ckpt('export', runId, '--format', 'onnx', '--out', existing);
  assert.equal(r.code, 2, r.out);
  assert.match(r.out, /exists; choose a new path/);
  assert.equal(await readFile(existing, 'utf8'), 'keep me');
});
