"""PyTorch reference for the single-process baseline: same model, loss, optimizer, batch and data.

    /usr/bin/python3 bench/torch_baseline.py --data-dir ../../../shared/mnist [--threads N]
"""
import argparse
import gzip
import struct
import time
from pathlib import Path

import numpy as np
import torch


def load_images(path: Path, limit: int) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        magic, count, rows, cols = struct.unpack(">IIII", f.read(16))
        assert magic == 2051, f"{path}: bad magic {magic}"
        pixels = np.frombuffer(f.read(), dtype=np.uint8).reshape(count, rows * cols)
    return pixels[:limit].astype(np.float32) / 255.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--limit", type=int, default=8192)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="0: torch's default")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.from_numpy(load_images(Path(args.data_dir) / "train-images-idx3-ubyte.gz", args.limit))
    sizes = [784, 392, 196, 392, 784]
    layers = []
    for i in range(1, len(sizes)):
        layers += [torch.nn.Linear(sizes[i - 1], sizes[i]), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.MSELoss()
    rates = []
    for epoch in range(args.epochs):
        order = torch.randperm(x.shape[0])
        start = time.perf_counter()
        for s in range(0, x.shape[0], args.batch_size):
            batch = x[order[s : s + args.batch_size]]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(batch), batch)
            loss.backward()
            opt.step()
        seconds = time.perf_counter() - start
        rates.append(x.shape[0] / seconds)
        print(f"epoch {epoch + 1}: {rates[-1]:.0f} samples/s, loss {loss.item():.5f}, threads {torch.get_num_threads()}")
    print(f"best {max(rates):.0f} samples/s")


if __name__ == "__main__":
    main()
