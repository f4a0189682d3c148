export { decodeCheckpoint, type LoadedCheckpoint } from './decode';
export {
  type EncodedCheckpoint,
  type EncodedFile,
  type EncodeOptions,
  encodeCheckpoint,
  previewDigitsFrom,
} from './encode';
export { decodeInnerFiles, encodeInnerFiles } from './inner-file';
export { decodeModelFiles, encodeModelFiles, type ModelFiles, withModel } from './model-artifacts';
export { decodeOptimizerFiles, encodeOptimizerFiles, type OptimizerJson } from './optimizer-file';
export { renderPreview } from './preview';
export { decodeTrainerJson, encodeTrainerJson, type TrainerJson } from './trainer-file';
