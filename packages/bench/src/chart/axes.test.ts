import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatTick, niceStep, resolveAxis } from './axes';

test('niceStep picks 1, 2 or 5 times a power of ten', () => {
  assert.equal(niceStep(0, 1), 0.2);
  assert.equal(niceStep(0, 1000), 200);
  assert.equal(niceStep(0, 7), 1);
  assert.equal(niceStep(0, 36), 5);
});

test('linear axes round out to nice ticks; fixed bounds are kept', () => {
  const a = resolveAxis({ label: '', scale: 'linear' }, [0.13, 0.91]);
  assert.deepEqual(a.ticks, [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.equal(a.position(0.5), 0.5);
  const b = resolveAxis({ label: '', scale: 'linear', min: 0, max: 1.05 }, [0.5]);
  assert.equal(b.max, 1.05);
  assert.deepEqual(b.ticks, [0, 0.2, 0.4, 0.6, 0.8, 1]);
});

test('log axes tick at powers and map them evenly', () => {
  const x = resolveAxis({ label: '', scale: 'log2' }, [1, 256]);
  assert.deepEqual(x.ticks, [1, 2, 4, 8, 16, 32, 64, 128, 256]);
  assert.equal(x.position(16), 0.5);
  const y = resolveAxis({ label: '', scale: 'log10' }, [350, 12_000]);
  assert.deepEqual(y.ticks, [100, 1000, 10_000, 100_000]);
  assert.equal(y.position(100), 0);
  assert.equal(y.position(100_000), 1);
  // Non-positive values cannot sit on a log axis; they are ignored when bounding it.
  assert.deepEqual(
    resolveAxis({ label: '', scale: 'log10' }, [0, 20, 50, 150]).ticks,
    [10, 20, 50, 100, 200, 500, 1000],
  );
});

test('a log10 axis of one or two decades ticks at 2x and 5x too', () => {
  assert.deepEqual(resolveAxis({ label: '', scale: 'log10' }, [20, 50]).ticks, [10, 20, 50, 100]);
  assert.deepEqual(
    resolveAxis({ label: '', scale: 'log10' }, [1500, 60_000]).ticks,
    [1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000],
  );
});

test('formatTick is short', () => {
  assert.deepEqual([0, 0.2, 1, 256, 1000, 1500, 20_000, 3_000_000].map(formatTick), [
    '0',
    '0.2',
    '1',
    '256',
    '1k',
    '1.5k',
    '20k',
    '3M',
  ]);
});
