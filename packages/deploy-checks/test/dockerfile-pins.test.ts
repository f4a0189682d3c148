// What `pnpm test:docker` cannot see by building the images: the Dockerfile's version pins against the workspace's
// (a mismatch still builds, it just ships another pnpm; the GPU image is not built there at all), the GPU image's
// bases, and a .dockerignore that keeps host artefacts out of every build context.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, test } from 'node:test';
import { dockerignore } from '../src/index';
import { pinnedPnpmVersion, readRepoFile, repoPath } from './support/repo';

const dockerfile = readRepoFile('Dockerfile');
const argDefault = (name: string) => new RegExp(`^ARG ${name}=(\\S+)\\s*$`, 'm').exec(dockerfile)?.[1];

describe('Dockerfile pins', () => {
  test('ARG PNPM_VERSION is the packageManager pin', () => {
    assert.equal(argDefault('PNPM_VERSION'), pinnedPnpmVersion());
  });

  test('the GPU image: a CUDA 12.x/13.x runtime base, its fatbin built in the devel image of the same version', () => {
    const devel = argDefault('CUDA_DEVEL_IMAGE') ?? '';
    const runtime = argDefault('CUDA_RUNTIME_IMAGE') ?? '';
    const version = /^nvidia\/cuda:(1[23]\.\d+\.\d+)-runtime-ubuntu\d+\.\d+$/.exec(runtime)?.[1];
    assert.ok(version, `CUDA_RUNTIME_IMAGE ${runtime}: an nvidia/cuda 12.x or 13.x runtime image`);
    assert.equal(devel, runtime.replace('-runtime-', '-devel-'));
    assert.match(dockerfile, /^FROM \$\{CUDA_DEVEL_IMAGE\} AS build-gpu$/m);
    assert.match(dockerfile, /^FROM \$\{CUDA_RUNTIME_IMAGE\} AS worker-gpu$/m);
    // Not the deprecated CUDA 11 images, nor TensorFlow.js's GPU binding for Node (issue 12).
    assert.doesNotMatch(dockerfile, new RegExp(['tfjs-node-', 'gpu|nvidia/cuda:1', '1'].join('')));
  });
});

describe('.dockerignore', () => {
  const ignored = dockerignore(readRepoFile('.dockerignore'));

  test('keeps host artefacts, data, checkpoints and secrets out of the build context', () => {
    for (const path of [
      'node_modules/.pnpm/x/index.js',
      'packages/model/node_modules/@tensorflow/tfjs/package.json',
      'packages/native-kernels/build/Release/gradq_native.node',
      'packages/cuda-kernels/build/gradq_cuda.fatbin',
      'data/mnist/train-images-idx3-ubyte.gz',
      'checkpoints/run-1/00000100/model.json',
      '.env',
      '.git/HEAD',
    ]) {
      assert.ok(ignored(path), `${path} must be ignored`);
    }
  });

  test('keeps everything the build needs', () => {
    const needed = [
      'package.json',
      'pnpm-lock.yaml',
      'pnpm-workspace.yaml',
      '.npmrc',
      'tsconfig.base.json',
      '.env.example',
    ];
    for (const group of ['packages', 'services']) {
      for (const pkg of readdirSync(repoPath(group))) {
        needed.push(`${group}/${pkg}/package.json`);
        const walk = (rel: string): void => {
          for (const entry of readdirSync(repoPath(rel), { withFileTypes: true })) {
            if (entry.isDirectory()) walk(`${rel}/${entry.name}`);
            else needed.push(`${rel}/${entry.name}`);
          }
        };
        try {
          walk(`${group}/${pkg}/src`);
        } catch {
          // a package without src/
        }
      }
    }
    needed.push(
      'packages/native-kernels/binding.gyp',
      'packages/native-kernels/scripts/install.mjs',
      'packages/cuda-kernels/binding.gyp',
      'packages/cuda-kernels/scripts/build.mjs',
      'packages/cuda-kernels/native/kernels.cu',
    );
    const dropped = needed.filter((p) => ignored(p));
    assert.deepEqual(dropped, []);
  });
});
