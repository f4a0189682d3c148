// `pnpm test:docker` (issue 13): the project's own Dockerfile and docker-compose.yml, built and run for real on a
// private Docker daemon, with local stand-ins for the images a machine without a registry cannot pull
// (test/docker/stand-ins.ts). What it shows, in order:
//   - the images build; they run as a non-root user under tini, declare a HEALTHCHECK and ship no compiler;
//   - `up --scale worker=2` starts the stack (Grafana left out: see GRAFANA below) and Prometheus finds the
//     coordinator and both workers by compose's DNS;
//   - scaling workers up to 3 and down to 1 mid-run keeps the bits: the run's params_sha256 equals `pnpm baseline`'s
//     on the host for the same hyperparameters on the same backend (cpu-native, which the images build offline);
//   - `stop worker` is graceful: the worker finishes, says "stopped" and exits 0 inside its grace period;
//   - a checkpoint lands in the S3 service and `pnpm ckpt download` from the host verifies every file's sha256;
//   - everything it started is gone afterwards (containers, networks, volumes, images, dockerd, iptables chains).
// Published ports bind 127.0.0.1, on free ports; the only traffic leaving the machine is the image builds' apt and
// npm registry downloads.
//
// Needs root, dockerd (apt: docker.io), docker-compose (1.29 from apt, or `docker compose`), debootstrap, and 8 GB of
// free disk (measured peak 3.6 GB). It skips with the reason otherwise; under GRADQ_REQUIRE_TOOLS=1 (.ci/run) the
// skip is a failure.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  CLI,
  cliEnv,
  freePort,
  metricValue,
  mnistDir,
  REPO_ROOT,
  scrapeMetrics,
  skipUnlessRequired,
  spawnCli,
} from '@gradq/testing';
import { interpolateDeep } from '../src/index';
import { startDockerd } from './docker/daemon';
import { type Exec, execWith } from './docker/exec';
import { buildStandIns } from './docker/stand-ins';
import { catalogVersion, readCompose, readRepoFile, service } from './support/repo';

const MIN_FREE_BYTES = 8 * 1024 ** 3;
// A run long enough for Prometheus' first scrapes and two scaling events while it trains (~1-2 min here), small
// enough that the host's baseline takes under a minute. The same numbers go to the coordinator and `pnpm baseline`.
const RUN = { epochs: 2, limit: 30_000, seed: 7, batchSize: 128, checkpointEvery: 100 };
const STEPS = RUN.epochs * Math.ceil(RUN.limit / RUN.batchSize);
// Grafana: Debian does not package it, so there is no stand-in to build without a registry; its wiring (datasource,
// dashboards, home page) is checked statically in compose-wiring.test.ts. Every other service runs.
const SERVICES = ['coordinator', 'worker', 'prometheus'];

function whyNotHere(): string | false {
  if (process.getuid?.() !== 0) return skipUnlessRequired('needs root: it starts its own dockerd');
  const missing = ['dockerd', 'docker', 'debootstrap', 'iptables', 'ip'].filter(
    (c) => spawnSync('sh', ['-c', `command -v ${c}`]).status !== 0,
  );
  if (spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status !== 0) missing.push('docker-compose');
  if (missing.length)
    return skipUnlessRequired(`${missing.join(', ')} not found: apt-get install docker.io docker-compose debootstrap`);
  const fs = statfsSync(tmpdir());
  const free = fs.bavail * fs.bsize;
  if (free < MIN_FREE_BYTES)
    return skipUnlessRequired(
      `${(free / 1024 ** 3).toFixed(1)} GB free in ${tmpdir()}, needs 8 GB (measured peak 3.6 GB)`,
    );
  return false;
}

test('docker compose: build, up --scale worker=2, same bits as pnpm baseline', {
  skip: whyNotHere(),
  timeout: 40 * 60_000,
}, async (t) => {
  const started = Date.now();
  const log = (line: string) =>
    process.stderr.write(`[docker ${((Date.now() - started) / 1000).toFixed(0)}s] ${line}\n`);
  const dir = mkdtempSync(join(tmpdir(), 'gradq-docker-'));
  let peakDisk = 0;
  const sampleDisk = () => {
    // -x: not into the containers' overlay mounts, which would count their layers again.
    const du = spawnSync('du', ['-sbx', dir], { encoding: 'utf8' });
    peakDisk = Math.max(peakDisk, Number.parseInt(du.stdout, 10) || 0);
  };
  const dockerd = await startDockerd(dir);
  const project = `gradqtest${process.pid}`;
  const ports = {
    REDIS_HOST_PORT: await freePort(),
    S3_API_PORT: await freePort(),
    PROMETHEUS_PORT: await freePort(),
    GRAFANA_PORT: await freePort(),
    COORDINATOR_HOST_PORT: await freePort(),
  };
  const runId = `docker-test-${process.pid}`;
  // Only what is set here reaches compose: a developer's REDIS_URL or .env must not change what is tested.
  const emptyEnvFile = join(dir, 'empty.env');
  writeFileSync(emptyEnvFile, '');
  const composeEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DOCKER_HOST: dockerd.env.DOCKER_HOST,
    DOCKER_BUILDKIT: '0',
    COMPOSE_DOCKER_CLI_BUILD: '0',
    DOCKER_CONFIG: dockerd.env.DOCKER_CONFIG,
    PUBLISH_ADDRESS: '127.0.0.1',
    ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
    GRADQ_IMAGE_TAG: project,
    GRADQ_CHECK_BACKEND: 'cpu-native',
    TFJS_BACKEND: 'cpu-native',
    // The S3 stand-in (s3rver) knows only this key pair.
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    EPOCHS: String(RUN.epochs),
    LIMIT: String(RUN.limit),
    SEED: String(RUN.seed),
    BATCH_SIZE: String(RUN.batchSize),
    CHECKPOINT_EVERY: String(RUN.checkpointEvery),
    RUN_ID: runId,
  };
  const composeArgs = ['-p', project, '-f', join(REPO_ROOT, 'docker-compose.yml'), '--env-file', emptyEnvFile];
  const exec: Exec = execWith(dockerd.env, log);
  const composeExec = execWith(composeEnv, log);
  const compose = {
    run: (args: readonly string[], timeoutMs?: number) =>
      composeExec('docker-compose', [...composeArgs, ...args], { cwd: REPO_ROOT, timeoutMs }),
    sync: (args: readonly string[]) =>
      spawnSync('docker-compose', [...composeArgs, ...args], {
        cwd: REPO_ROOT,
        env: composeEnv,
        encoding: 'utf8',
        timeout: 180_000,
      }),
  };
  const docker = (...args: string[]) => exec('docker', args).then((s) => s.trim());
  // Each observation is a subtest; after a failure the rest would only fail for the same reason, so they skip.
  let failed = false;
  const step = (name: string, fn: () => Promise<void> | void) =>
    t.test(name, { skip: failed ? 'an earlier step failed' : false }, async () => {
      try {
        await fn();
      } catch (err) {
        failed = true;
        throw err;
      }
    });

  const cleanup = () => {
    // Containers, networks and volumes through compose; the images go with the daemon's data root (measured: `down
    // --rmi all` first only added a minute of deleting layers one by one).
    compose.sync(['down', '--volumes', '--remove-orphans', '--timeout', '10']);
    return dockerd.stop();
  };
  // Ctrl-C or a kill reaches this process before node:test's hooks would run: clean up synchronously, then exit.
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: removing everything this test started`);
    cleanup();
    process.exit(130);
  };
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(s, onSignal);
  t.after(() => {
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, onSignal);
    cleanup();
  });

  // The names the project's files use, so that the stand-ins are what they pull.
  const rendered = interpolateDeep(readCompose(), composeEnv as Record<string, string>);
  const names = {
    node: /^ARG NODE_IMAGE=(\S+)/m.exec(readRepoFile('Dockerfile'))?.[1] ?? assert.fail('Dockerfile: no NODE_IMAGE'),
    redis: service(rendered, 'redis').image ?? '',
    prometheus: service(rendered, 'prometheus').image ?? '',
    s3: service(rendered, 's3').image ?? '',
  };

  // The reference, on the host, while the images build: same hyperparameters, same backend.
  const baseline = spawnCli(
    CLI.baseline,
    [
      '--epochs',
      String(RUN.epochs),
      '--limit',
      String(RUN.limit),
      '--seed',
      String(RUN.seed),
      '--batch-size',
      String(RUN.batchSize),
    ],
    { env: cliEnv({ TFJS_BACKEND: 'cpu-native' }) },
  );
  t.after(() => baseline.kill('SIGKILL'));

  await step('stand-ins for the pulled images, then the project images, build', async () => {
    const made = await buildStandIns(names, join(dir, 'stand-ins'), exec, catalogVersion('s3rver') ?? '3.7.1');
    log(`stand-ins: ${made.join(', ')}`);
    sampleDisk();
    await compose.run(['build', 'coordinator', 'worker', 'createbuckets'], 30 * 60_000);
    sampleDisk();
    for (const target of ['coordinator', 'worker']) {
      const image = `gradq-${target}:${project}`;
      const config = JSON.parse(await docker('image', 'inspect', '--format', '{{json .Config}}', image)) as {
        User: string;
        Entrypoint: string[];
        Healthcheck?: { Test: string[] };
      };
      assert.equal(config.User, 'node', `${image} runs as node`);
      assert.deepEqual(config.Entrypoint, ['/usr/bin/tini', '--'], `${image}: tini is PID 1`);
      assert.match(config.Healthcheck?.Test.join(' ') ?? '', /\/healthz/, `${image}: HEALTHCHECK on /healthz`);
      const compilers = await docker(
        'run',
        '--rm',
        '--entrypoint',
        'sh',
        image,
        '-c',
        'for c in cc gcc g++ make; do command -v $c || true; done',
      );
      assert.equal(compilers, '', `${image} ships no compiler`);
    }
  });

  await step('up --scale worker=2: healthy, and Prometheus finds the coordinator and both workers', async () => {
    // MNIST into the named volume compose will use (no download here), labelled as compose labels its own.
    const volume = `${project}_mnist`;
    await docker(
      'volume',
      'create',
      '--label',
      `com.docker.compose.project=${project}`,
      '--label',
      'com.docker.compose.volume=mnist',
      volume,
    );
    await docker(
      'run',
      '--rm',
      '-v',
      `${volume}:/data/mnist`,
      '-v',
      `${mnistDir()}:/src:ro`,
      '--entrypoint',
      'sh',
      names.node,
      '-c',
      'cp /src/*-ubyte.gz /data/mnist/ && chown -R 1000:1000 /data/mnist',
    );
    await compose.run(['up', '-d', '--scale', 'worker=2', ...SERVICES], 10 * 60_000);
    // Every target Prometheus has scraped successfully so far, per job: on a fast machine the coordinator may finish
    // its run (and its target go down) before the workers' DNS refresh, so "found" is "up at some point".
    const found: Record<string, Set<string>> = {};
    const count = (job: string) => found[job]?.size ?? 0;
    const deadline = Date.now() + 120_000;
    while (count('coordinator') < 1 || count('worker') < 2) {
      const seen = Object.fromEntries(Object.entries(found).map(([job, urls]) => [job, [...urls]]));
      assert.ok(Date.now() < deadline, `targets Prometheus found up in 120 s: ${JSON.stringify(seen)}`);
      await new Promise((r) => setTimeout(r, 1000));
      const body = (await fetch(`http://127.0.0.1:${ports.PROMETHEUS_PORT}/api/v1/targets`).then(
        (r) => r.json(),
        () => undefined,
      )) as { data?: { activeTargets?: { labels: { job: string }; scrapeUrl: string; health: string }[] } } | undefined;
      for (const target of body?.data?.activeTargets ?? []) {
        if (target.health !== 'up') continue;
        const urls = found[target.labels.job] ?? new Set<string>();
        urls.add(target.scrapeUrl);
        found[target.labels.job] = urls;
      }
    }
    log(`Prometheus found up: coordinator ${[...(found.coordinator ?? [])]}, worker ${[...(found.worker ?? [])]}`);
  });

  const coordinatorMetrics = `http://127.0.0.1:${ports.COORDINATOR_HOST_PORT}/metrics`;
  const currentStep = async () =>
    metricValue(await scrapeMetrics(coordinatorMetrics).catch(() => []), 'gradq_step') ?? -1;
  const waitForStep = async (atLeast: number) => {
    const deadline = Date.now() + 300_000;
    for (let s = await currentStep(); s < atLeast; s = await currentStep()) {
      assert.ok(Date.now() < deadline, `step ${s} after 300 s, waiting for ${atLeast}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    return currentStep();
  };

  await step('scaling workers up to 3 and down to 1 mid-run', async () => {
    const coordinator = (await compose.run(['ps', '-q', 'coordinator'])).trim();
    // Compose takes seconds to create or stop a container, and on an idle machine the run takes not many more: the
    // coordinator is frozen (docker pause, the cgroup freezer) while compose works, so that the scaling lands
    // mid-run on any machine. Workers keep computing the step's queued jobs meanwhile; the run goes on after.
    const scaleTo = async (workers: number, atStep: number) => {
      const at = await waitForStep(atStep);
      assert.ok(at < STEPS, `the run reached step ${at} of ${STEPS} before the workers could be scaled to ${workers}`);
      await docker('pause', coordinator);
      try {
        await compose.run(['up', '-d', '--no-deps', '--no-recreate', '--scale', `worker=${workers}`, 'worker']);
      } finally {
        await docker('unpause', coordinator);
      }
      const running = (await compose.run(['ps', '-q', 'worker'])).trim().split('\n').filter(Boolean);
      assert.equal(running.length, workers);
      log(`scaled to ${workers} worker(s) at step ${at} of ${STEPS}`);
      return at;
    };
    const up = await scaleTo(3, Math.floor(STEPS * 0.3));
    await scaleTo(1, Math.max(up + 20, Math.floor(STEPS * 0.55)));
  });

  await step('the run completes with the same params_sha256 as pnpm baseline', async () => {
    const coordinatorId = (await compose.run(['ps', '-q', 'coordinator'])).trim();
    const code = await exec('docker', ['wait', coordinatorId], { timeoutMs: 15 * 60_000 });
    const logs = spawnSync('docker', ['logs', coordinatorId], {
      env: dockerd.env,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 ** 2,
    });
    assert.equal(code.trim(), '0', `coordinator exit code ${code.trim()}:\n${logs.stderr.slice(-3000)}`);
    const summary = JSON.parse(logs.stdout.trim().split('\n').at(-1) ?? '{}') as {
      params_sha256?: string;
      backend?: string;
      steps?: number;
    };
    const reference = await baseline.summary<{ params_sha256: string; backend: string; steps: number }>(10 * 60_000);
    log(
      `coordinator: ${JSON.stringify({ backend: summary.backend, steps: summary.steps, params_sha256: summary.params_sha256 })}`,
    );
    log(
      `pnpm baseline: ${JSON.stringify({ backend: reference.backend, steps: reference.steps, params_sha256: reference.params_sha256 })}`,
    );
    assert.equal(summary.backend, 'cpu-native');
    assert.equal(summary.steps, STEPS);
    assert.equal(summary.params_sha256, reference.params_sha256);
  });

  await step('stop worker is graceful: "stopped", exit 0, inside its grace period', async () => {
    const ids = (await compose.run(['ps', '-q', 'worker'])).trim().split('\n').filter(Boolean);
    assert.equal(ids.length, 1);
    const before = Date.now();
    await compose.run(['stop', 'worker']);
    const seconds = (Date.now() - before) / 1000;
    for (const id of ids) {
      assert.equal(await docker('inspect', '--format', '{{.State.ExitCode}}', id), '0');
      const logs = spawnSync('docker', ['logs', id], { env: dockerd.env, encoding: 'utf8' });
      assert.match(logs.stderr.trim().split('\n').at(-1) ?? '', /: stopped$/);
    }
    log(`stop worker: ${seconds.toFixed(1)} s, exit 0`);
    assert.ok(seconds < 30, `stop took ${seconds} s: the worker was killed at the end of its grace period`);
  });

  await step('a checkpoint is in the S3 service, and pnpm ckpt download verifies it from the host', async () => {
    const out = join(dir, 'downloaded');
    const ckpt = spawnCli(CLI.ckpt, ['download', runId, 'latest', '--out', out], {
      env: cliEnv({
        S3_BUCKET: 'gradq',
        S3_ENDPOINT: `http://127.0.0.1:${ports.S3_API_PORT}`,
        AWS_ACCESS_KEY_ID: 'S3RVER',
        AWS_SECRET_ACCESS_KEY: 'S3RVER',
      }),
    });
    const exit = await ckpt.exited;
    assert.equal(exit.code, 0, ckpt.tail());
    log(ckpt.stdout().split('\n')[0] ?? '');
    assert.match(ckpt.stdout(), new RegExp(`downloaded run ${runId} step ${STEPS} .*all sha256 verified`));
    assert.ok(readdirSync(out).includes('model.json'));
  });

  failed = false;
  await step('everything it started is removed', () => {
    sampleDisk();
    const problems = cleanup();
    assert.deepEqual(problems, []);
    const leftovers = spawnSync('sh', ['-c', `ps -eo pid,args | grep -F '${dir}' | grep -v grep || true`], {
      encoding: 'utf8',
    }).stdout;
    assert.equal(leftovers.trim(), '', 'processes of the private dockerd left running');
    const chains = spawnSync('iptables', ['-S'], { encoding: 'utf8' }).stdout;
    assert.ok(!/^-N DOCKER/m.test(chains) || dockerd.hadChainsBefore, `iptables chains left:\n${chains}`);
    log(
      `done in ${((Date.now() - started) / 60_000).toFixed(1)} min; peak disk ${(peakDisk / 1024 ** 3).toFixed(1)} GB in ${dir}`,
    );
  });
});
