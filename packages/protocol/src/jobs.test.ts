import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { alignedBlocks } from '@gradq/engine';
import { blockResultSchema, type GradientJob, gradientJobId, gradientJobSchema, PROTOCOL_VERSION } from './jobs';

/** Step 3 of a run with K = 4 leaves of 32 samples; the job is the block of leaves [2, 4). */
function job(over: Partial<Record<keyof GradientJob, unknown>> = {}): Record<string, unknown> {
  return {
    protocol: PROTOCOL_VERSION,
    runId: 'run-jobs',
    session: '0123abcd',
    step: 3,
    epoch: 0,
    first: 2,
    leaves: [
      [64, 96],
      [96, 128],
    ],
    leafCount: 4,
    stepSamples: 128,
    fingerprint: '0123456789abcdef',
    attempt: 0,
    ...over,
  };
}

/** The problems zod reports, as `path: message`. */
function problems(data: unknown): string[] {
  const r = gradientJobSchema.safeParse(data);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('gradientJobSchema', () => {
  test('accepts a valid block', () => {
    assert.deepEqual(problems(job()), []);
    assert.deepEqual(problems(job({ first: 0, leaves: [[0, 32]] })), []);
    // The whole step in one job.
    const whole = [0, 1, 2, 3].map((i) => [i * 32, (i + 1) * 32]);
    assert.deepEqual(problems(job({ first: 0, leaves: whole })), []);
  });

  test('accepts every block alignedBlocks plans, for any leaf count and number of jobs', () => {
    for (const leafCount of [1, 2, 3, 4, 5, 7, 8, 13])
      for (let jobs = 1; jobs <= leafCount; jobs++)
        for (const b of alignedBlocks(leafCount, jobs)) {
          const leaves = Array.from({ length: b.end - b.first }, (_, i) => [(b.first + i) * 8, (b.first + i + 1) * 8]);
          const p = problems(job({ first: b.first, leaves, leafCount, stepSamples: leafCount * 8 }));
          assert.deepEqual(p, [], `${leafCount} leaves in ${jobs} jobs: [${b.first}, ${b.end})`);
        }
  });

  test('refuses leaves that are not consecutive spans, naming the leaf', () => {
    assert.deepEqual(
      problems(
        job({
          leaves: [
            [64, 96],
            [100, 128],
          ],
        }),
      ),
      ['leaves.1: leaves must be consecutive spans'],
    );
    // Overlapping: the same samples twice would count twice in the step's mean.
    assert.deepEqual(
      problems(
        job({
          leaves: [
            [64, 96],
            [64, 96],
          ],
        }),
      ),
      ['leaves.1: leaves must be consecutive spans'],
    );
    assert.match(problems(job({ first: 3, leaves: [[96, 96]] })).join(), /leaves\.0: end must be greater than start/);
    assert.match(problems(job({ leaves: [] })).join(), /^leaves: /);
  });

  test('refuses a block that is not an aligned block of the leaf tree', () => {
    const cases: Array<[string, Partial<Record<keyof GradientJob, unknown>>]> = [
      // Leaves [1, 3) straddle the two halves of the tree: no node has exactly them.
      [
        'straddling',
        {
          first: 1,
          leaves: [
            [32, 64],
            [64, 96],
          ],
        },
      ],
      // Three leaves of four: not a node.
      [
        'three of four',
        {
          first: 0,
          leaves: [
            [0, 32],
            [32, 64],
            [64, 96],
          ],
        },
      ],
      // Past the step's last leaf.
      [
        'past the end',
        {
          first: 3,
          leaves: [
            [96, 128],
            [128, 160],
          ],
          stepSamples: 160,
        },
      ],
    ];
    for (const [what, over] of cases) {
      const p = problems(job(over));
      assert.equal(p.length, 1, `${what}: ${p}`);
      assert.match(p[0] as string, /^first: leaves \[\d+, \d+\) are not an aligned block of 4$/, what);
    }
  });

  test('refuses stepSamples smaller than the block', () => {
    assert.deepEqual(problems(job({ stepSamples: 63 })), ["stepSamples: less than the block's 64 samples"]);
    assert.deepEqual(problems(job({ stepSamples: 64 })), []);
    assert.match(problems(job({ stepSamples: 0 })).join(), /stepSamples/);
  });

  test('refuses unknown fields and v1 jobs (one shard of samples), naming the fields', () => {
    assert.match(problems(job({ shard: 0 } as never)).join(), /shard/);
    const v1 = {
      protocol: 2,
      runId: 'run-jobs',
      session: '0123abcd',
      step: 3,
      shard: 2,
      version: 3,
      epoch: 0,
      start: 64,
      end: 96,
      fingerprint: '0123456789abcdef',
      attempt: 0,
    };
    const p = problems(v1).join('\n');
    for (const field of ['first', 'leaves', 'leafCount', 'stepSamples']) assert.match(p, new RegExp(field));
  });
});

describe('gradientJobId', () => {
  test('names run, session, step, first leaf and attempt: a re-add of the same job is a no-op, a re-issue is not', () => {
    const parsed = gradientJobSchema.parse(job());
    assert.equal(gradientJobId(parsed), 'run-jobs/0123abcd/3/2/0');
    assert.notEqual(gradientJobId({ ...parsed, attempt: 1 }), gradientJobId(parsed));
    assert.notEqual(gradientJobId({ ...parsed, session: 'ffffffff' }), gradientJobId(parsed));
  });
});

describe('blockResultSchema', () => {
  const accepted = {
    kind: 'accepted',
    step: 3,
    first: 2,
    end: 4,
    token: 'abcdef0123456789',
    losses: [0.1, null],
    counts: [32, 32],
    computeSeconds: 0.02,
    worker: 'w1',
  };

  test('a null loss (JSON has no NaN) reads back as NaN', () => {
    const r = blockResultSchema.parse(accepted);
    assert.equal(r.kind, 'accepted');
    assert.deepEqual(r.kind === 'accepted' && r.losses, [0.1, Number.NaN]);
  });

  test('refuses a token that could name another key, and unknown fields', () => {
    for (const token of ['../../x', 'abc', 'ABCDEF0123456789', '*'])
      assert.equal(blockResultSchema.safeParse({ ...accepted, token }).success, false, token);
    assert.equal(blockResultSchema.safeParse({ ...accepted, shard: 1 }).success, false);
    assert.equal(
      blockResultSchema.safeParse({
        kind: 'rejected',
        step: 3,
        first: 2,
        end: 4,
        reason: 'layout',
        message: '',
        worker: 'w',
      }).success,
      true,
    );
    assert.equal(
      blockResultSchema.safeParse({
        kind: 'rejected',
        step: 3,
        first: 2,
        end: 4,
        reason: 'evil',
        message: '',
        worker: 'w',
      }).success,
      false,
    );
  });
});
