import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT, testBackend } from '@gradq/testing';
import { reliabilityDoc, terminalTable } from '../report';
import { runSuite, selectScenarios } from '../suite';

const USAGE = `Usage: pnpm test:faults [--quick] [--only <name>[,<name>]] [--seed <n>] [--write-doc]

Breaks a real training run in five ways (worker SIGKILLs, coordinator SIGKILL + --resume, Redis restarted empty,
S3 down during checkpoints, a straggler worker) and checks each against an undisturbed run of the same seed.
  --quick       one fault of each kind on a 16-step run (what pnpm test runs)
  --only        scenarios whose name contains any of these words
  --seed        seeds the moments faults are injected at (default 1)
  --write-doc   write the table and the mechanisms to docs/reliability.md`;

async function main(): Promise<number> {
  let values: { quick?: boolean; only?: string; seed?: string; 'write-doc'?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        quick: { type: 'boolean' },
        only: { type: 'string' },
        seed: { type: 'string' },
        'write-doc': { type: 'boolean' },
        help: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const seed = Number(values.seed ?? 1);
  if (!Number.isInteger(seed) || seed < 0) {
    process.stderr.write(`--seed: must be a non-negative integer, got '${values.seed}'\n`);
    return 2;
  }
  const only = values.only?.split(',');
  try {
    selectScenarios(only);
  } catch (err) {
    process.stderr.write(`--only: ${(err as Error).message}\n`);
    return 2;
  }
  // Every process of a comparison must compute on the same backend; children inherit this choice through cliEnv.
  process.env.TFJS_BACKEND = testBackend();
  const log = (line: string) => process.stderr.write(`${line}\n`);
  log(`fault suite on ${process.env.TFJS_BACKEND}${values.quick ? ' (quick)' : ''}, fault seed ${seed}`);
  const report = await runSuite({
    intensity: values.quick ? 'quick' : 'full',
    seed,
    ...(only ? { only } : {}),
    log,
    onResult: (r) =>
      log(`  -> ${r.ok ? 'pass' : 'FAIL'} in ${r.seconds.toFixed(0)} s${r.ok ? '' : `: ${r.problems.join('; ')}`}`),
  });
  process.stdout.write(`\n${terminalTable(report)}\n\nwhole suite ${report.seconds.toFixed(0)} s\n`);
  if (values['write-doc']) {
    const path = join(REPO_ROOT, 'docs/reliability.md');
    await writeFile(path, reliabilityDoc(report));
    log(`wrote ${path}`);
  }
  return [report.reference, ...report.results].every((r) => r.ok) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`test:faults: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
