import * as tf from '@tensorflow/tfjs';
import { type LoadAddonOptions, loadAddon, type NativeAddon } from './addon';
import type { NativeKernelFactory } from './kernels/common';
import { ELEMENTWISE_KERNELS } from './kernels/elementwise';
import { MATMUL_KERNELS } from './kernels/matmul';
import { REDUCE_KERNELS } from './kernels/reduce';
import { NativeCpuBackend } from './native-backend';

export const NATIVE_BACKEND_NAME = 'cpu-native';

/** Every kernel cpu-native replaces, by tfjs kernel name. */
export const NATIVE_KERNELS: Readonly<Record<string, NativeKernelFactory>> = {
  ...MATMUL_KERNELS,
  ...ELEMENTWISE_KERNELS,
  ...REDUCE_KERNELS,
};

export interface RegisteredNativeBackend {
  readonly addon: NativeAddon;
  /** Kernel names served natively (with the stock kernel as fallback). */
  readonly kernels: readonly string[];
}

export interface RegisterNativeBackendOptions extends LoadAddonOptions {
  /** Default {@link NATIVE_BACKEND_NAME}; another name registers a second instance (tests compare pool settings). */
  name?: string;
  /** Bytes of disposed kernel outputs kept for reuse; 0 turns recycling off. Default 256 MiB. */
  poolBytes?: number;
}

const registered = new Map<string, RegisteredNativeBackend>();

/**
 * Registers the TensorFlow.js backend `cpu-native`: tfjs-backend-cpu with the kernels in {@link NATIVE_KERNELS}
 * replaced by the addon's. A separate backend rather than patched `cpu` kernels, so that the stock cpu backend stays
 * intact as the reference in the same process. Throws NativeKernelsUnavailableError when the addon is not built.
 * Activate it with `tf.setBackend('cpu-native')`.
 */
export function registerNativeBackend(options: RegisterNativeBackendOptions = {}): RegisteredNativeBackend {
  const addon = loadAddon(options);
  const name = options.name ?? NATIVE_BACKEND_NAME;
  const existing = registered.get(name);
  if (existing) return existing;
  tf.registerBackend(
    name,
    () => new NativeCpuBackend({ poolBytes: options.poolBytes }),
    // Below cpu: never picked implicitly, only by name.
    0,
  );
  const kernels: string[] = [];
  for (const config of tf.getKernelsForBackend('cpu')) {
    const factory = NATIVE_KERNELS[config.kernelName];
    const kernelFunc = factory ? factory(config.kernelFunc, addon) : config.kernelFunc;
    if (factory) kernels.push(config.kernelName);
    tf.registerKernel({ ...config, backendName: name, kernelFunc });
  }
  const result = { addon, kernels };
  registered.set(name, result);
  return result;
}
