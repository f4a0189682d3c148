export {
  CUDA_ADDON_PATH,
  CUDA_FATBIN_PATH,
  type CudaAddon,
  type CudaEngineHandle,
  type CudaLibraries,
  CudaUnavailableError,
  cudaLibraries,
  loadCudaAddon,
  readFatbin,
} from './addon';
