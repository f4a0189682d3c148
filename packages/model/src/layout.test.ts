import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { selectBackend } from '@gradq/backend';
import type * as tf from '@tensorflow/tfjs';
import { createAutoencoder } from './autoencoder';
import { layoutOf, makeLayout } from './layout';

const SPECS = [
  { name: 'dense_0/kernel', shape: [784, 32] },
  { name: 'dense_0/bias', shape: [32] },
  { name: 'dense_1/kernel', shape: [32, 784] },
  { name: 'dense_1/bias', shape: [784] },
];

describe('makeLayout', () => {
  test('offsets are running sums of sizes in the given order', () => {
    const layout = makeLayout(SPECS);
    assert.deepEqual(
      layout.entries.map((e) => [e.offset, e.size]),
      [
        [0, 784 * 32],
        [784 * 32, 32],
        [784 * 32 + 32, 32 * 784],
        [784 * 32 + 32 + 32 * 784, 784],
      ],
    );
    assert.equal(layout.size, 784 * 32 * 2 + 32 + 784);
    assert.match(layout.fingerprint, /^[0-9a-f]{16}$/);
  });

  test('the fingerprint changes when any dimension of any shape changes', () => {
    const base = makeLayout(SPECS).fingerprint;
    const seen = new Set([base]);
    for (const [i, spec] of SPECS.entries()) {
      for (const [d, dim] of spec.shape.entries()) {
        for (const changed of [dim + 1, dim - 1]) {
          const specs = SPECS.map((s, j) =>
            j === i ? { name: s.name, shape: s.shape.map((x, k) => (k === d ? changed : x)) } : s,
          );
          const fingerprint = makeLayout(specs).fingerprint;
          assert.notEqual(fingerprint, base, `${spec.name} dimension ${d} = ${changed}`);
          seen.add(fingerprint);
        }
      }
    }
    assert.equal(seen.size, 1 + 2 * 6);
  });

  test('the fingerprint changes with the rank even when the size is the same', () => {
    const flat = makeLayout([{ name: 'w', shape: [6] }]);
    const matrix = makeLayout([{ name: 'w', shape: [2, 3] }]);
    const transposed = makeLayout([{ name: 'w', shape: [3, 2] }]);
    assert.equal(flat.size, matrix.size);
    assert.equal(new Set([flat.fingerprint, matrix.fingerprint, transposed.fingerprint]).size, 3);
  });

  test('the fingerprint changes with names and with order', () => {
    const base = makeLayout(SPECS).fingerprint;
    assert.notEqual(makeLayout([...SPECS].reverse()).fingerprint, base);
    assert.notEqual(makeLayout(SPECS.map((s, i) => (i === 1 ? { ...s, name: 'dense_0/b' } : s))).fingerprint, base);
    assert.notEqual(makeLayout(SPECS.slice(0, 3)).fingerprint, base);
  });

  test('equal specs give equal fingerprints', () => {
    assert.equal(
      makeLayout(SPECS.map((s) => ({ ...s, shape: [...s.shape] }))).fingerprint,
      makeLayout(SPECS).fingerprint,
    );
  });
});

describe('layoutOf', () => {
  before(async () => {
    await selectBackend({ request: 'wasm', log: () => {} });
  });

  test('names each weight <layer>/<weight> in layer order', () => {
    const model = createAutoencoder({ layerSizes: [784, 32, 16, 32, 784] });
    const layout = layoutOf(model);
    assert.deepEqual(
      layout.entries.map((e) => [e.name, e.shape]),
      [
        ['dense_0/kernel', [784, 32]],
        ['dense_0/bias', [32]],
        ['dense_1/kernel', [32, 16]],
        ['dense_1/bias', [16]],
        ['dense_2/kernel', [16, 32]],
        ['dense_2/bias', [32]],
        ['dense_3/kernel', [32, 784]],
        ['dense_3/bias', [784]],
      ],
    );
    assert.equal(layout.size, model.countParams());
    model.dispose();
  });

  test('two independently created models of the same sizes have the same layout, however many came before', () => {
    const first = createAutoencoder({ layerSizes: [784, 32, 784] });
    const others = Array.from({ length: 5 }, (_, i) => createAutoencoder({ layerSizes: [784, 24 + i, 784] }));
    const second = createAutoencoder({ layerSizes: [784, 32, 784], seed: 9 });
    // tfjs itself suffixes variable names to keep them unique in the process; the layout must not see that.
    const variableNames = (m: tf.LayersModel) => m.trainableWeights.map((w) => (w.read() as tf.Variable).name);
    assert.notDeepEqual(variableNames(first), variableNames(second));
    assert.deepEqual(layoutOf(second).entries, layoutOf(first).entries);
    assert.equal(layoutOf(second).fingerprint, layoutOf(first).fingerprint);
    for (const m of [first, second, ...others]) m.dispose();
  });

  test('the fingerprint changes when any layer size changes', () => {
    const sizes = [
      [784, 32, 784],
      [784, 33, 784],
      [784, 32, 16, 32, 784],
      [784, 32, 17, 32, 784],
      [784, 32, 16, 33, 784],
      [784, 32, 783],
      [783, 32, 784],
    ];
    const fingerprints = sizes.map((layerSizes) => {
      const model = createAutoencoder({ layerSizes });
      const fingerprint = layoutOf(model).fingerprint;
      model.dispose();
      return fingerprint;
    });
    assert.equal(new Set(fingerprints).size, sizes.length);
  });

  test('the output activation and seed do not change the layout', () => {
    const a = createAutoencoder({ layerSizes: [784, 32, 784], outputActivation: 'sigmoid', seed: 3 });
    const b = createAutoencoder({ layerSizes: [784, 32, 784] });
    assert.equal(layoutOf(a).fingerprint, layoutOf(b).fingerprint);
    a.dispose();
    b.dispose();
  });

  test('createAutoencoder rejects bad sizes and activations with the bad value in the message', () => {
    assert.throws(() => createAutoencoder({ layerSizes: [784] }), { name: 'RangeError', message: /\[784\]/ });
    assert.throws(() => createAutoencoder({ layerSizes: [784, 0, 784] }), { message: /\[784, 0, 784\]/ });
    assert.throws(() => createAutoencoder({ layerSizes: [784, 2.5, 784] }), { message: /positive integers/ });
    assert.throws(() => createAutoencoder({ outputActivation: 'tanh' as 'relu' }), { message: /'tanh'/ });
  });
});
