// The fault suite's quick variant (one fault of each kind on a 12-step run), so that CI breaks the system in every
// way pnpm test:faults does, if less often: each disturbed run must end on the undisturbed run's bits.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findRedisServer } from '@gradq/testing';
import { terminalTable } from '../src/report';
import { runSuite } from '../src/suite';

test('quick fault suite: worker kill (sync and local), coordinator kill + resume, Redis wiped, S3 down, straggler, connection kills, second coordinator', async (t) => {
  if (!findRedisServer()) return t.skip('no redis-server on PATH');
  const report = await runSuite({ intensity: 'quick', seed: 1 });
  const all = [report.reference, ...report.results];
  assert.equal(report.results.length, 8);
  assert.ok(
    all.every((r) => r.ok),
    `\n${terminalTable(report)}`,
  );
  t.diagnostic(`\n${terminalTable(report)}`);
});
