export { type AdamUpdate, nativeAdamUpdate } from './adam';
export {
  ADDON_PATH,
  bestCoreType,
  DEFAULT_BLAS_THREADS,
  type LoadAddonOptions,
  loadAddon,
  loadAddonIfBuilt,
  type NativeAddon,
  type NativeEngineHandle,
  NativeKernelsConfigError,
  NativeKernelsUnavailableError,
} from './addon';
export { NATIVE_BACKEND_NAME, NATIVE_KERNELS, type RegisteredNativeBackend, registerNativeBackend } from './backend';
