import type { MetricSample } from '@gradq/testing';
import { addTotals, histogram, meanOf, sumOf } from './prom-text';
import type { StepBreakdown } from './results';

const PART = 'gradq_step_part_duration_seconds';

/** Mean seconds of each coordinator step part, from one scrape. */
export function coordinatorParts(samples: readonly MetricSample[]): StepBreakdown['coordinator'] & { steps: number } {
  const step = histogram(samples, 'gradq_step_duration_seconds');
  const part = (name: string) => meanOf(histogram(samples, PART, { part: name }));
  const publish = part('publish');
  const waitGradients = part('wait_gradients');
  const reduce = part('reduce');
  const optimizer = part('optimizer');
  const stepMean = meanOf(step);
  return {
    steps: step.count,
    step: stepMean,
    publish,
    waitGradients,
    reduce,
    optimizer,
    unattributed: Math.max(0, stepMean - publish - waitGradients - reduce - optimizer),
  };
}

/**
 * The step breakdown of a run from its last scrapes. Worker parts are per job, summed over every worker that
 * answered. A step has J jobs (total jobs / steps); the busiest worker serves ceil(J/W) of them back to back, each
 * with a share of parameter fetches; what the coordinator waited beyond that is queue dispatch plus the last
 * block's lag.
 */
export function stepBreakdown(
  label: string,
  workers: number,
  shardsPerStep: number,
  coordinator: readonly MetricSample[],
  workerScrapes: readonly (readonly MetricSample[] | undefined)[],
  workerMetricsError?: string,
): StepBreakdown {
  const c = coordinatorParts(coordinator);
  const { steps, ...parts } = c;
  const answered = workerScrapes.filter((w): w is readonly MetricSample[] => w !== undefined);
  const base: StepBreakdown = { label, workers, shardsPerStep, steps, coordinator: parts };
  if (answered.length === 0) {
    return { ...base, workerMetricsError: workerMetricsError ?? 'no worker answered on /metrics' };
  }
  const total = (name: string) => addTotals(answered.map((s) => histogram(s, name)));
  const compute = total('gradq_gradient_compute_seconds');
  const fetch = total('gradq_params_fetch_seconds');
  const push = total('gradq_gradient_push_seconds');
  const latency = total('gradq_queue_latency_seconds');
  const jobs = answered.reduce((n, s) => n + (sumOf(s, 'gradq_worker_jobs_total', { outcome: 'ok' }) || 0), 0);
  const worker = {
    jobs: jobs || compute.count,
    queueLatency: meanOf(latency),
    paramsFetch: meanOf(fetch),
    paramsFetches: fetch.count,
    compute: meanOf(compute),
    push: meanOf(push),
  };
  const jobsPerStep = steps > 0 && compute.count > 0 ? compute.count / steps : undefined;
  const perJobFetch = fetch.count > 0 && compute.count > 0 ? fetch.sum / compute.count : 0;
  const busiest = Math.ceil((jobsPerStep ?? shardsPerStep) / workers) * (perJobFetch + worker.compute + worker.push);
  const waitForLastBlock = Number.isFinite(busiest) ? Math.max(0, parts.waitGradients - busiest) : undefined;
  return {
    ...base,
    ...(jobsPerStep !== undefined ? { jobsPerStep } : {}),
    worker,
    ...(waitForLastBlock !== undefined ? { waitForLastBlock } : {}),
  };
}

/**
 * Training throughput from one scrape (or the difference of two): samples counted over the steps' own seconds, so
 * time between steps (evaluation at epoch ends) is out, as in the summary's `train_samples_per_s`.
 */
export function steadyThroughput(samples: readonly MetricSample[]): { samplesPerSecond: number; steps: number } {
  const step = histogram(samples, 'gradq_step_duration_seconds');
  const trained = sumOf(samples, 'gradq_samples_total');
  return { samplesPerSecond: step.sum > 0 ? trained / step.sum : Number.NaN, steps: step.count || 0 };
}
