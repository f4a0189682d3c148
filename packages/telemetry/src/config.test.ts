import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { loadMetricsConfig, metricsEnvShape } from './config';

describe('loadMetricsConfig', () => {
  test('defaults: 9400 for the coordinator, 9401 for workers, on all interfaces', () => {
    assert.deepEqual(loadMetricsConfig({}, 'coordinator'), { port: 9400, host: '0.0.0.0' });
    assert.deepEqual(loadMetricsConfig({}, 'worker'), { port: 9401, host: '0.0.0.0' });
  });

  test('reads METRICS_PORT and METRICS_HOST; 0 means an ephemeral port', () => {
    assert.deepEqual(loadMetricsConfig({ METRICS_PORT: '9500', METRICS_HOST: '127.0.0.1' }, 'worker'), {
      port: 9500,
      host: '127.0.0.1',
    });
    assert.equal(loadMetricsConfig({ METRICS_PORT: '0' }, 'worker').port, 0);
  });

  test('an empty variable counts as unset', () => {
    assert.deepEqual(loadMetricsConfig({ METRICS_PORT: '', METRICS_HOST: '' }, 'coordinator'), {
      port: 9400,
      host: '0.0.0.0',
    });
  });

  for (const bad of ['abc', '-1', '65536', '1.5']) {
    test(`rejects METRICS_PORT=${bad} with an error naming the variable`, () => {
      assert.throws(
        () => loadMetricsConfig({ METRICS_PORT: bad }, 'worker'),
        (error: unknown) => error instanceof z.ZodError && error.issues.some((i) => i.path[0] === 'METRICS_PORT'),
      );
    });
  }

  test('the shape composes into a service env schema', () => {
    const schema = z.object({
      ...metricsEnvShape('coordinator'),
      REDIS_URL: z.string().default('redis://127.0.0.1:6379'),
    });
    assert.deepEqual(schema.parse({ METRICS_PORT: '1234' }), {
      METRICS_PORT: 1234,
      METRICS_HOST: '0.0.0.0',
      REDIS_URL: 'redis://127.0.0.1:6379',
    });
  });
});
