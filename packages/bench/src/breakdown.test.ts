import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseMetricsText } from '@gradq/testing';
import { coordinatorParts, steadyThroughput, stepBreakdown } from './breakdown';

// 10 steps of 100 ms: publish 5, wait 80, reduce 3, optimizer 2 -> 10 ms unattributed.
const COORD = parseMetricsText(`
gradq_step_duration_seconds_sum{role="coordinator"} 1
gradq_step_duration_seconds_count{role="coordinator"} 10
gradq_step_part_duration_seconds_sum{part="publish",role="coordinator"} 0.05
gradq_step_part_duration_seconds_count{part="publish",role="coordinator"} 10
gradq_step_part_duration_seconds_sum{part="wait_gradients",role="coordinator"} 0.8
gradq_step_part_duration_seconds_count{part="wait_gradients",role="coordinator"} 10
gradq_step_part_duration_seconds_sum{part="reduce",role="coordinator"} 0.03
gradq_step_part_duration_seconds_count{part="reduce",role="coordinator"} 10
gradq_step_part_duration_seconds_sum{part="optimizer",role="coordinator"} 0.02
gradq_step_part_duration_seconds_count{part="optimizer",role="coordinator"} 10
`);

// Each worker: 20 jobs of 25 ms compute and 2 ms push, 10 parameter fetches of 4 ms.
const WORKER = parseMetricsText(`
gradq_worker_jobs_total{outcome="ok",role="worker"} 20
gradq_gradient_compute_seconds_sum{role="worker"} 0.5
gradq_gradient_compute_seconds_count{role="worker"} 20
gradq_gradient_push_seconds_sum{role="worker"} 0.04
gradq_gradient_push_seconds_count{role="worker"} 20
gradq_params_fetch_seconds_sum{role="worker"} 0.04
gradq_params_fetch_seconds_count{role="worker"} 10
gradq_queue_latency_seconds_sum{role="worker"} 0.1
gradq_queue_latency_seconds_count{role="worker"} 20
`);

const near = (a: number | undefined, b: number) => assert.ok(a !== undefined && Math.abs(a - b) < 1e-9, `${a} != ${b}`);

test('coordinator parts are means from _sum/_count; the rest is unattributed', () => {
  const c = coordinatorParts(COORD);
  assert.equal(c.steps, 10);
  near(c.step, 0.1);
  near(c.waitGradients, 0.08);
  near(c.reduce, 0.003);
  near(c.unattributed, 0.01);
});

test('worker parts are per job over every worker; the wait beyond the busiest worker is the last-block lag', () => {
  const b = stepBreakdown('2 workers', 2, 4, COORD, [WORKER, WORKER]);
  assert.equal(b.worker?.jobs, 40);
  near(b.worker?.compute, 0.025);
  near(b.worker?.paramsFetch, 0.004);
  near(b.worker?.queueLatency, 0.005);
  // 40 jobs over 10 steps: J = 4. Busiest worker: ceil(4/2) = 2 jobs x (2 ms fetch share + 25 compute + 2 push)
  // = 58 ms of the 80 ms wait.
  near(b.jobsPerStep, 4);
  near(b.waitForLastBlock, 0.022);
});

test('without worker scrapes the coordinator half still stands and the reason is kept', () => {
  const b = stepBreakdown('2 workers', 2, 4, COORD, [undefined, undefined], 'ECONNREFUSED');
  assert.equal(b.worker, undefined);
  assert.equal(b.workerMetricsError, 'ECONNREFUSED');
});

test("steady throughput: samples over the steps' own seconds; nothing measured is NaN, not 0", () => {
  // 10 steps in 1 s of step time, 1,280 samples: 1,280 samples/s.
  const t = steadyThroughput([...COORD, ...parseMetricsText('gradq_samples_total{role="coordinator"} 1280')]);
  assert.equal(t.steps, 10);
  near(t.samplesPerSecond, 1280);
  assert.ok(Number.isNaN(steadyThroughput([]).samplesPerSecond));
});
