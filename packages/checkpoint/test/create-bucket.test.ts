// `pnpm ckpt create-bucket`, what docker-compose.yml's one-shot `createbuckets` runs before the coordinator starts:
// creates the bucket once, succeeds again on every later `up`, and is a no-op for local checkpoints.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CLI, cliEnv, type S3rverInstance, spawnCli, startS3rver } from '@gradq/testing';

let s3: S3rverInstance;
before(async () => {
  s3 = await startS3rver({ bucket: 'gradq-create-bucket-seed' });
});
after(() => s3.stop());

async function createBucket(env: Record<string, string | undefined>) {
  const p = spawnCli(CLI.ckpt, ['create-bucket'], { env: cliEnv(env) });
  const exit = await p.exited;
  assert.equal(exit.code, 0, p.tail());
  return p.stdout().trim();
}

test('creates a missing bucket, then finds it on the next run', async () => {
  const env = { ...s3.env, S3_BUCKET: 'gradq-created-by-cli' };
  assert.match(await createBucket(env), /^created the bucket: s3:\/\/gradq-created-by-cli\//);
  assert.match(await createBucket(env), /^the bucket exists: s3:\/\/gradq-created-by-cli\//);
});

test('with S3_BUCKET empty there is nothing to create', async () => {
  const out = await createBucket({ S3_BUCKET: '', S3_ENDPOINT: '', CHECKPOINT_DIR: '/nonexistent/ckpt' });
  assert.match(out, /^S3_BUCKET is not set: checkpoints go to \/nonexistent\/ckpt; no bucket to create$/);
});
