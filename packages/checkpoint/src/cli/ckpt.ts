#!/usr/bin/env -S node --import tsx
// pnpm ckpt: list, download, inspect, delete and preview checkpoints, in the store the services use
// (S3 when S3_BUCKET is set, else CHECKPOINT_DIR). Exit codes: 0 ok, 1 failure, 2 usage error or unknown run/step.
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { loadCheckpointConfig } from '../config';
import { downloadCheckpoint } from '../download';
import {
  CheckpointConfigError,
  CheckpointNotFoundError,
  DownloadTargetError,
  type UnsafeKeyError,
} from '../errors/index';
import { toOnnx } from '../export/onnx';
import { toSafetensors } from '../export/safetensors';
import type { LoadedCheckpoint } from '../files/decode';
import { CHECKPOINT_FILES, checkpointFileKey, parseStep, runPrefix } from '../keys';
import { manifestEntry, verifyFile } from '../manifest';
import { listCheckpoints, listRuns, readCheckpoint, readLatestStep, readManifest } from '../reader';
import { createStore, type ObjectStore, S3Store } from '../store/index';
import { formatBytes, table } from './format';
import { removeCheckpoint, removeRun } from './remove';

const HELP = `Usage: pnpm ckpt <command> [arguments]

Commands:
  list [run]                                 runs; or a run's checkpoints with size, loss, test MSE, epoch-end flag
  download <run> [step|latest] --out DIR     download and verify every sha256 (default step: latest); DIR new or empty
  inspect <run> [step|latest]                config, metrics and position of a verified checkpoint
  rm <run> [step]                            delete one checkpoint; the whole run only with --yes
  preview <run> [step|latest] --out FILE.png save the digits-over-reconstructions preview
  create-bucket                              create S3_BUCKET unless it exists (what docker compose's createbuckets runs)
  export <run> [step|latest] --format safetensors|onnx --out FILE
                                             the model for PyTorch (safetensors, PyTorch names and [out, in]
                                             weights) or any ONNX runtime (opset 13); input pixels / 255

The store comes from the environment, as for the services:
  S3_BUCKET, S3_ENDPOINT, S3_REGION, S3_PREFIX, S3_FORCE_PATH_STYLE   (AWS credentials from the SDK's default chain)
  CHECKPOINT_DIR (default checkpoints) when S3_BUCKET is unset

Exit codes: 0 success, 1 failure (including a checkpoint that fails verification), 2 usage error or unknown run/step.`;

class UsageError extends Error {
  override readonly name = 'UsageError';
}

interface Args {
  readonly command: string | undefined;
  readonly positional: readonly string[];
  readonly out: string | undefined;
  readonly format: string | undefined;
  readonly yes: boolean;
  readonly help: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const positional: string[] = [];
  let out: string | undefined;
  let format: string | undefined;
  let help = false;
  let yes = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--help' || a === '-h') help = true;
    else if (a === '--yes' || a === '-y') yes = true;
    else if (a === '--out' || a === '-o') {
      out = argv[++i];
      if (out === undefined) throw new UsageError(`${a} needs a path`);
    } else if (a.startsWith('--out=')) out = a.slice('--out='.length);
    else if (a === '--format') {
      format = argv[++i];
      if (format === undefined) throw new UsageError(`${a} needs safetensors or onnx`);
    } else if (a.startsWith('--format=')) format = a.slice('--format='.length);
    else if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
    else positional.push(a);
  }
  const [command, ...rest] = positional;
  return { command, positional: rest, out, format, yes, help };
}

async function main(argv: readonly string[], print: (line: string) => void): Promise<void> {
  const args = parseArgs(argv);
  if (args.help || !args.command) {
    print(HELP);
    if (!args.help) throw new UsageError('no command given');
    return;
  }
  const [run, stepArg, ...extra] = args.positional;
  const maxPositional: Record<string, number> = {
    list: 1,
    download: 2,
    inspect: 2,
    rm: 2,
    preview: 2,
    export: 2,
    'create-bucket': 0,
  };
  const max = maxPositional[args.command];
  if (max === undefined) throw new UsageError(`unknown command '${args.command}' (see --help)`);
  if (args.positional.length > max || extra.length) throw new UsageError(`too many arguments for ${args.command}`);
  if (args.command !== 'list' && args.command !== 'create-bucket' && !run)
    throw new UsageError(`${args.command} needs a run id`);
  if ((args.command === 'download' || args.command === 'preview' || args.command === 'export') && !args.out) {
    throw new UsageError(`${args.command} needs --out ${args.command === 'download' ? 'DIR' : 'FILE'}`);
  }
  if (args.command === 'export' && !EXPORTERS[args.format ?? '']) {
    throw new UsageError(
      `export needs --format safetensors or --format onnx${args.format ? `, not '${args.format}'` : ''}`,
    );
  }
  if (args.format !== undefined && args.command !== 'export') throw new UsageError('--format is for export only');
  let config: ReturnType<typeof loadCheckpointConfig>;
  try {
    config = loadCheckpointConfig(process.env);
  } catch (err) {
    if (err instanceof CheckpointConfigError)
      throw new UsageError(`invalid configuration:\n  ${err.message.replace(/\n/g, '\n  ')}`);
    throw err;
  }
  const store = createStore(config.store);
  try {
    switch (args.command) {
      case 'create-bucket':
        if (!(store instanceof S3Store)) {
          print(`S3_BUCKET is not set: checkpoints go to ${store.description}; no bucket to create`);
          return;
        }
        print(`${(await store.ensureBucket()) ? 'created the bucket' : 'the bucket exists'}: ${store.description}`);
        return;
      case 'list':
        return run ? await listSteps(store, run, print) : await listAllRuns(store, print);
      case 'download': {
        const step = await resolveStep(store, run as string, stepArg);
        const result = await downloadCheckpoint(store, run as string, step, args.out as string);
        print(
          `downloaded run ${run} step ${step} to ${result.dir} (${result.files.length} files, all sha256 verified)`,
        );
        print(
          `load it with: tf.loadLayersModel('file://${resolve(result.dir, CHECKPOINT_FILES.modelJson)}') (@tensorflow/tfjs-node); ` +
            'with @tensorflow/tfjs alone, tf.io.fromMemory (README: "Checkpoints and taking a model home"); ' +
            'for PyTorch or ONNX: pnpm ckpt export',
        );
        return;
      }
      case 'inspect':
        return await inspect(store, run as string, await resolveStep(store, run as string, stepArg), print);
      case 'rm':
        if (stepArg === undefined) {
          await assertRunExists(store, run as string);
          if (!args.yes) {
            const n = (await listCheckpoints(store, run as string)).length;
            throw new UsageError(
              `rm ${run} deletes the whole run (${n} checkpoint(s)); add --yes to do so, or name a step to delete one`,
            );
          }
          const n = await removeRun(store, run as string);
          print(`deleted run ${run} (${n} objects)`);
        } else {
          const step = await resolveStep(store, run as string, stepArg);
          const latest = await removeCheckpoint(store, run as string, step);
          print(`deleted run ${run} step ${step}; latest is now ${latest ?? 'unset (no complete checkpoint left)'}`);
        }
        return;
      case 'export': {
        const step = await resolveStep(store, run as string, stepArg);
        // readCheckpoint verifies every file against the manifest first, as download does.
        const content = await readCheckpoint(store, run as string, step);
        const format = args.format as keyof typeof EXPORTERS;
        const out = await writeNew(args.out as string, (EXPORTERS[format] as Exporter)(content));
        print(`wrote ${out} (${format}: run ${run} step ${step}, layers ${content.hyperparams.layerSizes.join('-')})`);
        print(
          format === 'onnx'
            ? 'input "pixels": float32 [N, 784] = pixels / 255; output "reconstruction" [N, 784]'
            : 'PyTorch: model.load_state_dict(safetensors.torch.load_file(path)); input pixels / 255 (README: "Use the model in PyTorch")',
        );
        return;
      }
      case 'preview': {
        const step = await resolveStep(store, run as string, stepArg);
        const manifest = await readManifest(store, run as string, step);
        if (!manifest.files.some((f) => f.name === CHECKPOINT_FILES.preview)) {
          throw new Error(`run ${run} step ${step} has no preview.png (saved without preview digits)`);
        }
        const bytes = await store.get(checkpointFileKey(run as string, step, CHECKPOINT_FILES.preview));
        verifyFile(manifestEntry(manifest, CHECKPOINT_FILES.preview), bytes);
        const out = resolve(args.out as string);
        await mkdir(dirname(out), { recursive: true });
        await writeFile(out, bytes);
        print(`wrote ${out} (top rows: test digits; below each: reconstructions at step ${step})`);
        return;
      }
    }
  } finally {
    await store.close();
  }
}

type Exporter = (content: LoadedCheckpoint) => Uint8Array;
const EXPORTERS: Record<string, Exporter> = {
  safetensors: toSafetensors,
  onnx: toOnnx,
};

/**
 * Writes `bytes` to a path that must not exist yet, through a temporary file renamed into place: an existing model is
 * never overwritten, and a failed write leaves nothing half-written.
 */
async function writeNew(path: string, bytes: Uint8Array): Promise<string> {
  const out = resolve(path);
  if (
    await stat(out).then(
      () => true,
      () => false,
    )
  )
    throw new UsageError(`--out ${out} exists; choose a new path (nothing is overwritten)`);
  await mkdir(dirname(out), { recursive: true });
  const temp = `${out}.${process.pid}.partial`;
  try {
    await writeFile(temp, bytes, { flag: 'wx' });
    await rename(temp, out);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  return out;
}

async function assertRunExists(store: ObjectStore, run: string): Promise<void> {
  try {
    runPrefix(run);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if ((await store.list(runPrefix(run))).length === 0) {
    throw new UsageError(`unknown run '${run}' in ${store.description} (pnpm ckpt list shows the runs)`);
  }
}

/** `latest`/omitted: the step `latest` names; otherwise a step that must exist. */
async function resolveStep(store: ObjectStore, run: string, arg: string | undefined): Promise<number> {
  await assertRunExists(store, run);
  const steps = await listCheckpoints(store, run);
  if (arg === undefined || arg === 'latest') {
    const latest = await readLatestStep(store, run);
    if (latest === undefined)
      throw new UsageError(`run '${run}' has no latest checkpoint; name a step (pnpm ckpt list ${run})`);
    return latest;
  }
  let step: number;
  try {
    step = parseStep(arg);
  } catch (err) {
    throw new UsageError((err as UnsafeKeyError).message);
  }
  if (!steps.some((s) => s.step === step)) {
    throw new UsageError(
      `unknown step ${step} in run '${run}' (steps: ${steps.map((s) => s.step).join(', ') || 'none'})`,
    );
  }
  return step;
}

async function listAllRuns(store: ObjectStore, print: (line: string) => void): Promise<void> {
  const runs = await listRuns(store);
  if (runs.length === 0) {
    print(`no runs in ${store.description}`);
    return;
  }
  const rows = [['RUN', 'CHECKPOINTS', 'LATEST', 'SIZE']];
  for (const run of runs) {
    const steps = await listCheckpoints(store, run);
    const latest = await readLatestStep(store, run).catch(() => undefined);
    const bytes = steps.reduce((s, c) => s + c.bytes, 0);
    rows.push([
      run,
      String(steps.filter((s) => s.complete).length),
      latest === undefined ? '-' : String(latest),
      formatBytes(bytes),
    ]);
  }
  print(table(rows));
}

async function listSteps(store: ObjectStore, run: string, print: (line: string) => void): Promise<void> {
  await assertRunExists(store, run);
  const latest = await readLatestStep(store, run).catch(() => undefined);
  const rows = [['STEP', 'EPOCH', 'EPOCH-END', 'SIZE', 'LOSS', 'TEST MSE', 'STATUS']];
  for (const c of await listCheckpoints(store, run)) {
    let epoch = '-';
    let epochEnd = '-';
    let loss = '-';
    let testMse = '-';
    let status = c.complete ? 'complete' : 'incomplete';
    if (c.complete) {
      try {
        // trainer.json is small; checked against the manifest so that a listing never shows forged metrics.
        const manifest = await readManifest(store, run, c.step);
        const bytes = await store.get(checkpointFileKey(run, c.step, CHECKPOINT_FILES.trainer));
        verifyFile(manifestEntry(manifest, CHECKPOINT_FILES.trainer), bytes);
        const t = JSON.parse(new TextDecoder().decode(bytes)) as {
          position: { epoch: number };
          metrics: { loss?: number | null; testMse?: number | null };
        };
        // 1-based, as the progress bar counts: the epoch a mid-epoch checkpoint is in, or the one it ends.
        epoch = String(manifest.epochEnd ? t.position.epoch : t.position.epoch + 1);
        epochEnd = manifest.epochEnd ? 'yes' : 'no';
        loss = formatMetric(t.metrics.loss);
        testMse = formatMetric(t.metrics.testMse);
      } catch (err) {
        status = `invalid: ${(err as Error).message}`;
      }
    }
    if (c.step === latest) status += ' (latest)';
    rows.push([String(c.step), epoch, epochEnd, formatBytes(c.bytes), loss, testMse, status]);
  }
  print(table(rows));
}

async function inspect(store: ObjectStore, run: string, step: number, print: (line: string) => void): Promise<void> {
  const c = await readCheckpoint(store, run, step);
  const summary = {
    runId: c.runId,
    step: c.step,
    epochEnd: c.epochEnd,
    createdAt: c.createdAt,
    backend: c.backend,
    metrics: c.metrics,
    position: c.position,
    rngState: c.rngState,
    hyperparams: c.hyperparams,
    layoutFingerprint: c.layoutFingerprint,
    parameters: c.params.length,
    adamIterations: c.adam.iterations,
    files: c.manifest.files.map((f) => `${f.name} ${formatBytes(f.size)} sha256:${f.sha256.slice(0, 16)}…`),
    verified: true,
  };
  print(JSON.stringify(summary, null, 2));
}

function formatMetric(v: number | null | undefined): string {
  if (v === undefined) return '-';
  if (v === null) return 'NaN';
  return v.toPrecision(6);
}

const isUsage = (err: unknown) =>
  err instanceof UsageError ||
  err instanceof CheckpointNotFoundError ||
  err instanceof DownloadTargetError ||
  (err as Error)?.name === 'UsageError';

main(process.argv.slice(2), (line) => process.stdout.write(`${line}\n`)).then(
  () => process.exit(0),
  (err: unknown) => {
    const e = err as Error;
    process.stderr.write(`ckpt: ${e?.message ?? String(err)}\n`);
    if (process.env.GRADQ_DEBUG) process.stderr.write(`${e?.stack}\n`);
    process.exit(isUsage(err) ? 2 : 1);
  },
);
