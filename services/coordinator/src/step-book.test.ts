import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { alignedBlocks } from '@gradq/engine';
import type { BlockResult } from '@gradq/protocol';
import {
  type BlockEntry,
  checkRecord,
  type GradientVerdict,
  jobsPerStep,
  overdue,
  StepBook,
  TooManyRejectionsError,
} from './step-book';

type Accepted = Extract<BlockResult, { kind: 'accepted' }>;
type Rejected = Extract<BlockResult, { kind: 'rejected' }>;

const OK: GradientVerdict = { ok: true };
const bad = (problem: 'length' | 'nonfinite' | 'schema'): GradientVerdict => ({ ok: false, problem, detail: problem });

/** Step 5 of a run with K = 4 leaves of 8 samples, cut into two blocks: leaves [0, 2) and [2, 4). */
function book(maxRejections?: number): StepBook {
  const blocks = alignedBlocks(4, 2).map((b) => ({
    ...b,
    leaves: Array.from({ length: b.end - b.first }, (_, i) => ({
      start: (b.first + i) * 8,
      end: (b.first + i + 1) * 8,
    })),
  }));
  return new StepBook(5, blocks, maxRejections);
}

function accepted(over: Partial<Accepted> = {}): Accepted {
  return {
    kind: 'accepted',
    step: 5,
    first: 0,
    end: 2,
    token: '0123456789abcdef',
    losses: [0.25, 0.5],
    counts: [8, 8],
    computeSeconds: 0.01,
    worker: 'w1',
    ...over,
  };
}

function rejected(over: Partial<Rejected> = {}): Rejected {
  return {
    kind: 'rejected',
    step: 5,
    first: 0,
    end: 2,
    reason: 'layout',
    message: 'other layout',
    worker: 'w1',
    ...over,
  };
}

/** The entry a record names, after checking the book asks for its gradient. */
function fetchEntry(b: StepBook, record: Accepted): BlockEntry {
  const action = b.onRecord(record);
  assert.equal(action.action, 'fetch');
  return action.action === 'fetch' ? action.entry : (undefined as never);
}

describe('StepBook', () => {
  test('starts with every block missing, at attempt 0', () => {
    const b = book();
    assert.equal(b.complete, false);
    assert.deepEqual(
      b.missing().map((e) => [e.first, e.end, e.attempt]),
      [
        [0, 2, 0],
        [2, 4, 0],
      ],
    );
  });

  test('ignores records of other steps, of blocks it does not have, and of blocks already complete', () => {
    const b = book();
    assert.deepEqual(b.onRecord(accepted({ step: 4 })), { action: 'ignore' });
    assert.deepEqual(b.onRecord(accepted({ step: 6 })), { action: 'ignore' });
    // Leaf 1 alone, or leaves [0, 4): another grouping of the same step (a previous coordinator's plan).
    assert.deepEqual(b.onRecord(accepted({ first: 1, end: 2 })), { action: 'ignore' });
    assert.deepEqual(b.onRecord(accepted({ first: 0, end: 4 })), { action: 'ignore' });
    assert.deepEqual(b.onRecord(rejected({ first: 0, end: 1 })), { action: 'ignore' });

    const entry = fetchEntry(b, accepted());
    assert.equal(b.gradient(entry, OK), 'use');
    // A duplicate that got past the submit script (it cannot, but the book must not count it twice either).
    assert.deepEqual(b.onRecord(accepted()), { action: 'ignore' });
    assert.deepEqual(b.onRecord(rejected()), { action: 'ignore' });
    assert.equal(b.counts.accepted, 1);
    assert.deepEqual(b.rejected, {});
    assert.equal(b.complete, false);
  });

  test('completes once every block has a gradient, in any order', () => {
    const b = book();
    const second = fetchEntry(b, accepted({ first: 2, end: 4 }));
    assert.equal(b.gradient(second, OK), 'use');
    assert.equal(b.complete, false);
    assert.deepEqual(
      b.missing().map((e) => e.first),
      [0],
    );
    assert.equal(b.gradient(fetchEntry(b, accepted()), OK), 'use');
    assert.equal(b.complete, true);
    assert.deepEqual(b.missing(), []);
    assert.equal(b.counts.accepted, 2);
  });

  test('a refusal is counted by reason and the block goes back with attempt + 1', () => {
    const b = book();
    const action = b.onRecord(rejected({ reason: 'layout' }));
    assert.equal(action.action, 'reissue');
    const entry = action.action === 'reissue' ? action.entry : (undefined as never);
    assert.deepEqual([entry.first, entry.end], [0, 2]);
    assert.deepEqual(b.rejected, { layout: 1 });
    b.reissue(entry, 'refused');
    assert.equal(entry.attempt, 1);
    assert.deepEqual(b.counts.reissued, { refused: 1, invalid: 0, straggler: 0, lost: 0 });
    // The re-issued block is still missing, and its next gradient is taken.
    assert.equal(b.complete, false);
    assert.equal(b.gradient(fetchEntry(b, accepted()), OK), 'use');
  });

  test('a non-finite gradient is sent back once; non-finite again, the coordinator computes the block itself', () => {
    const b = book();
    const entry = fetchEntry(b, accepted({ first: 2, end: 4 }));
    assert.equal(b.gradient(entry, bad('nonfinite')), 'reissue', 'the first non-finite gradient was used');
    assert.equal(entry.nonfinite, 1);
    assert.deepEqual(b.rejected, { nonfinite: 1 });
    b.reissue(entry, 'invalid');
    assert.equal(entry.attempt, 1);
    // Non-finite again: not believed (a worker may write garbage twice), not used.
    assert.equal(b.gradient(fetchEntry(b, accepted({ first: 2, end: 4 })), bad('nonfinite')), 'compute-here');
    assert.equal(entry.accepted, false);
    assert.equal(b.complete, false);
    assert.deepEqual(b.rejected, { nonfinite: 2 });
    // What the coordinator computed completes the block, finite or not.
    b.computedHere(entry);
    assert.equal(entry.accepted, true);
    assert.equal(b.counts.computedHere, 1);
    assert.equal(b.missing().includes(entry), false);
  });

  test('wrong length and schema problems are sent back every time, never used', () => {
    const b = book();
    const entry = fetchEntry(b, accepted());
    for (const [i, problem] of (['length', 'schema', 'length'] as const).entries()) {
      assert.equal(b.gradient(entry, bad(problem)), 'reissue', problem);
      b.reissue(entry, 'invalid');
      assert.equal(entry.attempt, i + 1);
    }
    assert.deepEqual(b.rejected, { length: 2, schema: 1 });
    assert.equal(b.counts.reissued.invalid, 3);
    assert.equal(entry.accepted, false);
    assert.equal(b.complete, false);
    // A first non-finite after other problems is still only a suspected corruption.
    assert.equal(b.gradient(entry, bad('nonfinite')), 'reissue');
  });

  test('too many rejections of one block abort the run with TooManyRejectionsError', () => {
    const b = book(3);
    const entry = fetchEntry(b, accepted());
    assert.equal(b.gradient(entry, bad('length')), 'reissue');
    assert.equal(b.onRecord(rejected()).action, 'reissue');
    assert.throws(
      () => b.gradient(entry, bad('schema')),
      (err: Error) =>
        err instanceof TooManyRejectionsError &&
        err.name === 'TooManyRejectionsError' &&
        /leaves \[0, 2\) of step 5 were rejected 3 times; last: schema/.test(err.message),
    );
    // The other block has its own count.
    const other = fetchEntry(b, accepted({ first: 2, end: 4 }));
    assert.equal(b.gradient(other, bad('length')), 'reissue');
  });

  test('counts each reason of re-issue apart', () => {
    const b = book();
    const [first, second] = b.entries as [BlockEntry, BlockEntry];
    b.reissue(first, 'straggler');
    b.reissue(first, 'lost');
    b.reissue(second, 'lost');
    assert.deepEqual(b.counts.reissued, { refused: 0, invalid: 0, straggler: 1, lost: 2 });
    assert.deepEqual([first.attempt, second.attempt], [2, 1]);
  });
});

describe('checkRecord', () => {
  const entry = () => book().entries[0] as BlockEntry;

  test('accepts a record whose counts are the block spans and whose losses are finite', () => {
    assert.deepEqual(checkRecord(entry(), accepted()), { ok: true });
  });

  test('a record covering other samples than the block is a schema problem naming the worker', () => {
    for (const counts of [[8], [8, 7], [8, 8, 8], [16, 0]]) {
      const v = checkRecord(entry(), accepted({ counts, worker: 'rogue' }));
      assert.equal(v.ok, false, JSON.stringify(counts));
      assert.equal(!v.ok && v.problem, 'schema');
      assert.match(!v.ok ? v.detail : '', /from rogue covers .* the block has \[8, 8\]/);
    }
  });

  test('a loss per leaf, else a schema problem', () => {
    const v = checkRecord(entry(), accepted({ losses: [0.5] }));
    assert.deepEqual(v, { ok: false, problem: 'schema', detail: '1 losses for 2 leaves' });
  });

  test('a non-finite loss (NaN arrives for a JSON null) is a nonfinite problem', () => {
    for (const loss of [Number.NaN, Number.POSITIVE_INFINITY]) {
      const v = checkRecord(entry(), accepted({ losses: [0.5, loss] }));
      assert.equal(v.ok, false);
      assert.equal(!v.ok && v.problem, 'nonfinite');
    }
  });
});

describe('overdue', () => {
  const DEADLINE = 1500;
  const CHECK_AFTER = 1000;
  const opened = 10_000;

  test('an active job is a straggler only past the deadline counted from when its step opened', () => {
    // Taken early (a job of the next step, waiting for its parameters): the wait before the step opened is free.
    const early = { state: 'active', activeSinceMs: opened - 5000 };
    assert.equal(overdue(early, opened + DEADLINE, opened, DEADLINE, 0, CHECK_AFTER), undefined);
    assert.equal(overdue(early, opened + DEADLINE + 1, opened, DEADLINE, 0, CHECK_AFTER), 'straggler');
    // Taken after the step opened: counted from then.
    const late = { state: 'active', activeSinceMs: opened + 700 };
    assert.equal(overdue(late, opened + 700 + DEADLINE, opened, DEADLINE, 0, CHECK_AFTER), undefined);
    assert.equal(overdue(late, opened + 701 + DEADLINE, opened, DEADLINE, 0, CHECK_AFTER), 'straggler');
    // However quiet the step is, an active job within its deadline is not lost.
    assert.equal(overdue(late, opened + 800, opened, DEADLINE, 60_000, CHECK_AFTER), undefined);
  });

  test('a failed, vanished or unknown job is lost only after checkAfter without progress', () => {
    for (const state of ['failed', 'missing', 'unknown']) {
      assert.equal(overdue({ state }, opened + 50_000, opened, DEADLINE, CHECK_AFTER - 1, CHECK_AFTER), undefined);
      assert.equal(overdue({ state }, opened + 50_000, opened, DEADLINE, CHECK_AFTER, CHECK_AFTER), 'lost', state);
    }
  });

  test('a waiting, delayed or completed job is neither', () => {
    for (const state of ['waiting', 'delayed', 'prioritized', 'completed', 'active']) {
      // (`active` without a start time: BullMQ has not stamped it yet.)
      assert.equal(overdue({ state }, opened + 60_000, opened, DEADLINE, 60_000, CHECK_AFTER), undefined, state);
    }
  });
});

describe('jobsPerStep', () => {
  const largest = (leaves: number) => (jobs: number) =>
    Math.max(...alignedBlocks(leaves, jobs).map((b) => b.end - b.first));
  const choose = (o: { workers: number; leaves: number; compute?: number; transfer?: number }) =>
    jobsPerStep({
      workers: o.workers,
      leaves: o.leaves,
      computeSeconds: o.compute,
      transferSeconds: o.transfer,
      largestBlock: largest(o.leaves),
    });

  test('before any measurement: one job per worker, at most one per leaf', () => {
    assert.equal(choose({ workers: 3, leaves: 8 }), 3);
    assert.equal(choose({ workers: 8, leaves: 4 }), 4);
    assert.equal(choose({ workers: 1, leaves: 4 }), 1);
    // No worker seen yet still plans one job.
    assert.equal(choose({ workers: 0, leaves: 4 }), 1);
    assert.equal(choose({ workers: 4, leaves: 4, compute: 0.1 }), 4, 'a transfer time is needed too');
  });

  test('one job per worker when compute dominates', () => {
    // 4 workers, 8 leaves: 400 ms of compute against 1 ms per transfer.
    // J=4: (1 + 12) * 1 ms + 400 ms * 2/8 = 113 ms; J=1: 4 ms + 400 ms = 404 ms.
    assert.equal(choose({ workers: 4, leaves: 8, compute: 0.4, transfer: 0.001 }), 4);
    assert.equal(choose({ workers: 2, leaves: 4, compute: 0.4, transfer: 0.001 }), 2);
  });

  test('one job when transfers dominate', () => {
    // 2 workers, 4 leaves, compute 8 ms, transfer 4 ms: J=1 costs 4 * 4 + 8 = 24 ms, J=2 costs 7 * 4 + 4 = 32 ms.
    assert.equal(choose({ workers: 2, leaves: 4, compute: 0.008, transfer: 0.004 }), 1);
    assert.equal(choose({ workers: 16, leaves: 16, compute: 0.001, transfer: 0.004 }), 1);
  });

  test('in between, the cheapest count', () => {
    // 8 workers, 8 leaves, compute 80 ms, transfer 4 ms: J=1 costs 4 * 4 + 80 = 96 ms, J=2 costs 7 * 4 + 40 = 68 ms,
    // J=4 costs 13 * 4 + 20 = 72 ms.
    assert.equal(choose({ workers: 8, leaves: 8, compute: 0.08, transfer: 0.004 }), 2);
  });

  test('a worker that derives the next parameters makes one job cheaper', () => {
    // 2 workers, 4 leaves, batch 1024 here: compute 31 ms, transfer 5 ms. Without deriving, J=1 costs 4 * 5 + 31 =
    // 51 ms and J=2 costs 7 * 5 + 15.5 = 50.5 ms; deriving, J=1 costs 5 + max(31, 10) = 36 ms.
    const o = { workers: 2, leaves: 4, computeSeconds: 0.031, transferSeconds: 0.005, largestBlock: largest(4) };
    assert.equal(jobsPerStep(o), 2);
    assert.equal(jobsPerStep({ ...o, derives: true }), 1);
    // Compute far above the transfers still splits: J=4 of 4 s costs 13 * 5 ms + 1 s, J=1 5 ms + 4 s.
    assert.equal(jobsPerStep({ ...o, workers: 4, computeSeconds: 4, derives: true }), 4);
  });

  test('near the crossing, the derived single job stays: a split must be predicted 15% faster', () => {
    // Batch 1024 here: compute 28 ms, transfer 2.3 ms. Deriving, J=1 costs 2.3 + 28 = 30.3 ms; J=2 costs 7 * 2.3 + 14
    // = 30.1 ms: 1% less, inside the noise of one transfer measurement (the planner flipped step to step).
    const o = { workers: 2, leaves: 4, computeSeconds: 0.028, transferSeconds: 0.0023, largestBlock: largest(4) };
    assert.equal(jobsPerStep({ ...o, derives: true }), 1);
    // At 40 ms of compute J=2 (36.1 ms) is 14.7% below J=1 (42.3 ms): not enough; at 44 ms, 17.7% (38.1 against
    // 46.3 ms): the split pays.
    assert.equal(jobsPerStep({ ...o, computeSeconds: 0.04, derives: true }), 1);
    assert.equal(jobsPerStep({ ...o, computeSeconds: 0.044, derives: true }), 2);
    // Without derivation (local runs) no margin: the cheapest count.
    assert.equal(jobsPerStep(o), 2);
  });

  test('never more jobs than leaves or workers', () => {
    for (const workers of [1, 2, 3, 5, 8, 40])
      for (const leaves of [1, 2, 3, 4, 7, 16]) {
        const j = choose({ workers, leaves, compute: 100, transfer: 1e-6 });
        const most = Math.min(workers, leaves);
        assert.ok(j >= 1 && j <= most, `${workers} workers, ${leaves} leaves: ${j}`);
        // Transfers almost free: as fast as the most jobs allowed (fewer when the tree gives no smaller block).
        assert.equal(largest(leaves)(j), largest(leaves)(most), `${workers} workers, ${leaves} leaves: ${j}`);
      }
  });
});
