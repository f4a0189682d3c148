import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadAddon } from './addon';
import { paramsHash, paramsHashJs } from './params-hash';
import { seeded, skipWithoutNative } from './test-support';

const skip = skipWithoutNative();

describe('paramsHash', () => {
  test('a fixed vector has a fixed hash (the wire value: changing it is a protocol change)', () => {
    // Also computed by a separate Python rendering of the definition in params-hash.ts.
    const v = Float32Array.from({ length: 37 }, (_, i) => (i - 18) / 7);
    assert.equal(paramsHashJs(v), '17cf348ad97e374a');
    assert.equal(paramsHash(v), '17cf348ad97e374a');
    assert.equal(paramsHashJs(new Float32Array(0)), paramsHash(new Float32Array(0)));
  });

  test('one bit of any one value changes it; so do a swap and the length', () => {
    const v = seeded(1000, 7, 1);
    const base = paramsHashJs(v);
    const words = new Uint32Array(v.buffer);
    for (const i of [0, 1, 15, 16, 17, 500, 998, 999])
      for (const bit of [0, 13, 31]) {
        words[i] = (words[i] as number) ^ (1 << bit);
        assert.notEqual(paramsHashJs(v), base, `value ${i}, bit ${bit}`);
        words[i] = (words[i] as number) ^ (1 << bit);
      }
    assert.equal(paramsHashJs(v), base);
    const swapped = v.slice();
    [swapped[3], swapped[4]] = [v[4] as number, v[3] as number];
    assert.notEqual(paramsHashJs(swapped), base, 'two values swapped between lanes');
    assert.notEqual(paramsHashJs(v.subarray(0, 999)), base, 'one value fewer');
    // -0 and +0 are different bits: parameters are compared bit for bit.
    assert.notEqual(paramsHashJs(Float32Array.of(0)), paramsHashJs(Float32Array.of(-0)));
  });

  test('the native lanes give what the JS lanes give, any length and offset', { skip }, () => {
    const addon = loadAddon();
    assert.equal(typeof addon.paramsHash, 'function', 'the addon has paramsHash (rebuild it: pnpm install)');
    const v = seeded(770_084 + 40, 3, 1e-2);
    for (const [start, length] of [
      [0, 770_084],
      [5, 770_084],
      [0, 1],
      [3, 15],
      [1, 16],
      [2, 17],
      [7, 33],
      [0, 0],
    ] as const) {
      const part = v.subarray(start, start + length);
      assert.equal(addon.paramsHash?.(part), paramsHashJs(part), `[${start}, ${start + length})`);
    }
    const loose = addon.paramsHash as (...x: unknown[]) => string;
    assert.throws(() => loose(new Uint8Array(4)), /paramsHash: expected one Float32Array/);
    assert.throws(() => loose(), /paramsHash: expected one Float32Array/);
    assert.throws(() => loose(v, v), /paramsHash: expected one Float32Array/);
  });
});
