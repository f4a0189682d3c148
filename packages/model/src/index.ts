export { type AdamState, AdamStep } from './adam';
export { createAutoencoder, DEFAULT_LAYER_SIZES, OUTPUT_ACTIVATIONS, type OutputActivation } from './autoencoder';
export { bytesPerValue, decodeInto, encodeVector, quantize, WIRE_ENCODINGS, type WireEncoding } from './encoding';
export { type AdamUpdateFn, adamUpdateJs, FlatAdam } from './flat-adam';
export { evaluateMse, evaluateMseYielding, shardGradient } from './gradients';
export { layoutOf, makeLayout, type ParamLayout } from './layout';
export { loadMnist, MNIST_FILES, MNIST_PIXELS, type Mnist, type MnistSplit, parseImages } from './mnist/index';
export { type BoundModel, bindModel, getParams, setParams } from './params';
export { scalePixels } from './pixels';
