export {
  BACKENDS,
  BackendConfigError,
  BackendError,
  type BackendName,
  type BackendRequest,
  type SelectBackendOptions,
  type SelectedBackend,
  selectBackend,
} from './select';
