import { type LoadAddonOptions, loadAddon } from './addon';

/**
 * One Adam step in place on flat float32 state, in float32 and in exactly the order of tf.train.adam's ops
 * (so bit-identical to it): m = m*b1 + g*(1-b1); v = v*b2 + g^2*(1-b2); p += (m/(1-accB1)) / (sqrt(v/(1-accB2)) + eps)
 * * -lr. `accBeta1`/`accBeta2` are beta^(t+1) as the optimizer accumulated them in float32.
 * The signature FlatAdam (@gradq/model) accepts as its native update.
 */
export type AdamUpdate = (
  params: Float32Array,
  m: Float32Array,
  v: Float32Array,
  grad: Float32Array,
  learningRate: number,
  beta1: number,
  beta2: number,
  epsilon: number,
  accBeta1: number,
  accBeta2: number,
) => void;

/** The native fused Adam update; throws NativeKernelsUnavailableError when the addon is not built. */
export function nativeAdamUpdate(options: LoadAddonOptions = {}): AdamUpdate {
  const addon = loadAddon(options);
  return (params, m, v, grad, learningRate, beta1, beta2, epsilon, accBeta1, accBeta2) =>
    addon.adamUpdate(params, m, v, grad, learningRate, beta1, beta2, epsilon, accBeta1, accBeta2);
}
