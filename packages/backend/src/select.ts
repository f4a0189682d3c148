import * as tf from '@tensorflow/tfjs';

/**
 * Backends gradq can run on, fastest first. GPUs are not a tfjs backend here: workers compute on them through the
 * CUDA engine (@gradq/engine): TensorFlow.js's GPU binding for Node needed a deprecated CUDA and cuDNN and ran on
 * the CPU, silently, without them (issue 12).
 */
export const BACKENDS = ['tensorflow', 'cpu-native', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];
export type BackendRequest = BackendName | 'auto';

export class BackendError extends Error {
  override readonly name = 'BackendError';
}

/** TFJS_BACKEND names no backend: a usage error (the CLIs exit 2), unlike a backend that fails to load. */
export class BackendConfigError extends Error {
  override readonly name = 'BackendConfigError';
}

export interface SelectedBackend {
  readonly name: BackendName;
  /** Why faster backends were passed over, e.g. "tensorflow: Cannot find module '@tensorflow/tfjs-node'". */
  readonly skipped: readonly string[];
}

export interface SelectBackendOptions {
  /** Default: `TFJS_BACKEND` from the environment, else `auto`. */
  request?: string;
  /** Receives the one line naming the chosen backend. Default: stderr. */
  log?: (line: string) => void;
}

/** Native TensorFlow bindings; any failure to load them (missing package, missing libtensorflow, wrong glibc...) is a reason to fall back, never a crash. */
async function loadNative(): Promise<void> {
  // The specifier is a variable so that bundlers and type-checkers do not require the optional package.
  const specifier = '@tensorflow/tfjs-node';
  await import(specifier);
  if (!(await tf.setBackend('tensorflow'))) throw new Error('the tensorflow backend did not initialise');
}

/**
 * tfjs-backend-cpu with OpenBLAS GEMMs and C kernels (@gradq/native-kernels), for where tfjs-node cannot install;
 * unavailable when its addon was not built at install (no compiler or no libopenblas-dev).
 */
async function loadCpuNative(): Promise<void> {
  const { registerNativeBackend, NATIVE_BACKEND_NAME } = await import('@gradq/native-kernels');
  registerNativeBackend();
  if (!(await tf.setBackend(NATIVE_BACKEND_NAME))) throw new Error('the cpu-native backend did not initialise');
}

async function loadWasm(): Promise<void> {
  await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend did not initialise');
}

async function loadCpu(): Promise<void> {
  if (!(await tf.setBackend('cpu'))) throw new Error('the cpu backend did not initialise');
}

const LOADERS: Record<BackendName, () => Promise<void>> = {
  tensorflow: loadNative,
  'cpu-native': loadCpuNative,
  wasm: loadWasm,
  cpu: loadCpu,
};

let selected: Promise<SelectedBackend> | undefined;

/**
 * Chooses and initialises the TensorFlow.js backend once per process. `auto` tries tfjs-node, then cpu-native, then
 * wasm, then cpu;
 * a named backend must load or this throws. Entry points call this before creating any model.
 */
export function selectBackend(options: SelectBackendOptions = {}): Promise<SelectedBackend> {
  selected ??= choose(options);
  return selected;
}

async function choose({
  request = process.env.TFJS_BACKEND || 'auto',
  log = (l) => process.stderr.write(`${l}\n`),
}: SelectBackendOptions): Promise<SelectedBackend> {
  if (request !== 'auto' && !(BACKENDS as readonly string[]).includes(request)) {
    throw new BackendConfigError(`TFJS_BACKEND must be one of auto, ${BACKENDS.join(', ')}; got '${request}'`);
  }
  const candidates: BackendName[] =
    request === 'auto' ? ['tensorflow', 'cpu-native', 'wasm', 'cpu'] : [request as BackendName];
  const skipped: string[] = [];
  for (const name of candidates) {
    try {
      await LOADERS[name]();
      await tf.ready();
      // No "gradq: " prefix: services prefix their lines already ("worker local-1: gradq: ..." read twice).
      log(`TensorFlow.js backend ${name}${skipped.length ? ` (skipped ${skipped.join('; ')})` : ''}`);
      return { name, skipped };
    } catch (err) {
      skipped.push(`${name}: ${firstLine(err)}`);
    }
  }
  throw new BackendError(`no TensorFlow.js backend could be loaded: ${skipped.join('; ')}`);
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  // "Cannot find package '/abs/path/node_modules/@tensorflow/tfjs-node/index.js' imported from /abs/..." says less
  // than the package's name.
  const missing = /Cannot find (?:package|module) '[^']*node_modules\/((?:@[^/']+\/)?[^/']+)/.exec(message);
  if (missing) return `${missing[1]} is not installed`;
  return message.split('\n')[0] ?? message;
}
