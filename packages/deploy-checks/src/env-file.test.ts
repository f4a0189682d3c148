import assert from 'node:assert/strict';
import { test } from 'node:test';
import { envFileValues, parseEnvFile } from './env-file';

test('parseEnvFile reads entries, commented entries and the comment block above each', () => {
  const entries = parseEnvFile(
    [
      '# header',
      '',
      '# Redis URL. Default x.',
      'REDIS_URL=redis://r:6379',
      '# Optional. Default y.',
      '# WORKER_ID=',
      'BARE=1',
    ].join('\n'),
  );
  assert.deepEqual(
    entries.map((e) => [e.name, e.value, e.commented, e.doc, e.line]),
    [
      ['REDIS_URL', 'redis://r:6379', false, ['Redis URL. Default x.'], 4],
      ['WORKER_ID', '', true, ['Optional. Default y.'], 6],
      ['BARE', '1', false, [], 7],
    ],
  );
  assert.deepEqual(envFileValues(entries), { REDIS_URL: 'redis://r:6379', BARE: '1' });
});
