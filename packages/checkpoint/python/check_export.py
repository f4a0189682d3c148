"""Test driver for `pnpm ckpt export` (packages/checkpoint/test/export.test.ts).

    check_export.py MODEL.safetensors MODEL.onnx MNIST_DIR

Loads the safetensors weights into the PyTorch Autoencoder (strict: every name and shape must match), runs the
10,000 test digits through it, checks the ONNX model with onnx.checker, and runs its graph node by node in numpy
(Debian's onnx 1.12 has no reference evaluator; the export uses Gemm, Relu and Sigmoid only). Prints one JSON line:
the test MSE of each, and the safetensors metadata.
"""
import gzip
import json
import struct
import sys

import numpy as np
import onnx
from onnx import numpy_helper
import torch

from gradq_autoencoder import Autoencoder


def read_safetensors(path):
    # The format, read by hand: Debian has no python3-safetensors (users: safetensors.torch.load_file).
    with open(path, "rb") as f:
        blob = f.read()
    (length,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + length])
    metadata = header.pop("__metadata__", {})
    data = blob[8 + length :]
    tensors = {}
    for name, spec in header.items():
        assert spec["dtype"] == "F32", spec
        start, end = spec["data_offsets"]
        array = np.frombuffer(data[start:end], dtype="<f4").reshape(spec["shape"])
        tensors[name] = torch.from_numpy(array.copy())
    return tensors, metadata


def test_digits(mnist_dir):
    with gzip.open(f"{mnist_dir}/t10k-images-idx3-ubyte.gz", "rb") as f:
        raw = f.read()
    count = struct.unpack(">I", raw[4:8])[0]
    pixels = np.frombuffer(raw[16:], dtype=np.uint8).reshape(count, 784)
    return pixels.astype(np.float32) / np.float32(255)


def run_onnx(proto, pixels):
    values = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    values[proto.graph.input[0].name] = pixels
    for node in proto.graph.node:
        x = [values[name] for name in node.input]
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "Gemm":
            b = x[1].T if attrs.get("transB", 0) else x[1]
            a = x[0].T if attrs.get("transA", 0) else x[0]
            y = attrs.get("alpha", 1.0) * (a @ b) + attrs.get("beta", 1.0) * x[2]
        elif node.op_type == "Relu":
            y = np.maximum(x[0], 0)
        elif node.op_type == "Sigmoid":
            y = 1 / (1 + np.exp(-x[0]))
        else:
            raise ValueError(f"unexpected op {node.op_type}")
        values[node.output[0]] = y.astype(np.float32)
    return values[proto.graph.output[0].name]


def mse(a, b):
    return float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))


def main(safetensors_path, onnx_path, mnist_dir):
    inputs = test_digits(mnist_dir)
    tensors, metadata = read_safetensors(safetensors_path)
    sizes = [int(s) for s in metadata["gradq_layers"].split(",")]
    model = Autoencoder(sizes, metadata["gradq_output_activation"])
    model.load_state_dict(tensors, strict=True)
    with torch.no_grad():
        torch_out = model(torch.from_numpy(inputs)).numpy()

    proto = onnx.load(onnx_path)
    onnx.checker.check_model(proto, full_check=True)
    onnx_out = run_onnx(proto, inputs)
    print(
        json.dumps(
            {
                "torch_mse": mse(torch_out, inputs),
                "onnx_numpy_mse": mse(onnx_out, inputs),
                "onnx_opset": proto.opset_import[0].version,
                "metadata": metadata,
                "state_dict": {k: list(v.shape) for k, v in tensors.items()},
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
