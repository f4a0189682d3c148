// Every environment variable gradq reads is documented in .env.example and passed by docker-compose.yml (or
// documented there as optional), and the compose environment parses under the services' own config schemas with
// the same result whether .env.example is used or not: the defaults it documents are the code's defaults.
//
// The list is derived from the code, never copied: the OptionSpec arrays the services export, the keys the
// checkpoint config actually reads (recorded through a Proxy), the telemetry env shape, what native-kernels reads
// for its options, plus a scan of the sources for process.env / env.X / `env: 'X'` reads (TFJS_BACKEND,
// OPENBLAS_CORETYPE, GRADQ_DEBUG, `pnpm start`'s own options...).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadCheckpointConfig } from '@gradq/checkpoint';
import { COORDINATOR_OPTIONS, coordinatorConfigSchema } from '@gradq/coordinator';
import { loadAddon } from '@gradq/native-kernels';
import { readOptions } from '@gradq/trainer';
import { WORKER_OPTIONS, workerConfigSchema } from '@gradq/worker';
import { envFileValues, interpolateDeep, referencedVariables, scanEnvReads } from '../src/index';
import { environmentOf, REPO_ROOT, readCompose, readEnvExample, service } from './support/repo';

/** The names `read` looks up in the env object it is given. */
function keysRead(read: (env: Record<string, string | undefined>) => unknown): Set<string> {
  const seen = new Set<string>();
  const env = new Proxy({} as Record<string, string | undefined>, {
    get(_, key) {
      if (typeof key === 'string') seen.add(key);
      return undefined;
    },
    has(_, key) {
      if (typeof key === 'string') seen.add(key);
      return false;
    },
  });
  try {
    read(env);
  } catch {
    // Only the lookups matter (the addon may be unbuilt here).
  }
  return seen;
}

const optionEnvs = (specs: readonly { env?: string }[]) => new Set(specs.flatMap((s) => (s.env ? [s.env] : [])));

const checkpointVars = keysRead((env) => loadCheckpointConfig(env));
// The services' options include their METRICS_PORT / METRICS_HOST (@gradq/telemetry's metricsOptions).
const coordinatorVars = new Set([...optionEnvs(COORDINATOR_OPTIONS), ...checkpointVars]);
const workerVars = optionEnvs(WORKER_OPTIONS);
const nativeVars = keysRead((env) => loadAddon({ env }));
const scanned = scanEnvReads(REPO_ROOT, {
  dirs: ['packages', 'services'],
  // Test harnesses (testing, faults, the test-support.ts helpers beside unit tests), benchmarks and scratch code are
  // not part of a deployment.
  skip: [
    '/packages/testing/',
    '/test-support.ts/',
    '/packages/faults/',
    '/packages/bench/',
    '/packages/deploy-checks/',
    '/scratch/',
    '/bench/',
    '/test/',
  ],
});

const entries = readEnvExample();
const documented = new Map(entries.map((e) => [e.name, e]));
const compose = readCompose();
const gradqServices = ['coordinator', 'worker', 'worker-gpu'];

describe('environment variables', () => {
  test('the derived lists are not empty (the Proxy and the scan see what they should)', () => {
    for (const v of ['S3_BUCKET', 'S3_ENDPOINT', 'CHECKPOINT_KEEP', 'CHECKPOINT_RETRY_MAX_MS']) {
      assert.ok(checkpointVars.has(v), `checkpoint config read ${[...checkpointVars]}`);
    }
    assert.ok(nativeVars.has('GRADQ_BLAS_THREADS'));
    for (const v of ['TFJS_BACKEND', 'OPENBLAS_CORETYPE', 'EPOCHS', 'REDIS_URL']) assert.ok(scanned.has(v), v);
  });

  test('every variable the code reads is documented in .env.example, with a comment giving its default', () => {
    // GRADQ_TEST_* are fault-injection hooks for the test suites (e.g. GRADQ_TEST_SLOW_MS makes a straggler):
    // deliberately undocumented for deployments, so that none sets them by accident.
    const all = new Set(
      [...coordinatorVars, ...workerVars, ...nativeVars, ...scanned.keys()].filter((v) => !v.startsWith('GRADQ_TEST_')),
    );
    const missing = [...all]
      .filter((v) => !documented.has(v))
      .map((v) => `${v} (${scanned.get(v)?.join(', ') ?? 'config'})`);
    assert.deepEqual(missing, [], 'add these to .env.example');
    for (const e of entries) {
      assert.ok(e.doc.length > 0, `.env.example:${e.line} ${e.name} has no comment`);
      assert.match(e.doc.join(' '), /default/i, `.env.example:${e.line} ${e.name}: the comment must give the default`);
    }
  });

  test('a variable .env.example documents as optional is written `# NAME=` under a comment saying so', () => {
    for (const e of entries.filter((x) => x.commented)) {
      assert.match(e.doc.join(' '), /optional/i, `.env.example:${e.line} ${e.name}`);
    }
  });

  test('each service gets the variables it reads from docker-compose.yml, unless .env.example marks them optional', () => {
    const check = (serviceName: string, vars: Iterable<string>) => {
      const env = environmentOf(service(compose, serviceName));
      const missing = [...vars].filter((v) => !(v in env) && !documented.get(v)?.commented);
      assert.deepEqual(missing, [], `${serviceName} in docker-compose.yml must set these (or .env.example: # NAME=)`);
    };
    check('coordinator', coordinatorVars);
    check('worker', workerVars);
    check('worker-gpu', workerVars);
    // Read by shared code (backend, native kernels, the CLI wrapper) in every gradq process.
    const shared = [...nativeVars, 'TFJS_BACKEND', 'GRADQ_DEBUG'];
    for (const s of gradqServices) check(s, shared);
  });

  test('every variable docker-compose.yml interpolates is set in .env.example, and every set one is used', () => {
    const referenced = referencedVariables(compose);
    const notDocumented = [...referenced].filter((v) => documented.get(v)?.commented !== false);
    assert.deepEqual(notDocumented, [], 'document these in .env.example as NAME=default');
    const unused = entries.filter((e) => !e.commented && !referenced.has(e.name)).map((e) => e.name);
    assert.deepEqual(unused, [], 'set in .env.example but never used by docker-compose.yml');
  });

  test("the compose environment parses under the services' own schemas, identically with and without .env", () => {
    const render = (dotenv: Record<string, string>) => interpolateDeep(compose, dotenv);
    const parse = (dotenv: Record<string, string>) => {
      const rendered = render(dotenv);
      const coordinatorEnv = environmentOf(service(rendered, 'coordinator'));
      const workerEnv = environmentOf(service(rendered, 'worker'));
      const coordinator = readOptions(COORDINATOR_OPTIONS, coordinatorConfigSchema, [], coordinatorEnv);
      const worker = readOptions(WORKER_OPTIONS, workerConfigSchema, [], workerEnv);
      return {
        coordinator,
        checkpoints: loadCheckpointConfig(coordinatorEnv),
        coordinatorMetrics: { port: coordinator.metricsPort, host: coordinator.metricsHost },
        worker,
        workerMetrics: { port: worker.metricsPort, host: worker.metricsHost },
        backends: gradqServices.map((s) => environmentOf(service(rendered, s)).TFJS_BACKEND),
      };
    };
    const bare = parse({});
    assert.deepEqual(parse(envFileValues(entries)), bare, '.env.example must restate the defaults, not change them');
    assert.equal(bare.coordinator.dataDir, '/data/mnist');
    assert.equal(bare.coordinator.redisUrl, 'redis://redis:6379');
    assert.deepEqual(bare.coordinatorMetrics, { port: 9400, host: '0.0.0.0' });
    assert.deepEqual(bare.workerMetrics, { port: 9401, host: '0.0.0.0' });
    assert.equal(bare.worker.redisUrl, 'redis://redis:6379');
    assert.deepEqual(bare.checkpoints.store, {
      kind: 's3',
      bucket: 'gradq',
      endpoint: 'http://s3:9000',
      region: 'us-east-1',
      prefix: '',
      forcePathStyle: true,
    });
    assert.deepEqual(bare.backends, ['auto', 'auto', 'cpu-native']);
    assert.equal(bare.worker.engine, 'auto');
  });

  test('emptying S3_BUCKET and S3_ENDPOINT in .env keeps checkpoints in the local volume', () => {
    const rendered = interpolateDeep(compose, { S3_BUCKET: '', S3_ENDPOINT: '' });
    const store = loadCheckpointConfig(environmentOf(service(rendered, 'coordinator'))).store;
    assert.deepEqual(store, { kind: 'local', dir: '/data/checkpoints' });
  });

  test('emptying S3_BUCKET alone is refused rather than silently local (docs/docker.md: empty both)', () => {
    const rendered = interpolateDeep(compose, { S3_BUCKET: '' });
    assert.throws(
      () => loadCheckpointConfig(environmentOf(service(rendered, 'coordinator'))),
      /S3_BUCKET: must be set when S3_ENDPOINT is/,
    );
  });
});
