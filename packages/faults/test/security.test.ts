// Credentials done right: Redis AUTH (requirepass and an ACL user) and TLS (rediss:// with a self-signed CA) work for
// the coordinator and workers, and no secret (Redis password, S3 secret key) ever shows up in what they print, in
// their errors, or on any /metrics endpoint.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { before, test } from 'node:test';
import type { CoordinatorSummary } from '@gradq/coordinator';
import { createRedis, runKeys } from '@gradq/protocol';
import {
  CLI,
  type CliProcess,
  cliEnv,
  freePort,
  type RedisInstance,
  type S3rverInstance,
  serviceRig,
  skipUnlessRequired,
  skipWithoutTool,
  startRedisServer,
  startS3rver,
  stepOf,
  uniqueRunId,
  waitUntil,
} from '@gradq/testing';

const ADMIN_PASSWORD = `admin-${Math.random().toString(36).slice(2)}-pw`;
const ALICE_PASSWORD = `alice-${Math.random().toString(36).slice(2)}-pw`;
const HYPER = ['--limit', '1024', '--epochs', '1', '--batch-size', '128', '--shards-per-step', '2', '--seed', '4'];

// Each test starts its own Redis with AUTH, ACL users or TLS (authRedis), so the rig starts none.
const rig = serviceRig('security', { redis: false });
const { procs } = rig;
const servers: RedisInstance[] = [];
rig.onTeardown(() => Promise.allSettled(servers.map((s) => s.stop())));
let s3: S3rverInstance;

before(async () => {
  s3 = await startS3rver({ bucket: 'gradq-security' });
  rig.onTeardown(() => s3.stop());
});

/** Every secret a test process was given; none may be printed anywhere. */
function secrets(): string[] {
  return [ADMIN_PASSWORD, ALICE_PASSWORD, s3.credentials.secretAccessKey];
}

function assertNoSecret(where: string, text: string): void {
  for (const secret of secrets())
    assert.ok(!text.includes(secret), `${where} contains the secret '${secret}':\n${text}`);
}

/** A Redis that demands a password from the default user and has an ACL user `alice` with her own. */
async function authRedis(extra: string[] = [], readyPort?: number): Promise<RedisInstance> {
  const server = await startRedisServer({
    args: [
      '--requirepass',
      ADMIN_PASSWORD,
      '--user',
      'alice',
      'on',
      `>${ALICE_PASSWORD}`,
      '~*',
      '&*',
      '+@all',
      ...extra,
    ],
    ...(readyPort ? { readyPort } : {}),
  });
  servers.push(server);
  return server;
}

function coordinator(redisUrl: string, runId: string, env: Record<string, string> = {}): CliProcess {
  return procs.spawn(
    CLI.coordinator,
    [...HYPER, '--run-id', runId, '--metrics-port', '0', '--check-after-ms', '1000'],
    // Through the environment, as a deployment would pass a secret (not on a command line `ps` shows).
    { env: cliEnv({ REDIS_URL: redisUrl, ...s3.env, ...env }), name: `coordinator ${runId}` },
  );
}

function worker(redisUrl: string, id: string, env: Record<string, string> = {}): CliProcess {
  return procs.spawn(CLI.worker, ['--lock-ms', '2000', '--worker-id', id, '--metrics-port', '0'], {
    env: cliEnv({ REDIS_URL: redisUrl, ...s3.env, ...env }),
    name: id,
  });
}

async function scrape(url: string): Promise<string> {
  return (await fetch(url)).text();
}

test('AUTH: an ACL user and requirepass both train; no secret in any output or /metrics', async () => {
  const server = await authRedis();
  const runId = uniqueRunId('auth');
  const aliceUrl = `redis://alice:${ALICE_PASSWORD}@127.0.0.1:${server.port}`;
  const adminUrl = `redis://:${ADMIN_PASSWORD}@127.0.0.1:${server.port}`;
  const c = coordinator(aliceUrl, runId);
  const w1 = worker(adminUrl, 'w-admin');
  const w2 = worker(aliceUrl, 'w-alice');

  // Scrape every /metrics while the run is going (a finished process serves nothing).
  const watcher = createRedis({ url: adminUrl, cluster: false });
  const scraped: string[] = [];
  try {
    const coordinatorMetrics = (await c.waitForStderr(/metrics on (http:\/\/\S+)/, 120_000))[1] as string;
    const workerPorts = await Promise.all(
      [w1, w2].map(async (w) => (await w.waitForStderr(/metrics on port (\d+)/, 120_000))[1] as string),
    );
    await waitUntil(
      'the run to reach step 2',
      async () => {
        if (!c.running()) return true;
        return stepOf(await watcher.get(runKeys(runId).step)) >= 2 ? true : undefined;
      },
      120_000,
    );
    for (const url of [coordinatorMetrics, ...workerPorts.map((p) => `http://127.0.0.1:${p}/metrics`)]) {
      scraped.push(await scrape(url).catch((err: Error) => `(scrape of ${url} failed: ${err.message})`));
    }
  } finally {
    await watcher.quit().catch(() => undefined);
  }
  const summary = await c.summary<CoordinatorSummary>(180_000);
  assert.equal(summary.distributed.shards_applied, summary.distributed.shards_planned);
  assert.ok(summary.distributed.workers_seen >= 1);
  assert.ok(
    scraped.some((t) => t.includes('gradq_')),
    `no metrics scraped: ${scraped.join('\n')}`,
  );
  await Promise.all([w1.stop(), w2.stop()]);
  for (const p of [c, w1, w2]) {
    assertNoSecret(`${p.name} stdout`, p.stdout());
    assertNoSecret(`${p.name} stderr`, p.stderr());
  }
  for (const text of scraped) assertNoSecret('/metrics', text);
  // The URL is logged, redacted, so an operator still sees where it went.
  assert.match(c.stderr(), /Redis redis:\/\/alice:\*\*\*@127\.0\.0\.1/);
});

test('AUTH failures: a wrong or missing password is final (exit 2 naming REDIS_URL) for each service; no password printed', async () => {
  const server = await authRedis();
  const wrong = `redis://alice:${ADMIN_PASSWORD}@127.0.0.1:${server.port}`;
  const missing = `redis://127.0.0.1:${server.port}`;
  for (const [how, url] of [
    ['wrong', wrong],
    ['missing', missing],
  ] as const) {
    const runId = uniqueRunId(`auth-${how}`);
    const started = [
      coordinator(url, runId),
      // A worker used to retry a refused password forever, looking alive while doing nothing.
      worker(url, `w-${how}`),
      procs.spawn(CLI.start, [...HYPER, '--run-id', runId, '--workers', '1', '--worker-metrics-port', '0'], {
        env: cliEnv({ REDIS_URL: url, ...s3.env }),
        name: `pnpm start (${how} password)`,
      }),
    ];
    for (const p of started) {
      const exit = await p.exited;
      const out = p.stdout() + p.stderr();
      assert.equal(exit.code, 2, `${p.name}:\n${out}`);
      assert.match(out, /REDIS_URL redis:\/\/\S*127\.0\.0\.1:\d+: Redis refused the credentials \((WRONGPASS|NOAUTH)/);
      assert.doesNotMatch(out, /args:|\bat .*node_modules/, `${p.name} dumped an error object or a stack:\n${out}`);
      assertNoSecret(`${p.name} with a ${how} password`, out);
    }
  }

  // Nothing listens there: the coordinator gives up naming the (redacted) URL.
  const nowhere = `redis://alice:${ALICE_PASSWORD}@127.0.0.1:${await freePort()}`;
  const c2 = coordinator(nowhere, uniqueRunId('auth-nowhere'));
  const exit2 = await c2.exited;
  assert.notEqual(exit2.code, 0);
  assert.match(c2.stderr(), /redis:\/\/alice:\*\*\*@127\.0\.0\.1:\d+ did not answer/);
  assertNoSecret('coordinator with no Redis', c2.stdout() + c2.stderr());
});

test('every command, given a wrong Redis password and a wrong S3 secret key, prints neither', async () => {
  const server = await authRedis();
  const redisPassword = `wrong-${Math.random().toString(36).slice(2)}-pw`;
  // s3rver does not check signatures, so the commands that reach S3 succeed: what is tested is that the key never
  // shows, in success as in failure.
  const s3Secret = `wrong-${Math.random().toString(36).slice(2)}-key`;
  const env = cliEnv({
    ...s3.env,
    REDIS_URL: `redis://alice:${redisPassword}@127.0.0.1:${server.port}`,
    AWS_SECRET_ACCESS_KEY: s3Secret,
    CHECKPOINT_DIR: join(rig.dir, 'never'),
  });
  const runId = uniqueRunId('wrong-secrets');
  const commands: [string, string[]][] = [
    [CLI.coordinator, [...HYPER, '--run-id', runId, '--metrics-port', '0']],
    [CLI.worker, ['--metrics-port', '0']],
    [CLI.start, [...HYPER, '--run-id', runId, '--workers', '1', '--metrics-port', '0', '--worker-metrics-port', '0']],
    [CLI.baseline, ['--limit', '256', '--epochs', '1', '--batch-size', '128']],
    [CLI.ckpt, ['list']],
    [CLI.ckpt, ['download', runId, '--out', join(rig.dir, 'download')]],
  ];
  for (const [script, args] of commands) {
    const p = procs.spawn(script, args, { env, name: `${script.split('/').at(-1)} ${args[0] ?? ''}` });
    const exit = await p.exited;
    const out = p.stdout() + p.stderr();
    for (const secret of [redisPassword, s3Secret])
      assert.ok(!out.includes(secret), `${p.name} (exit ${exit.code}) printed '${secret}':\n${out}`);
    assert.notEqual(exit.code, null, `${p.name} did not exit by itself`);
  }
});

/** A self-signed certificate for 127.0.0.1, or undefined when openssl cannot make one. */
function selfSigned(into: string): { cert: string; key: string } | undefined {
  const cert = join(into, 'redis.crt');
  const key = join(into, 'redis.key');
  const r = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { encoding: 'utf8' },
  );
  return r.status === 0 ? { cert, key } : undefined;
}

test('TLS: rediss:// to a Redis with a self-signed certificate, trusted through NODE_EXTRA_CA_CERTS', {
  skip: skipWithoutTool('openssl'),
}, async (t) => {
  const tls = selfSigned(rig.dir) ?? assert.fail('openssl could not make a self-signed certificate');
  const tlsPort = await freePort();
  let server: RedisInstance;
  try {
    // --port 0: no plain-text listener at all.
    server = await authRedis(
      [
        '--port',
        '0',
        '--tls-port',
        String(tlsPort),
        '--tls-cert-file',
        tls.cert,
        '--tls-key-file',
        tls.key,
        '--tls-ca-cert-file',
        tls.cert,
        '--tls-auth-clients',
        'no',
      ],
      tlsPort,
    );
  } catch (err) {
    const skip = /tls/i.test((err as Error).message)
      ? skipUnlessRequired(`this redis-server has no TLS (Debian's redis-server has it): ${(err as Error).message}`)
      : false;
    if (skip) return t.skip(skip);
    throw err;
  }
  void server;
  const url = `rediss://alice:${ALICE_PASSWORD}@127.0.0.1:${tlsPort}`;

  // Without the CA the certificate is refused: TLS is really verified, not just encrypted.
  const errors: string[] = [];
  const untrusting = createRedis({ url, cluster: false }, (err) => errors.push(err.message));
  try {
    await waitUntil('a certificate error', () => (errors.length ? true : undefined), 10_000);
  } finally {
    untrusting.disconnect();
  }
  assert.match(errors.join('\n'), /self[- ]signed certificate/i);

  const trust = { NODE_EXTRA_CA_CERTS: tls.cert };
  const runId = uniqueRunId('tls');
  const c = coordinator(url, runId, trust);
  const w = worker(url, 'w-tls', trust);
  const summary = await c.summary<CoordinatorSummary>(180_000);
  await w.stop();
  assert.equal(summary.distributed.shards_applied, summary.distributed.shards_planned);
  assert.equal(summary.distributed.workers_seen, 1);
  for (const p of [c, w]) {
    assertNoSecret(p.name, p.stdout() + p.stderr());
    // Node warns when SNI is set to an IP address; the client must not do that.
    assert.doesNotMatch(p.stderr(), /DEP0123/);
  }
});
