import { f0, f1, f2, mb, ms, table } from './markdown';
import { renderSingle, singleTargets, torchVersion } from './report-single';
import type { BenchResults, CeilingResult, ClusterResult } from './results';

export interface TargetRow {
  readonly target: string;
  readonly measured: string;
  readonly met: boolean | undefined;
  readonly limit: string;
}

function cluster(r: BenchResults, backend: string, workers: number): Extract<ClusterResult, { ok: true }> | undefined {
  const c = r.cluster.find((x) => x.backend === backend && x.workers === workers);
  return c?.ok ? c : undefined;
}

export function efficiency(r: BenchResults, backend: string, workers: number): number {
  const one = cluster(r, backend, 1);
  const w = cluster(r, backend, workers);
  return one && w ? w.samplesPerSecond / (workers * one.samplesPerSecond) : Number.NaN;
}

function ceiling(r: BenchResults): CeilingResult | undefined {
  return 'error' in r.ceiling ? undefined : r.ceiling;
}

/** The targets of issue 6 and of the compute engine, each with what limits it when not met. */
export function targets(r: BenchResults): TargetRow[] {
  const rows: TargetRow[] = [];
  const c = ceiling(r);
  if (c) {
    const parts = Object.entries({
      'unattributed (step - parts)': c.parts.readAndCleanup,
      publish: c.parts.publish,
      averaging: c.parts.average,
      optimizer: c.parts.optimizer,
    }).sort((a, b) => b[1] - a[1]);
    const [top, topMs] = parts[0] ?? ['?', 0];
    rows.push({
      target: 'Coordinator serial time per step <= 5 ms (seed model, K = 4)',
      measured: `${f1(c.serialMs)} ms`,
      met: c.serialMs <= 5,
      limit:
        c.serialMs <= 5
          ? ''
          : `largest part: ${top} ${f1(topMs)} ms (${parts.map(([k, v]) => `${k} ${f1(v)}`).join(', ')})`,
    });
    const ratio = c.ingestMBps / c.redis.roundTripMBps;
    rows.push({
      target: 'Coordinator gradient ingest >= 60% of raw Redis bandwidth (same run)',
      measured: `${f0(c.ingestMBps)} MB/s = ${f1(ratio * 100)}% of ${f0(c.redis.roundTripMBps)} MB/s (SET+GET)`,
      met: ratio >= 0.6,
      limit:
        ratio >= 0.6
          ? ''
          : `the coordinator's serial work (${f1(c.serialMs)} ms/step) and queue round trips (${f1(c.parts.waitGradients)} ms/step waiting for instant workers) leave Redis idle between transfers`,
    });
  } else {
    rows.push({
      target: 'Coordinator serial time per step <= 5 ms',
      measured: 'not measured',
      met: undefined,
      limit: 'error' in r.ceiling ? r.ceiling.error : '',
    });
    rows.push({
      target: 'Coordinator gradient ingest >= 60% of raw Redis',
      measured: 'not measured',
      met: undefined,
      limit: '',
    });
  }
  const e = efficiency(r, 'wasm', 2);
  const b = r.breakdown.find((x) => x.backend === 'wasm' && x.workers === 2);
  const contended = r.machine.cores < 2 + 1;
  rows.push({
    target: 'Scaling efficiency >= 0.95 for 2 workers (wasm)',
    measured: Number.isFinite(e) ? f2(e) : 'not measured',
    met: Number.isFinite(e) ? e >= 0.95 : undefined,
    limit:
      !Number.isFinite(e) || e >= 0.95
        ? ''
        : [
            contended
              ? `${r.machine.cores} cores for 2 workers + coordinator + Redis: the workers cannot both have a core`
              : '',
            b
              ? `per step the coordinator waits ${ms(b.coordinator.waitGradients)} ms and spends ${ms(b.coordinator.step - b.coordinator.waitGradients)} ms serially`
              : '',
          ]
            .filter(Boolean)
            .join('; '),
  });
  rows.push(...singleTargets(r));
  return rows;
}

/** BENCHMARKS.md, from the results alone (so the JSON can be re-rendered). */
export function renderMarkdown(r: BenchResults, chartLink: string): string {
  const m = r.machine;
  const s = r.sizes;
  const out: string[] = [];
  out.push('# gradq benchmarks', '');
  out.push(
    `Written by \`pnpm bench${r.quick ? ' --quick' : ''}\` (packages/bench) on ${r.startedAt.slice(0, 10)} in ${f0(r.durationSeconds / 60)} min` +
      `${r.quick ? ' — a **quick smoke run**: small sizes, noisy figures' : ''}. Same figures in \`bench-results.json\`.`,
    '',
  );
  out.push(
    table(
      ['machine', ''],
      [
        ['CPU', `${m.cpuModel}, ${m.cores} cores`],
        ['RAM', `${(m.ramBytes / 2 ** 30).toFixed(1)} GiB`],
        ['OS', m.os],
        ['Node', m.node],
        ...Object.entries(m.versions).map(([k, v]) => [k, v]),
        ...(torchVersion(r) ? [['PyTorch', torchVersion(r) as string]] : []),
        ['git commit', `${m.gitCommit.slice(0, 12)}${m.gitDirty ? ' (with uncommitted changes)' : ''}`],
        ['load average at start', m.loadAverageAtStart.join(', ')],
      ],
    ),
    '',
  );

  out.push('## Targets', '');
  out.push(
    table(
      ['target', 'measured', 'met', 'what limits it'],
      targets(r).map((t) => [t.target, t.measured, t.met === undefined ? 'n/a' : t.met ? 'met' : 'not met', t.limit]),
    ),
    '',
  );

  out.push(renderSingle(r), '');

  out.push('## 2. `pnpm start` with 1 and 2 workers', '');
  out.push(
    `\`services/coordinator/src/cli/start.ts\` with \`--workers 1|2\`, ${s.clusterEpochs} epoch(s) of \`--limit ${s.clusterLimit}\`, ` +
      `batch ${s.batchSize} in ${s.shardsPerStep} shards, \`--checkpoint-every 0\`, a private Redis; samples/s is \`train_samples_per_s\` ` +
      '(step time only, evaluation excluded). Efficiency = 2-worker throughput / (2 x 1-worker throughput).',
    '',
  );
  const backends = [...new Set(r.cluster.map((c) => c.backend))];
  out.push(
    table(
      ['backend', '1 worker (samples/s)', '2 workers (samples/s)', 'efficiency', 'test MSE (2 workers)'],
      backends.map((b) => {
        const one = r.cluster.find((c) => c.backend === b && c.workers === 1);
        const two = r.cluster.find((c) => c.backend === b && c.workers === 2);
        const cell = (c: ClusterResult | undefined) =>
          c ? (c.ok ? f0(c.samplesPerSecond) : `failed: ${c.error.slice(0, 80)}`) : 'n/a';
        return [b, cell(one), cell(two), f2(efficiency(r, b, 2)), two?.ok ? two.testMse.toFixed(5) : 'n/a'];
      }),
    ),
    '',
  );

  out.push('## 3. Where a 2-worker step goes', '');
  out.push(
    "Means from the services' own histograms (`_sum / _count`), scraped from the coordinator's and each worker's /metrics " +
      'until the run exited. Coordinator parts are per step; worker parts per job (a step has K jobs, W workers share them). ' +
      'The coordinator reads and checks each gradient as it arrives, so reading is inside "wait for gradients"; ' +
      '"unattributed" is the step time not in any part. The first 2 steps (start-up) are excluded. "Waiting for the last shard" = wait_gradients - ' +
      "ceil(K/W) x (fetch share + compute + push): the wait not explained by the busiest worker's own work.",
    '',
  );
  for (const b of r.breakdown) {
    const c = b.coordinator;
    const rows = [
      ['coordinator', 'whole step', ms(c.step)],
      ['coordinator', 'publish (parameters SET + enqueue K jobs)', ms(c.publish)],
      ['coordinator', 'wait for gradients (all K shards in)', ms(c.waitGradients)],
      ['coordinator', 'unattributed (step - parts)', ms(c.readAndCleanup)],
      ['coordinator', 'averaging', ms(c.average)],
      ['coordinator', 'optimizer', ms(c.optimizer)],
    ];
    if (b.worker) {
      rows.push(
        ['worker', 'queue latency (enqueued -> started)', ms(b.worker.queueLatency)],
        [
          'worker',
          `parameter fetch (per fetch; ${b.worker.paramsFetches} fetches / ${b.worker.jobs} jobs)`,
          ms(b.worker.paramsFetch),
        ],
        ['worker', 'gradient compute', ms(b.worker.compute)],
        ['worker', 'gradient push', ms(b.worker.push)],
        ['derived', 'waiting for the last shard', ms(b.waitForLastShard)],
      );
    } else rows.push(['worker', `not scraped: ${b.workerMetricsError ?? ''}`, 'n/a']);
    out.push(
      `**${b.backend}, ${b.workers} workers, K = ${b.shardsPerStep}, ${b.steps} steps**`,
      '',
      table(['where', 'part', 'mean ms'], rows),
      '',
    );
  }
  if (r.breakdown.length === 0) out.push('Not measured (no 2-worker run succeeded).', '');

  out.push("## 4. The coordinator's ceiling", '');
  const c = ceiling(r);
  if (c) {
    out.push(
      `The real coordinator (\`services/coordinator/src/cli/coordinator.ts\`, ${c.backend}) with K = ${c.shardsPerStep} and a fake pool ` +
        `(packages/bench/src/cli/fake-workers.ts: a BullMQ Worker, concurrency ${s.fakeWorkerConcurrency}, on the real queue, answering every ` +
        `job at once through \`submitGradient\` with a precomputed gradient), ${c.steps} steps after 3 warm-up steps. Raw Redis: SET then \`getBuffer\` of one ` +
        `${(c.redis.valueBytes / 1e6).toFixed(2)} MB value, ${c.redis.iterations} times, same Redis, same run.`,
      '',
      table(
        ['figure', 'value'],
        [
          ['gradients averaged per second', f0(c.gradientsPerSecond)],
          ['gradient ingest', `${f0(c.ingestMBps)} MB/s (${f0(c.gradientBytes)} bytes per gradient)`],
          [
            'raw Redis SET / GET / SET+GET',
            `${f0(c.redis.setMBps)} / ${f0(c.redis.getMBps)} / ${f0(c.redis.roundTripMBps)} MB/s (${f2(c.redis.setMs)} / ${f2(c.redis.getMs)} ms)`,
          ],
          ['step (mean)', `${f1(c.stepMs)} ms`],
          [
            'serial coordinator time per step (step - wait = publish + average + optimizer + unattributed)',
            `**${f1(c.serialMs)} ms**`,
          ],
          ['  publish', `${f1(c.parts.publish)} ms`],
          ['  unattributed', `${f1(c.parts.readAndCleanup)} ms`],
          ['  averaging K gradients', `${f1(c.parts.average)} ms`],
          ['  optimizer', `${f1(c.parts.optimizer)} ms`],
          [
            'wait for instant workers (queue round trips + K pushes + K reads and checks)',
            `${f1(c.parts.waitGradients)} ms`,
          ],
        ],
      ),
      '',
      `The serial time bounds every cluster size: at most ${f0(1000 / c.serialMs)} steps/s, i.e. ${f0((1000 / c.serialMs) * s.batchSize)} samples/s at batch ${s.batchSize}, however many workers.`,
      '',
    );
  } else out.push(`Not measured: ${'error' in r.ceiling ? r.ceiling.error : ''}`, '');

  out.push('## 5. Peak memory (VmHWM)', '');
  out.push(
    table(
      ['run', 'coordinator', 'worker (largest)'],
      r.memory.map((x) => [x.run, mb(x.coordinatorPeakRssBytes), mb(x.workerPeakRssBytes)]),
    ),
    '',
  );

  out.push('## 6. Scaling model', '');
  if ('error' in r.scaling) out.push(`Not computed: ${r.scaling.error}`, '');
  else {
    const sc = r.scaling;
    out.push(
      `![projected throughput and efficiency](${chartLink})`,
      '',
      'Assumptions (a first-order model, not a measurement):',
      '',
      `- W workers on separate machines, each its own core(s); K = W shards per step, ${s.shardSamples} samples each (weak scaling: the global batch is ${s.shardSamples} x W).`,
      '- One Redis and one coordinator. Every transfer goes through Redis one at a time (Redis runs commands on one thread, and in a synchronous step all W workers fetch the new parameters together and push their gradients together), at min(measured Redis MB/s, link MB/s).',
      `- The Redis host's link is ${f0(s.linkMBps)} MB/s (10 GbE); the measured Redis figures are loopback.`,
      '- Step = publish + W parameter fetches + W job dispatches + one shard compute + W gradient pushes + the coordinator reading W gradients + averaging W gradients + optimizer. No overlap between steps (synchronous SGD).',
      '- Worker compute per shard is the shard timing of the backend survey (section 1b, one uncontended core); publish, optimizer, averaging per gradient and dispatch per job come from the ceiling run (section 4); dispatch = (wait for instant workers - K pushes) / K.',
      '- Not modelled: stragglers, worker failures and retries, BullMQ lock renewals, Redis Cluster (which would split the transfers across nodes), gradient compression.',
      '',
      'Inputs:',
      '',
      table(
        ['backend', ...Object.keys(Object.values(sc.inputs)[0] ?? {})],
        Object.entries(sc.inputs).map(([b, i]) => [
          b,
          ...Object.values(i).map((v) => (v >= 1000 ? f0(v) : String(Number(v.toPrecision(3))))),
        ]),
      ),
      '',
    );
    for (const p of sc.projections) {
      out.push(
        `**${p.backend}**`,
        '',
        table(
          ['workers', 'step (ms)', 'samples/s', 'efficiency', 'largest non-compute term'],
          p.points.map((q) => [String(q.workers), f1(q.stepMs), f0(q.samplesPerSecond), f2(q.efficiency), q.limit]),
        ),
        '',
      );
    }
  }

  out.push('## 7. Gradient encodings', '');
  const e = r.encodings;
  if (!e.available) out.push(e.note, '');
  else {
    out.push(
      `\`pnpm start --grad-encoding X\`, ${e.backend}, ${s.encodingWorkers} workers, ${s.encodingEpochs} epoch(s) of \`--limit ${s.encodingLimit}\`, K = ${s.shardsPerStep}. ` +
        'Bytes per gradient from the coordinator\'s `gradq_transfer_bytes_total{kind="gradients"}` / gradients read.',
      '',
      table(
        ['encoding', 'bytes per gradient', 'step (ms)', 'samples/s', `test MSE after ${s.encodingEpochs} epoch(s)`],
        e.runs.map((x) =>
          x.ok
            ? [x.encoding, f0(x.bytesPerGradient), f1(x.stepMs), f0(x.samplesPerSecond), x.testMse.toFixed(5)]
            : [x.encoding, `failed: ${x.error.slice(0, 80)}`, '', '', ''],
        ),
      ),
      '',
    );
  }

  out.push('## Sizes used', '');
  out.push(
    table(
      ['what', 'size'],
      [
        [
          'single process (section 1)',
          `${s.single.rounds} round(s) of PyTorch, K = 4, K = 1: one epoch of ${f0(s.single.limit)} samples each, ${s.single.warmupSteps} steps untimed${s.single.steadyState ? '' : ' (not steady state)'}`,
        ],
        [
          'backends (section 1b)',
          Object.entries(s.backendSteps)
            .map(([b, x]) => `${b} ${x.warmup} + ${x.steps} steps`)
            .join(', '),
        ],
        [
          'pnpm start runs',
          `${s.clusterEpochs} epoch(s) of ${s.clusterLimit} samples, batch ${s.batchSize}, K = ${s.shardsPerStep}`,
        ],
        [
          'ceiling run',
          `${s.ceilingEpochs} epoch(s) of ${s.ceilingLimit} samples, fake pool concurrency ${s.fakeWorkerConcurrency}; Redis probe ${s.redisProbeIterations} x SET+GET`,
        ],
        ['encodings', `${s.encodingEpochs} epoch(s) of ${s.encodingLimit} samples, ${s.encodingWorkers} workers`],
      ],
    ),
    '',
    'Rerun: `pnpm bench` (full) or `pnpm bench --quick`; see packages/bench/README.md.',
    '',
  );
  return out.join('\n');
}
