import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createWorkerSightings } from './workers-seen';

describe('createWorkerSightings', () => {
  test('counts distinct ids within the window and forgets them after it', () => {
    const seen = createWorkerSightings({ windowMs: 1000 });
    seen.mark('a', 0);
    seen.mark('b', 500);
    seen.mark('a', 900); // the same worker twice is one worker
    assert.equal(seen.count(1000), 2);
    // a was last seen at 900, b at 500: at 1600 only a is within 1000 ms.
    assert.equal(seen.count(1600), 1);
    assert.equal(seen.count(5000), 0);
  });

  test('stays bounded: ids outside the window are dropped as new ones arrive', () => {
    const seen = createWorkerSightings({ windowMs: 10 });
    for (let i = 0; i < 10_000; i++) seen.mark(`worker-${i}`, i);
    assert.ok(seen.count(10_000) <= 11);
  });

  test('a late, out-of-order mark does not move a sighting back in time', () => {
    const seen = createWorkerSightings({ windowMs: 100 });
    seen.mark('a', 1000);
    seen.mark('a', 500);
    assert.equal(seen.count(1050), 1);
  });

  test('defaults to a 60 s window', () => {
    const seen = createWorkerSightings();
    seen.mark('a', 0);
    assert.equal(seen.count(60_000), 1);
    assert.equal(seen.count(60_001), 0);
  });

  test('rejects a window that is not positive, naming windowMs', () => {
    assert.throws(() => createWorkerSightings({ windowMs: 0 }), /windowMs/);
    assert.throws(() => createWorkerSightings({ windowMs: Number.NaN }), /windowMs/);
  });
});
