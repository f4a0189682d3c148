/**
 * The safetensors format (huggingface/safetensors, "Format"): an 8-byte little-endian header length, a JSON header
 * naming each tensor's dtype, shape and byte range, then the raw little-endian data. Written here in ~20 lines: the
 * npm packages that claim the name are stubs or pull a WASM build of the Rust crate, for a format this small.
 */
import type { CheckpointContent } from '../content';
import { exportedLayers } from './tensors';

/** PyTorch state-dict names (`encoder.weight` [392, 784], `encoder.bias` [392], ...) of a checkpoint, as safetensors. */
export function toSafetensors(
  content: Pick<CheckpointContent, 'hyperparams' | 'params' | 'runId' | 'step'>,
): Uint8Array {
  const tensors: { name: string; shape: number[]; data: Float32Array }[] = [];
  for (const layer of exportedLayers(content)) {
    tensors.push({ name: `${layer.name}.weight`, shape: [layer.outputs, layer.inputs], data: layer.weight });
    tensors.push({ name: `${layer.name}.bias`, shape: [layer.outputs], data: layer.bias });
  }
  const header: Record<string, unknown> = {
    // Metadata values must be strings.
    __metadata__: {
      format: 'pt',
      gradq_run_id: content.runId,
      gradq_step: String(content.step),
      gradq_layers: content.hyperparams.layerSizes.join(','),
      gradq_output_activation: content.hyperparams.outputActivation,
      gradq_input: 'pixels / 255, float32 [N, 784]',
    },
  };
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  // The data starts 8-byte aligned: the header is padded with spaces, as the reference implementation does.
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const t of tensors) {
    // Float32Array bytes are little-endian on every platform Node runs on (x64, arm64).
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}
