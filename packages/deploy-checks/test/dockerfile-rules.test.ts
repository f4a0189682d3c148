// The image rules, checked statically (there is no Docker engine in CI): multi-stage, Debian slim (glibc for
// tfjs-node) or NVIDIA's CUDA runtime, the pinned pnpm, a frozen install then `pnpm deploy --prod`, no compiler in
// what ships, a non-root user, tini as PID 1, a HEALTHCHECK; and a .dockerignore that keeps host artefacts out.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings are Dockerfile ARG references, not JS templates.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, test } from 'node:test';
import { baseImage, dockerignore, effectiveInstructions, parseDockerfile, stageChain } from '../src/index';
import { catalogVersion, pinnedPnpmVersion, readRepoFile, repoPath } from './support/repo';

const file = parseDockerfile(readRepoFile('Dockerfile'));
const CPU_TARGETS = ['coordinator', 'worker'];
const TARGETS = [...CPU_TARGETS, 'worker-gpu'];
const BUILD_STAGES: Record<string, string> = { coordinator: 'build', worker: 'build', 'worker-gpu': 'build-gpu' };

const runs = (stage: string) =>
  stageChain(file, stage).flatMap((s) => s.instructions.filter((i) => i.keyword === 'RUN'));
const installs = (stage: string) =>
  runs(stage)
    .map((r) => /apt-get install[^&;]*/.exec(r.args)?.[0] ?? '')
    .join(' ');

describe('Dockerfile', () => {
  test('is multi-stage and defines every target compose builds', () => {
    assert.ok(file.stages.length >= 3);
    for (const t of TARGETS)
      assert.ok(
        file.stages.some((s) => s.name === t),
        `no stage ${t}`,
      );
  });

  test('CPU images are Node 20 on Debian bookworm slim; the GPU image is a CUDA 11.2 + cuDNN 8 runtime', () => {
    for (const t of [...CPU_TARGETS, 'build']) assert.equal(baseImage(file, t), 'node:20-bookworm-slim', t);
    const cuda = baseImage(file, 'worker-gpu') ?? '';
    // libtensorflow 2.9.1 (tfjs-node-gpu 4.22) needs CUDA 11.2 and cuDNN 8.1; `runtime`, not `devel`: no toolkit.
    assert.match(cuda, /^nvidia\/cuda:11\.2\.\d+-cudnn8-runtime-ubuntu/);
  });

  test('installs the pinned pnpm, a frozen lockfile, then pnpm deploy --prod per service', () => {
    assert.equal(file.globalArgs.PNPM_VERSION, pinnedPnpmVersion(), 'ARG PNPM_VERSION must match packageManager');
    for (const stage of new Set(Object.values(BUILD_STAGES))) {
      const commands = runs(stage).map((r) => r.args);
      assert.ok(
        commands.some((c) => c.includes('npm i -g pnpm@${PNPM_VERSION}')),
        `${stage}: npm i -g pnpm`,
      );
      assert.ok(
        commands.some((c) => /pnpm install .*--frozen-lockfile/.test(c)),
        `${stage}: frozen install`,
      );
      assert.ok(
        commands.some((c) => /pnpm .*--prod .*deploy /.test(c)),
        `${stage}: pnpm deploy --prod`,
      );
      // native-kernels builds with node-gyp against OpenBLAS.
      for (const pkg of ['build-essential', 'python3', 'libopenblas-dev']) {
        assert.ok(installs(stage).includes(pkg), `${stage} must install ${pkg}`);
      }
    }
    for (const t of TARGETS) {
      const copies = effectiveInstructions(file, t).filter((i) => i.keyword === 'COPY' && i.args.includes('--from='));
      assert.ok(
        copies.some(
          (c) =>
            c.args.includes(`--from=${BUILD_STAGES[t]} /out/worker`) ||
            c.args.includes(`--from=${BUILD_STAGES[t]} /out/coordinator`),
        ),
        `${t} must ship a deployed tree from ${BUILD_STAGES[t]}`,
      );
    }
  });

  test('the GPU build adds @tensorflow/tfjs-node-gpu at the catalog tfjs version, and the image selects it', () => {
    const tfjs = catalogVersion('@tensorflow/tfjs');
    assert.equal(
      file.stages
        .find((s) => s.name === 'build-gpu')
        ?.instructions.find((i) => i.keyword === 'ARG' && i.args.startsWith('TFJS_NODE_GPU_VERSION'))?.args,
      `TFJS_NODE_GPU_VERSION=${tfjs}`,
    );
    assert.ok(runs('build-gpu').some((r) => r.args.includes('add @tensorflow/tfjs-node-gpu@${TFJS_NODE_GPU_VERSION}')));
    const env = effectiveInstructions(file, 'worker-gpu')
      .filter((i) => i.keyword === 'ENV')
      .map((i) => i.args)
      .join(' ');
    assert.match(env, /TFJS_BACKEND=tensorflow-gpu/);
  });

  for (const t of TARGETS) {
    describe(`target ${t}`, () => {
      const instructions = effectiveInstructions(file, t);
      const last = (keyword: string) => instructions.filter((i) => i.keyword === keyword).at(-1)?.args;

      test('runs as a non-root user', () => {
        const user = last('USER');
        assert.ok(user, 'no USER');
        assert.ok(!['root', '0', '0:0', 'root:root'].includes(user), `USER ${user}`);
      });

      test('has tini as PID 1 (installed, and the ENTRYPOINT)', () => {
        assert.match(last('ENTRYPOINT') ?? '', /^\["\/usr\/bin\/tini", "--"\]$/);
        assert.ok(installs(t).includes('tini'), 'tini must be installed in the runtime chain');
      });

      test('has a HEALTHCHECK on /healthz and a CMD run through tsx', () => {
        assert.match(last('HEALTHCHECK') ?? '', /\/healthz/);
        assert.match(last('CMD') ?? '', /"node", "--import", "tsx", "src\/cli\/(coordinator|worker)\.ts"/);
      });

      test('ships the OpenBLAS runtime library and no compiler', () => {
        assert.ok(installs(t).includes('libopenblas0'));
        for (const pkg of ['build-essential', 'libopenblas-dev', 'python3', 'gcc']) {
          assert.ok(!installs(t).includes(pkg), `${t} must not install ${pkg}`);
        }
      });
    });
  }
});

describe('.dockerignore', () => {
  const ignored = dockerignore(readRepoFile('.dockerignore'));

  test('keeps host artefacts, data, checkpoints and secrets out of the build context', () => {
    for (const path of [
      'node_modules/.pnpm/x/index.js',
      'packages/model/node_modules/@tensorflow/tfjs/package.json',
      'packages/native-kernels/build/Release/gradq_native.node',
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
    needed.push('packages/native-kernels/binding.gyp', 'packages/native-kernels/scripts/install.mjs');
    const dropped = needed.filter((p) => ignored(p));
    assert.deepEqual(dropped, []);
  });
});
