import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import calculateSlot from 'cluster-key-slot';
import { runKeys } from './keys';
import { DEFAULT_SLICES, sliceRanges, sliceTags } from './slices';

const SLOTS = 16384;

describe('sliceRanges', () => {
  test('covers [0, length) exactly, in order, with slices differing by at most one value', () => {
    // 784-16-784 autoencoder, the default 784-256-64-256-784 one (769,104 values), and edge cases.
    for (const length of [0, 1, 5, 11, 12, 13, 25_888, 769_104])
      for (const count of [1, 2, 3, 7, DEFAULT_SLICES, 64]) {
        const ranges = sliceRanges(length, count);
        assert.equal(ranges.length, count);
        assert.equal(ranges[0]?.start, 0);
        assert.equal(ranges.at(-1)?.end, length);
        for (let i = 1; i < count; i++) assert.equal(ranges[i]?.start, ranges[i - 1]?.end, `${length}/${count}`);
        const sizes = ranges.map((r) => r.end - r.start);
        assert.ok(
          sizes.every((s) => s >= 0),
          `${length}/${count}: ${sizes}`,
        );
        assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `${length}/${count}: ${sizes}`);
        assert.equal(
          sizes.reduce((a, b) => a + b, 0),
          length,
        );
      }
  });

  test('refuses a slice count that is not a positive integer, naming it', () => {
    for (const count of [0, -1, 1.5, Number.NaN])
      assert.throws(() => sliceRanges(10, count), /slice count must be a positive integer/, String(count));
  });
});

describe('sliceTags', () => {
  const RUN = 'run-abc123';

  test("deterministic: the first `<run>#<j>` in the slice's slot range, so every process computes the same tags", () => {
    // Written out again here: a coordinator and workers of different builds must still agree on every key.
    const reference = (runId: string, count: number) =>
      Array.from({ length: count }, (_, i) => {
        const lo = Math.round((i * SLOTS) / count);
        const hi = Math.round(((i + 1) * SLOTS) / count);
        for (let j = 0; ; j++) {
          const slot = calculateSlot(`${runId}#${j}`);
          if (slot >= lo && slot < hi) return `${runId}#${j}`;
        }
      });
    for (const count of [1, 5, DEFAULT_SLICES]) assert.deepEqual(sliceTags(RUN, count), reference(RUN, count));
    assert.deepEqual(sliceTags(RUN, DEFAULT_SLICES), sliceTags(RUN, DEFAULT_SLICES));
    assert.notDeepEqual(sliceTags('run-other', DEFAULT_SLICES), sliceTags(RUN, DEFAULT_SLICES));
  });

  test('distinct, and each tag hashes into its own 1/count of the slots', () => {
    for (const runId of [RUN, 'faults-worker-sigkill-m0x1-ab12cd', 'r'])
      for (const count of [1, 2, 3, DEFAULT_SLICES, 64]) {
        const tags = sliceTags(runId, count);
        assert.equal(new Set(tags).size, count, `${runId}/${count}: ${tags}`);
        for (const [i, tag] of tags.entries()) {
          assert.ok(tag.startsWith(`${runId}#`), tag);
          const slot = calculateSlot(tag);
          const lo = Math.round((i * SLOTS) / count);
          const hi = Math.round(((i + 1) * SLOTS) / count);
          assert.ok(slot >= lo && slot < hi, `${runId} slice ${i} of ${count}: slot ${slot} not in [${lo}, ${hi})`);
        }
      }
  });

  test('on 3 masters with equal slot ranges, every master holds count/3 of the slices', () => {
    const masters = 3;
    // Master n owns [round(n * 16384 / 3), round((n + 1) * 16384 / 3)), as `redis-cli --cluster create` splits them.
    const owner = (slot: number) => {
      let n = 0;
      while (n < masters - 1 && slot >= Math.round(((n + 1) * SLOTS) / masters)) n++;
      return n;
    };
    for (const count of [3, DEFAULT_SLICES, 48]) {
      const perMaster = new Array(masters).fill(0);
      for (const tag of sliceTags(RUN, count)) perMaster[owner(calculateSlot(tag))] += 1;
      assert.deepEqual(perMaster, new Array(masters).fill(count / masters), `${count} slices`);
    }
  });

  test("the keys of a run's slices carry their slice's tag; the control keys share the run's own slot", () => {
    const keys = runKeys(RUN, DEFAULT_SLICES);
    const tags = sliceTags(RUN, DEFAULT_SLICES);
    for (let i = 0; i < DEFAULT_SLICES; i++) {
      assert.equal(calculateSlot(keys.params('0123456789ab', 3, i)), calculateSlot(tags[i] as string));
      assert.equal(calculateSlot(keys.grad(3, 'abcdef0123456789', i)), calculateSlot(tags[i] as string));
    }
    const runSlot = calculateSlot(keys.meta);
    // What the submit script touches in one call must hash to one slot (Cluster refuses CROSSSLOT scripts).
    for (const key of [keys.step, keys.session, keys.done(3), keys.stats, keys.results, keys.versions])
      assert.equal(calculateSlot(key), runSlot, key);
    assert.throws(() => keys.params('0123456789ab', 0, DEFAULT_SLICES), RangeError);
  });
});
