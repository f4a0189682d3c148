import { availableParallelism, cpus } from 'node:os';
import type { Workload } from './rig';
import type { ScenarioResult } from './scenarios';

export interface SuiteReport {
  readonly date: Date;
  readonly backend: string;
  readonly workload: Workload;
  readonly seed: number;
  readonly intensity: string;
  readonly reference: ScenarioResult;
  readonly results: readonly ScenarioResult[];
  readonly seconds: number;
}

/** The results as a Markdown table: one row per scenario, the undisturbed reference first. */
export function resultTable(report: SuiteReport): string {
  const ref = report.reference.summary;
  const rows = [report.reference, ...report.results].map((r) => {
    const s = r.summary;
    const d = s?.distributed;
    const held = r.reference ?? ref;
    const same =
      s && held
        ? `${s.params_sha256 === held.params_sha256 ? 'equal' : 'DIFFERENT'}${r.reference ? ' (to its pnpm baseline)' : ''}`
        : '-';
    const outcome = r.ok ? 'pass' : `FAIL: ${r.problems.join('; ')}`;
    return [
      r.name,
      r.faults,
      outcome,
      s ? String(s.steps) : '-',
      s ? String(s.samples) : '-',
      d ? `${d.shards_applied}/${d.shards_planned}` : '-',
      d ? String(d.reissued) : '-',
      d ? `${d.duplicates_dropped}/${d.stale_dropped}` : '-',
      r === report.reference ? (s ? s.params_sha256.slice(0, 12) : '-') : same,
      `${r.seconds.toFixed(0)} s`,
      r.notes.join('; ') || '-',
    ];
  });
  const header = [
    'scenario',
    'faults injected',
    'outcome',
    'steps',
    'samples',
    'shards applied/planned',
    're-issued',
    'dup/stale dropped',
    'params_sha256 vs undisturbed',
    'duration',
    'evidence',
  ];
  const line = (cells: readonly string[]) => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** A compact fixed-width table for the terminal. */
export function terminalTable(report: SuiteReport): string {
  const rows = [report.reference, ...report.results].map((r) => [
    r.name,
    r.faults,
    r.ok ? 'pass' : 'FAIL',
    r.summary ? `${r.summary.distributed.shards_applied}/${r.summary.distributed.shards_planned}` : '-',
    r.summary && (r.reference ?? report.reference.summary)
      ? r.summary.params_sha256 === (r.reference ?? report.reference.summary)?.params_sha256
        ? 'same bits'
        : 'DIFFERENT bits'
      : '-',
    `${r.seconds.toFixed(0)} s`,
  ]);
  const header = ['scenario', 'faults injected', 'outcome', 'shards', 'params', 'duration'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  const problems = [report.reference, ...report.results]
    .filter((r) => !r.ok)
    .map((r) => `  ${r.name}: ${r.problems.join('; ')}`);
  return [fmt(header), fmt(widths.map((w) => '-'.repeat(w))), ...rows.map(fmt), ...problems].join('\n');
}

/** docs/reliability.md: what the suite does, the mechanisms it exercises, and the latest results with their date. */
export function reliabilityDoc(report: SuiteReport): string {
  const w = report.workload;
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  const passed = [report.reference, ...report.results].every((r) => r.ok);
  return `# Reliability: the fault suite

\`pnpm test:faults\` (packages/faults) trains the same run again and again on real processes (a private
\`redis-server\` on a loopback port, an s3rver, the \`pnpm coordinator\` CLI, \`pnpm worker\` CLIs) while it breaks
things, and holds every disturbed run to the undisturbed one: the run completes, every planned (step, leaf) is applied
exactly once (\`shards_applied == shards_planned\` in the coordinator's summary), no step is skipped, the steps and
samples are the same, and the final \`params_sha256\` is bit-identical. \`pnpm test:faults --write-doc\` rewrites this
file; \`pnpm test\` runs a quick variant (one fault of each kind, smaller run) from packages/faults/test.

## Latest results

Run on ${report.date.toISOString().slice(0, 10)} (${report.date.toISOString().slice(11, 16)} UTC), ${availableParallelism()} cores (${cpu}), TF.js backend
\`${report.backend}\`; workload: ${w.limit} samples, ${w.epochs} epoch(s), batch ${w.batchSize} in ${w.shardsPerStep} shards
(${Math.ceil(w.limit / w.batchSize) * w.epochs} steps), seed ${w.seed}, checkpoint every ${w.checkpointEvery} steps; workers
\`--lock-ms 2000\`, coordinator \`--check-after-ms 1000\`; fault timing seed ${report.seed}. Whole suite:
${report.seconds.toFixed(0)} s, ${passed ? 'all passed' : '**FAILURES**'}.

${resultTable(report)}

"shards applied/planned" and "dup/stale dropped" are the coordinator's exactly-once counters; for the resume scenario
they count the last coordinator's share of the run (from its checkpoint on). "re-issued" counts jobs added again
(lost, failed, refused or straggling).

## The mechanisms

- **Exactly-once via the Lua submit script** (\`packages/protocol/src/submit.ts\`). BullMQ is at-least-once: a killed
  worker's job comes back, a straggler's block of leaves is handed out twice, a restarted coordinator re-adds jobs. A
  worker writes its block's gradient under a key of its own, then submits it through one atomic script: it is accepted
  only if its step is the one the coordinator is collecting (\`step\` key, same session) and none of its leaves has an
  accepted gradient yet (the step's \`done\` hash, one field per leaf); only then are the leaves marked and the result
  pushed. Anything else is counted as duplicate or stale, and its bytes are deleted.
- **Lock/stall retry** (\`services/worker/src/worker.ts\`). Each job holds a BullMQ lock of \`--lock-ms\`, renewed every
  half period while the worker lives (gradient work is short and awaits, so a busy worker never loses it). A SIGKILLed
  worker stops renewing; after about one lock period another worker's stall check moves the job back to waiting and it
  runs elsewhere. The coordinator also checks missing blocks after \`--check-after-ms\` without progress and re-adds
  any whose job failed for good or vanished, at the head of the queue. A worker holding a job of the next step (queued
  early) hands it back after a second if that step has not opened, so the blocks the current step still needs run.
- **Re-seeding** (\`services/coordinator/src/queue-source.ts\`). Every client uses \`maxRetriesPerRequest: null\`, so
  commands wait across reconnects. When a Redis comes back empty, the coordinator finds the run's \`meta\`/\`train\`
  keys gone (or an accepted gradient vanished), puts the run back from its own memory (which is newer than any
  checkpoint), and redoes the current step; workers reconnect on their own and their caches refill from Redis.
- **Checkpoint retry/backoff** (\`packages/checkpoint/src/writer.ts\`). Checkpoints upload in the background: training
  never waits for storage. A failed upload is retried with exponential backoff (\`CHECKPOINT_RETRY_*\`), resuming with
  the files not yet stored; a newer checkpoint supersedes a failing older one; the manifest goes up after every other
  file and \`latest\` after the manifest, so readers never trust a half-written checkpoint. \`--resume <run-id>\`
  loads the latest checkpoint whose manifest verifies and continues bit-identically.
- **Straggler deadline** (\`--shard-deadline-ms\`). A block whose job has been active longer than the deadline (counted
  from when its step opened) is added again under a new attempt number, so another worker computes it; whichever
  result reaches the submit script first wins, the other lands as duplicate or stale. The straggler scenario makes one
  worker slow with the test-only \`GRADQ_TEST_SLOW_MS\` variable (\`services/worker/src/cli/worker.ts\`): the worker
  awaits that long before each submit, keeping its lock, exactly like a slow machine.
- **Standby** (\`packages/protocol/src/standby.ts\`). When a step has fewer jobs than there are workers, the
  coordinator names the workers it prefers and the others stop taking jobs. A worker whose job went past the deadline
  is not preferred for a minute, a step without a result for the plan's wait opens it to every worker, and a job that
  does not move from the head of the queue for that long brings the idle workers back: a dead or slow preferred
  worker costs about that wait, and the straggler no longer sets the pace of the run. Plans only choose who takes
  jobs; what is computed and accepted does not depend on them.
- **One coordinator per run** (\`packages/protocol/src/lease.ts\`). The coordinator holds a lease on its run (a key
  with a 6 s TTL, renewed every 2 s by a script that also takes it back after Redis lost it). Another coordinator
  on the same run id waits up to 12 s for it to lapse (a SIGKILLed coordinator's resume waits out its lease), then
  exits 2 naming the owner; an owner that finds its lease taken stops without saving. The lease is also the fencing
  token (\`packages/protocol/src/fence.ts\`): opening and closing a step and the done sets are written by one script that
  checks the lease names the writer, and parameters are written under the session's name, so an owner frozen past
  its lease and thawed after a takeover stops at its first such write without touching its successor's run (scenario
  "second coordinator").
- **Ctrl-C** (\`services/coordinator/src/coordinator.ts\`). A stopped run saves a checkpoint where it stands (the
  trainer stops between steps) and prints how to resume; \`services/coordinator/test/interrupt.test.ts\` stops
  \`pnpm start\` with SIGINT and resumes it to the undisturbed bits.
- **Refused credentials are final** (\`packages/protocol/src/redis.ts\`). Every other Redis error is retried (a
  restart, a failover), but WRONGPASS or NOAUTH cannot heal: the connection stops and the command exits 2 naming the
  redacted \`REDIS_URL\` (a worker used to retry forever). \`runMain\` prints any error, thrown or unhandled, as its
  message alone with URL passwords redacted: ioredis's errors carry the failed command, an AUTH's password included.
  \`packages/faults/test/security.test.ts\` runs every command with a wrong Redis password and S3 secret key and finds
  neither in any output.
- **Downloads cannot escape** (\`packages/checkpoint/src/download.ts\`). \`ckpt download --out DIR\` takes a new or empty
  directory only; every file, the manifest too, is written afresh in a staging directory and renamed into place (a
  rename replaces a planted link instead of following it). The local store opens objects with \`O_NOFOLLOW\` after
  checking that no link lies below its root, so a link planted in a checkpoint is refused rather than served.

## Running it

\`\`\`sh
pnpm test:faults                 # all scenarios, prints the table (about 5-8 minutes on 2 cores)
pnpm test:faults --write-doc     # ... and rewrites docs/reliability.md
pnpm test:faults --quick         # one fault of each kind on a smaller run
pnpm test:faults --only straggler --seed 7
\`\`\`

Set \`GRADQ_TEST_VERBOSE=1\` to see every process's stderr live. \`TFJS_BACKEND\` picks the backend of every process
(default: cpu-native when its addon is built, else wasm); \`MNIST_DIR\` points at the four IDX files.
`;
}
