export { type AdamOptions, type AdamState, AdamStep } from './adam';
export {
  type AutoencoderOptions,
  createAutoencoder,
  DEFAULT_LAYER_SIZES,
  OUTPUT_ACTIVATIONS,
  type OutputActivation,
} from './autoencoder';
export { fromBytes, toBytes } from './codec';
export {
  bytesPerValue,
  decodeInto,
  decodeVector,
  encodeVector,
  quantize,
  WIRE_ENCODINGS,
  type WireEncoding,
} from './encoding';
export { type AdamUpdateFn, adamUpdateJs, FlatAdam, FlatAdamError, type FlatAdamOptions } from './flat-adam';
export { evaluateMse, reconstructionLoss, type ShardGradient, shardGradient } from './gradients';
export { type LayoutEntry, layoutOf, makeLayout, type ParamLayout } from './layout';
export * from './mnist/index';
export { type BoundModel, bindModel, getParams, type NamedTensor, setParams, splitByVariable } from './params';
export { scalePixels } from './pixels';
