import assert from 'node:assert/strict';
import { test } from 'node:test';
import { envReadsIn } from './env-reads';

test('envReadsIn finds process.env, env.X, env["X"] and OptionSpec env literals, not platform variables', () => {
  const source = `
    const a = process.env.TFJS_BACKEND || 'auto';
    parse(env.GRADQ_BLAS_THREADS); env['S3_BUCKET']; const p = process.env.PATH;
    const spec = { key: 'epochs', flag: 'epochs', env: 'EPOCHS', doc: '' };
    const notAnEnv = config.env.toLowerCase();
  `;
  assert.deepEqual([...envReadsIn(source)].sort(), ['EPOCHS', 'GRADQ_BLAS_THREADS', 'S3_BUCKET', 'TFJS_BACKEND']);
});
