import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadCheckpointConfig } from './config';
import { CheckpointConfigError } from './errors/index';

test('config: local directory by default', () => {
  const c = loadCheckpointConfig({});
  assert.deepEqual(c.store, { kind: 'local', dir: 'checkpoints' });
  assert.deepEqual(c.retention, { keep: 3, keepEpochs: false });
  assert.deepEqual(c.retry, { attempts: 8, baseDelayMs: 500, maxDelayMs: 30_000 });
});

test('config: S3 when a bucket is set', () => {
  const c = loadCheckpointConfig({
    S3_BUCKET: 'b-1',
    S3_ENDPOINT: 'http://127.0.0.1:9000',
    S3_PREFIX: '/team/gradq/',
    CHECKPOINT_KEEP: '5',
    CHECKPOINT_KEEP_EPOCHS: 'true',
  });
  assert.deepEqual(c.store, {
    kind: 's3',
    bucket: 'b-1',
    endpoint: 'http://127.0.0.1:9000',
    region: 'us-east-1',
    prefix: 'team/gradq',
    forcePathStyle: true,
  });
  assert.deepEqual(c.retention, { keep: 5, keepEpochs: true });
  const aws = loadCheckpointConfig({ S3_BUCKET: 'bucket', S3_REGION: 'eu-west-1' });
  assert.deepEqual(aws.store, { kind: 's3', bucket: 'bucket', region: 'eu-west-1', prefix: '', forcePathStyle: false });
});

test('config: errors name the variable', () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ CHECKPOINT_KEEP: '0' }, /^CHECKPOINT_KEEP: must be at least 1/],
    [{ CHECKPOINT_KEEP: 'many' }, /^CHECKPOINT_KEEP:/],
    [{ CHECKPOINT_KEEP_EPOCHS: 'maybe' }, /^CHECKPOINT_KEEP_EPOCHS: must be true or false/],
    [{ S3_BUCKET: 'b-1', S3_ENDPOINT: 'not a url' }, /^S3_ENDPOINT:/],
    [{ S3_BUCKET: 'b-1', S3_PREFIX: 'a/../b' }, /^S3_PREFIX:/],
    [{ S3_ENDPOINT: 'http://minio:9000' }, /^S3_BUCKET: must be set when S3_ENDPOINT/],
    [{ CHECKPOINT_RETRY_BASE_MS: '1000', CHECKPOINT_RETRY_MAX_MS: '10' }, /^CHECKPOINT_RETRY_MAX_MS:/],
  ];
  for (const [env, message] of cases) {
    assert.throws(
      () => loadCheckpointConfig(env),
      (err: Error) => err instanceof CheckpointConfigError && message.test(err.message),
      JSON.stringify(env),
    );
  }
});

test('config: credentials never enter the config object', () => {
  const c = loadCheckpointConfig({ S3_BUCKET: 'bucket', AWS_SECRET_ACCESS_KEY: 'hunter2', AWS_ACCESS_KEY_ID: 'AKIA' });
  assert.ok(!JSON.stringify(c).includes('hunter2'));
});
