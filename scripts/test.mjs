#!/usr/bin/env node
// Runs node's built-in test runner over TypeScript tests (through tsx): unit tests beside the source
// (`src/**/*.test.ts`) and integration tests on real services (`test/**/*.test.ts`).
//   pnpm test                 everything
//   pnpm test --unit          unit tests only (no services needed)
//   pnpm test path/to/dir ... only tests under these paths
//   pnpm test --docker        only the Docker tests (`*.docker.test.ts`: build the images, run the compose stack;
//                             root, 8 GB of free disk, 9-16 min), which `pnpm test` leaves out; `pnpm test:docker`
import { spawnSync } from 'node:child_process';
import { lstatSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  console.log(`Usage: pnpm test [--unit | --docker] [path ...]

  pnpm test                 every test: unit tests and integration tests on real services
  pnpm test --unit          unit tests only (src/**/*.test.ts; no services needed)
  pnpm test path/to/dir ... only tests under these paths
  pnpm test --docker        only the Docker tests (*.docker.test.ts), which the others leave out: they build the
                            images and run the compose stack on a private Docker daemon (root, 8 GB free, 9-16 min)

Environment: TEST_CONCURRENCY (default 2), MNIST_DIR (the four MNIST .gz files), GRADQ_TEST_VERBOSE=1 (the
services' output live), GRADQ_REQUIRE_NATIVE=1 / GRADQ_REQUIRE_TOOLS=1 (a missing native addon or tool fails its
tests instead of skipping them; .ci/run sets both).`);
  process.exit(0);
}
const unknown = args.filter((a) => a.startsWith('-') && a !== '--unit' && a !== '--docker');
if (unknown.length) {
  console.error(`unknown option ${unknown.join(', ')} (pnpm test --help)`);
  process.exit(2);
}
const unitOnly = args.includes('--unit');
const dockerOnly = args.includes('--docker');
const roots = args.filter((a) => !a.startsWith('--'));

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    // Symbolic links are not followed: they lead out of the workspace, or nowhere (a dangling one threw here).
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) continue;
    if (stat.isDirectory()) walk(path, out);
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

let files = ['packages', 'services'].flatMap((d) => walk(join(root, d), []));
files = files.filter((f) => f.endsWith('.docker.test.ts') === dockerOnly);
if (unitOnly) files = files.filter((f) => relative(root, f).split('/')[2] === 'src');
if (roots.length) files = files.filter((f) => roots.some((r) => f.startsWith(join(process.cwd(), r))));
files.sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  { stdio: 'inherit', cwd: root },
);
process.exit(result.status ?? 1);
