/**
 * A checkpoint as an ONNX model (opset 13, IR version 7): input `pixels` float32 [N, 784] (pixels / 255), output
 * `reconstruction` [N, 784]; per layer one Gemm (weights [out, in], transB = 1, named as in PyTorch) and its
 * activation. Encoded with protobufjs from the subset of onnx/onnx.proto3 below (field numbers as upstream).
 */
import protobuf from 'protobufjs';
import type { CheckpointContent } from '../content';
import { exportedLayers } from './tensors';

export const ONNX_OPSET = 13;
const IR_VERSION = 7;
const FLOAT = 1; // TensorProto.DataType.FLOAT
const ATTRIBUTE_INT = 2; // AttributeProto.AttributeType.INT

// onnx/onnx.proto3 (the messages and fields this export writes, numbered as upstream).
const ONNX_SUBSET = {
  nested: {
    onnx: {
      nested: {
        ModelProto: {
          fields: {
            irVersion: { type: 'int64', id: 1 },
            opsetImport: { rule: 'repeated', type: 'OperatorSetIdProto', id: 8 },
            producerName: { type: 'string', id: 2 },
            producerVersion: { type: 'string', id: 3 },
            docString: { type: 'string', id: 6 },
            graph: { type: 'GraphProto', id: 7 },
            metadataProps: { rule: 'repeated', type: 'StringStringEntryProto', id: 14 },
          },
        },
        OperatorSetIdProto: { fields: { domain: { type: 'string', id: 1 }, version: { type: 'int64', id: 2 } } },
        StringStringEntryProto: { fields: { key: { type: 'string', id: 1 }, value: { type: 'string', id: 2 } } },
        GraphProto: {
          fields: {
            node: { rule: 'repeated', type: 'NodeProto', id: 1 },
            name: { type: 'string', id: 2 },
            initializer: { rule: 'repeated', type: 'TensorProto', id: 5 },
            input: { rule: 'repeated', type: 'ValueInfoProto', id: 11 },
            output: { rule: 'repeated', type: 'ValueInfoProto', id: 12 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: 'repeated', type: 'string', id: 1 },
            output: { rule: 'repeated', type: 'string', id: 2 },
            name: { type: 'string', id: 3 },
            opType: { type: 'string', id: 4 },
            attribute: { rule: 'repeated', type: 'AttributeProto', id: 5 },
          },
        },
        AttributeProto: {
          fields: {
            name: { type: 'string', id: 1 },
            i: { type: 'int64', id: 3 },
            type: { type: 'int32', id: 20 },
          },
        },
        TensorProto: {
          fields: {
            dims: { rule: 'repeated', type: 'int64', id: 1 },
            dataType: { type: 'int32', id: 2 },
            name: { type: 'string', id: 8 },
            rawData: { type: 'bytes', id: 9 },
          },
        },
        ValueInfoProto: { fields: { name: { type: 'string', id: 1 }, type: { type: 'TypeProto', id: 2 } } },
        TypeProto: {
          fields: { tensorType: { type: 'TypeProtoTensor', id: 1 } },
        },
        TypeProtoTensor: {
          fields: { elemType: { type: 'int32', id: 1 }, shape: { type: 'TensorShapeProto', id: 2 } },
        },
        TensorShapeProto: { fields: { dim: { rule: 'repeated', type: 'Dimension', id: 1 } } },
        Dimension: { fields: { dimValue: { type: 'int64', id: 1 }, dimParam: { type: 'string', id: 2 } } },
      },
    },
  },
};

const ModelProto = protobuf.Root.fromJSON(ONNX_SUBSET).lookupType('onnx.ModelProto');

const ACTIVATION_OP = { relu: 'Relu', sigmoid: 'Sigmoid', linear: undefined } as const;

export function toOnnx(content: Pick<CheckpointContent, 'hyperparams' | 'params' | 'runId' | 'step'>): Uint8Array {
  const layers = exportedLayers(content);
  const nodes: object[] = [];
  const initializer: object[] = [];
  const tensor = (name: string, dims: number[], data: Float32Array) => ({
    name,
    dims,
    dataType: FLOAT,
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  });
  let current = 'pixels';
  for (const [i, layer] of layers.entries()) {
    const last = i === layers.length - 1;
    initializer.push(tensor(`${layer.name}.weight`, [layer.outputs, layer.inputs], layer.weight));
    initializer.push(tensor(`${layer.name}.bias`, [layer.outputs], layer.bias));
    const op = ACTIVATION_OP[layer.activation];
    const gemmOut = last && !op ? 'reconstruction' : `${layer.name}.linear`;
    nodes.push({
      name: `${layer.name}.gemm`,
      opType: 'Gemm',
      input: [current, `${layer.name}.weight`, `${layer.name}.bias`],
      output: [gemmOut],
      attribute: [{ name: 'transB', type: ATTRIBUTE_INT, i: 1 }],
    });
    current = gemmOut;
    if (op) {
      const out = last ? 'reconstruction' : `${layer.name}.out`;
      nodes.push({ name: `${layer.name}.${op.toLowerCase()}`, opType: op, input: [current], output: [out] });
      current = out;
    }
  }
  const value = (name: string, width: number) => ({
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: width }] } } },
  });
  const sizes = content.hyperparams.layerSizes;
  const model = ModelProto.fromObject({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'gradq',
    docString: `gradq run ${content.runId} step ${content.step}: dense autoencoder ${sizes.join('-')}; input pixels / 255`,
    metadataProps: [
      { key: 'gradq_run_id', value: content.runId },
      { key: 'gradq_step', value: String(content.step) },
    ],
    graph: {
      name: 'gradq_autoencoder',
      node: nodes,
      initializer,
      input: [value('pixels', sizes[0] as number)],
      output: [value('reconstruction', sizes.at(-1) as number)],
    },
  });
  return ModelProto.encode(model).finish();
}
