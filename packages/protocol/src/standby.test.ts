import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parsePlans, preferWorkers, type StandbyPlan, standsBy } from './standby';

const plan = (workers: string[], jobs: number, waitMs = 300): StandbyPlan => ({ workers, jobs, waitMs, step: 1 });

describe('standsBy', () => {
  test('no plan: every worker takes jobs', () => {
    assert.equal(standsBy([], 'b', 0), false);
  });
  test('a plan served by others stands a worker by; one listing it does not', () => {
    assert.equal(standsBy([plan(['a'], 1)], 'b', 0), true);
    assert.equal(standsBy([plan(['a'], 1)], 'a', 0), false);
  });
  test('a plan wanting more workers than it lists wants everyone', () => {
    assert.equal(standsBy([plan(['a'], 2)], 'b', 0), false);
    assert.equal(standsBy([plan([], 1)], 'b', 0), false);
  });
  test('a head of the queue still for longer than waitMs brings a worker back', () => {
    assert.equal(standsBy([plan(['a'], 1, 300)], 'b', 300), true);
    assert.equal(standsBy([plan(['a'], 1, 300)], 'b', 301), false);
  });
  test('with several runs, any one that needs the worker keeps it', () => {
    assert.equal(standsBy([plan(['a'], 1), plan(['c'], 2)], 'b', 0), false);
    assert.equal(standsBy([plan(['a'], 1), plan(['c'], 1)], 'b', 0), true);
  });
});

describe('preferWorkers', () => {
  /** Workers' last deliveries (ms) as an object; now 1,000 ms and keepMs 2,000 unless given. */
  const prefer = (previous: string[], seen: Record<string, number>, jobs: number, now = 1000) =>
    preferWorkers(previous, new Map(Object.entries(seen)), jobs, now, 2000);
  test('keeps the preferred worker while it delivers, even when another delivered later', () => {
    // The alternation this prevents: b delivered the last step, a the one before.
    assert.deepEqual(prefer(['a'], { a: 990, b: 1000 }, 1), ['a']);
  });
  test('fills free places with the most recent deliverers', () => {
    assert.deepEqual(prefer([], { a: 990, b: 1000 }, 1), ['b']);
    assert.deepEqual(prefer(['a'], { a: 990, b: 1000, c: 995 }, 2), ['a', 'b']);
  });
  test('drops a worker silent for keepMs, and trims to the jobs wanted', () => {
    assert.deepEqual(prefer(['a'], { a: 0, b: 2900 }, 1, 3000), ['b']);
    assert.deepEqual(prefer(['a', 'b'], { a: 2900, b: 2950 }, 1, 3000), ['a']);
    assert.deepEqual(prefer(['a'], { a: 0 }, 1, 3000), []);
  });
});

describe('parsePlans', () => {
  test('keeps the plans that parse, ignores the others', () => {
    const plans = parsePlans({
      r1: JSON.stringify(plan(['a'], 1)),
      r2: 'not json',
      r3: JSON.stringify({ workers: 'a', jobs: 1, waitMs: 1, step: 1 }),
    });
    assert.deepEqual([...plans.keys()], ['r1']);
    assert.deepEqual(plans.get('r1'), plan(['a'], 1));
  });
});
