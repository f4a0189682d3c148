import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { ADDON_PATH } from '@gradq/native-kernels';
import * as tf from '@tensorflow/tfjs';
import { BACKENDS, selectBackend } from './select';

test('auto prefers tensorflow, then cpu-native, then wasm, and says why in one line', async () => {
  const lines: string[] = [];
  const selected = await selectBackend({ request: 'auto', log: (l) => lines.push(l) });
  assert.equal(lines.length, 1);
  assert.match(lines[0] ?? '', new RegExp(`^TensorFlow.js backend ${selected.name}`));
  assert.equal(tf.getBackend(), selected.name);
  const order = ['tensorflow', 'cpu-native', 'wasm', 'cpu'];
  // Everything faster than the chosen backend was tried and skipped, with its reason.
  assert.deepEqual(
    selected.skipped.map((s) => s.split(':')[0]),
    order.slice(0, order.indexOf(selected.name)),
  );
  if (selected.name !== 'tensorflow') {
    assert.equal(selected.name, existsSync(ADDON_PATH) ? 'cpu-native' : 'wasm');
  }
  assert.ok((BACKENDS as readonly string[]).includes('cpu-native'));
});
