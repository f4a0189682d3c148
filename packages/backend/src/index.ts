export { type SelectedBackend, selectBackend } from './select';
