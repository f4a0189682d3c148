export { nativeAdamUpdate } from './adam';
export {
  ADDON_PATH,
  bestCoreType,
  type LoadAddonOptions,
  loadAddon,
  loadAddonIfBuilt,
  type NativeAddon,
  type NativeEngineHandle,
} from './addon';
export { NATIVE_BACKEND_NAME, registerNativeBackend } from './backend';
export { paramsHash, paramsHashJs } from './params-hash';
