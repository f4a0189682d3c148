// Broken MNIST files given to the coordinator CLI (--data-dir): each must stop it before anything is written, with
// a non-zero exit and an error naming the file and what is wrong with it.
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { createRedis, type RedisClient } from '@gradq/protocol';
import { CLI, cliEnv, mnistDir, serviceRig, uniqueRunId } from '@gradq/testing';

const FILES = [
  'train-images-idx3-ubyte.gz',
  'train-labels-idx1-ubyte.gz',
  't10k-images-idx3-ubyte.gz',
  't10k-labels-idx1-ubyte.gz',
] as const;

// The coordinator reaches Redis before it reads MNIST, so it needs one to get as far as the files.
const rig = serviceRig('hostile-mnist');
let redis: RedisClient;

before(async () => {
  await rig.ready;
  redis = createRedis({ url: rig.server.url, cluster: false });
  rig.onTeardown(() => redis.quit());
});

/** A data directory with the real files linked in, except `name`, which holds `bytes`. */
async function dataDirWith(name: (typeof FILES)[number], bytes: Uint8Array): Promise<string> {
  const dir = join(rig.dir, `data-${uniqueRunId('d')}`);
  await mkdir(dir);
  for (const f of FILES) {
    if (f === name) await writeFile(join(dir, f), bytes);
    else await symlink(join(mnistDir(), f), join(dir, f));
  }
  return dir;
}

async function original(name: (typeof FILES)[number]): Promise<Buffer> {
  return readFile(join(mnistDir(), name));
}

const CASES: Array<{ what: string; file: (typeof FILES)[number]; bytes: () => Promise<Uint8Array>; error: RegExp }> = [
  {
    what: 'a truncated download (gzip cut in half)',
    file: 'train-labels-idx1-ubyte.gz',
    bytes: async () => {
      const gz = await original('train-labels-idx1-ubyte.gz');
      return gz.subarray(0, gz.byteLength >> 1);
    },
    error: /not a valid gzip file/,
  },
  {
    // Not gzip is read as raw IDX (the loader accepts both), whose magic number is then wrong.
    what: 'an HTML error page instead of the file',
    file: 't10k-images-idx3-ubyte.gz',
    bytes: async () => new TextEncoder().encode('<html>404 Not Found</html>\n'),
    error: /wrong magic number 0x3c68746d/,
  },
  {
    what: 'the wrong magic number (a labels file under the images name)',
    file: 'train-images-idx3-ubyte.gz',
    bytes: async () => original('train-labels-idx1-ubyte.gz'),
    error: /wrong magic number/,
  },
  {
    what: 'valid gzip whose IDX body is shorter than its header says',
    file: 't10k-labels-idx1-ubyte.gz',
    bytes: async () => {
      const idx = gunzipSync(await original('t10k-labels-idx1-ubyte.gz'));
      return gzipSync(idx.subarray(0, 8 + 5000));
    },
    error: /t10k-labels-idx1-ubyte\.gz/,
  },
  {
    what: 'a label that is not a digit',
    file: 'train-labels-idx1-ubyte.gz',
    bytes: async () => {
      const idx = Buffer.from(gunzipSync(await original('train-labels-idx1-ubyte.gz')));
      idx[8 + 17] = 42;
      return gzipSync(idx);
    },
    error: /label 17 is 42, not a digit/,
  },
];

for (const c of CASES) {
  test(`MNIST ${c.file} with ${c.what}: exit non-zero naming the file, nothing written`, async () => {
    const dataDir = await dataDirWith(c.file, await c.bytes());
    const runId = uniqueRunId('mnist');
    const checkpoints = join(rig.dir, `ckpt-${runId}`);
    const p = rig.procs.spawn(
      CLI.coordinator,
      [
        '--data-dir',
        dataDir,
        '--run-id',
        runId,
        '--redis-url',
        rig.server.url,
        '--limit',
        '256',
        '--metrics-port',
        '0',
      ],
      { env: cliEnv({ CHECKPOINT_DIR: checkpoints }), name: `coordinator ${c.file}` },
    );
    const exit = await p.exited;
    assert.equal(exit.code, 1, `expected exit 1, got ${JSON.stringify(exit)}:\n${p.tail()}`);
    const stderr = p.stderr();
    assert.ok(stderr.includes(join(dataDir, c.file)), `the error does not name ${c.file}:\n${p.tail()}`);
    assert.match(stderr, c.error);
    assert.doesNotMatch(stderr, /\n\s+at /, 'a stack trace instead of a message');
    // Nothing half-written: no run in Redis, no checkpoint, and the broken file left as it was (not "repaired").
    assert.deepEqual(await redis.keys(`gradq:{${runId}}:*`), []);
    assert.deepEqual(await readdir(checkpoints).catch(() => []), []);
    assert.ok(Buffer.from(await c.bytes()).equals(await readFile(join(dataDir, c.file))), `${c.file} was modified`);
  });
}
