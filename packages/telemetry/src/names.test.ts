import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import type { Registry } from 'prom-client';
import { createCoordinatorMetrics } from './coordinator-metrics';
import { JOB_OUTCOMES, QUEUE_STATES, REJECT_REASONS, STEP_PARTS, TRANSFER_KINDS } from './labels';
import { GRADQ_METRIC_NAMES } from './names';
import { createMetricsRegistry } from './registry';
import { createWorkerMetrics } from './worker-metrics';

// The complete label vocabulary: a label not listed here (a run id, a job id, a worker id) is unbounded.
const ALLOWED_LABELS: Readonly<Record<string, readonly string[] | null>> = {
  role: ['coordinator', 'worker'],
  le: null, // histogram buckets, fixed per histogram
  part: STEP_PARTS,
  kind: TRANSFER_KINDS,
  state: QUEUE_STATES,
  reason: REJECT_REASONS,
  outcome: JOB_OUTCOMES,
};

async function bothRoles(): Promise<Registry[]> {
  const coordinator = createMetricsRegistry({ role: 'coordinator', defaultMetrics: false });
  const c = createCoordinatorMetrics(coordinator);
  for (const state of QUEUE_STATES) c.queueJobs.set({ state }, 1);
  const worker = createMetricsRegistry({ role: 'worker', defaultMetrics: false });
  createWorkerMetrics(worker);
  return [coordinator, worker];
}

describe('metric names', () => {
  test('follow gradq_<thing>_<unit>: counters end in _total, histograms in _seconds', async () => {
    for (const registry of await bothRoles()) {
      for (const m of await registry.getMetricsAsJSON()) {
        assert.match(m.name, /^gradq_[a-z][a-z0-9_]*[a-z0-9]$/, m.name);
        if (String(m.type) === 'counter') assert.match(m.name, /_total$/, m.name);
        if (String(m.type) === 'histogram') assert.match(m.name, /_seconds$/, m.name);
        if (String(m.type) === 'gauge')
          assert.doesNotMatch(m.name, /_total$/, `${m.name}: a gauge named like a counter`);
      }
    }
  });

  test('use only labels from small fixed sets, with only their listed values', async () => {
    for (const registry of await bothRoles()) {
      for (const m of await registry.getMetricsAsJSON()) {
        for (const series of m.values) {
          for (const [label, value] of Object.entries(series.labels)) {
            assert.ok(label in ALLOWED_LABELS, `${m.name} has label "${label}", which is not in the fixed vocabulary`);
            const allowed = ALLOWED_LABELS[label];
            if (allowed) assert.ok(allowed.includes(String(value)), `${m.name}{${label}="${value}"}`);
          }
        }
      }
    }
  });

  test('are all documented in the package README', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    for (const name of GRADQ_METRIC_NAMES)
      assert.ok(readme.includes(`| \`${name}\``), `README.md lacks a row for ${name}`);
  });
});
