"""PyTorch reference for `pnpm bench`: the seed model (784-392-196-392-784 dense, ReLU), MSE, Adam lr 1e-3,
batch 128, timed over a fixed number of steps after warm-up. Prints one JSON line.

    /usr/bin/python3 packages/bench/python/torch_bench.py [--threads N] [--steps 60] [--warmup 5] [--data-dir DIR]

Real MNIST pixels when --data-dir holds train-images-idx3-ubyte.gz, else uniform random pixels (the speed of a
dense network does not depend on the values).
"""
import argparse
import gzip
import json
import struct
import time
from pathlib import Path

import torch


def load_images(data_dir: str, limit: int):
    path = Path(data_dir) / "train-images-idx3-ubyte.gz"
    if not data_dir or not path.exists():
        return torch.rand(limit, 784), "random"
    with gzip.open(path, "rb") as f:
        magic, count, rows, cols = struct.unpack(">IIII", f.read(16))
        if magic != 2051:
            raise SystemExit(f"{path}: bad magic {magic}")
        raw = f.read(min(count, limit) * rows * cols)
    x = torch.frombuffer(bytearray(raw), dtype=torch.uint8).reshape(-1, rows * cols)
    return x.to(torch.float32) / 255.0, "mnist"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=0, help="0: torch's default")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--data-dir", default="")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    x, source = load_images(args.data_dir, 16384)
    sizes = [784, 392, 196, 392, 784]
    layers = []
    for i in range(1, len(sizes)):
        layers += [torch.nn.Linear(sizes[i - 1], sizes[i]), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.MSELoss()
    order = torch.randperm(x.shape[0])
    per_epoch = x.shape[0] // args.batch_size

    def step(i: int) -> None:
        s = (i % per_epoch) * args.batch_size
        batch = x[order[s : s + args.batch_size]]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(batch), batch)
        loss.backward()
        opt.step()

    for i in range(args.warmup):
        step(i)
    start = time.perf_counter()
    for i in range(args.warmup, args.warmup + args.steps):
        step(i)
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "torch_version": torch.__version__,
                "threads": torch.get_num_threads(),
                "steps": args.steps,
                "samples_per_s": args.steps * args.batch_size / seconds,
                "data": source,
            }
        )
    )


if __name__ == "__main__":
    main()
