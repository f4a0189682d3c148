"""PyTorch reference for `pnpm bench`: the seed model (784-392-196-392-784 dense, ReLU), MSE, Adam lr 1e-3,
batch 128, over one epoch shaped like `pnpm baseline`'s: a shuffle of the first --limit samples, batches of 128 in
order, the last one short. The first --warmup steps are not timed; the rest are, step by step (data loading is
done before). Prints one JSON line.

    /usr/bin/python3 packages/bench/python/torch_bench.py [--threads 1] [--limit 60000] [--warmup 50] [--data-dir DIR]

60 steps after 5 of warm-up gave 5,285 samples/s where 400 steps gave 12,488 on the same machine: hence a whole
epoch by default. `pnpm bench` runs it with MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=4294967295:
without them glibc mmaps and unmaps the step's activations every step (3x slower here; see
packages/bench/src/single.ts). Real MNIST pixels when --data-dir holds train-images-idx3-ubyte.gz, else uniform
random pixels (the speed of a dense network does not depend on the values).
"""
import argparse
import gzip
import json
import math
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
    ap.add_argument("--threads", type=int, default=1, help="intra-op threads; 0: torch's default")
    ap.add_argument("--limit", type=int, default=60000, help="samples in the epoch")
    ap.add_argument("--warmup", type=int, default=50, help="steps not timed")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--data-dir", default="")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
        # Inter-op threads would only add idle workers for this sequential model; pinned so nothing else competes.
        torch.set_num_interop_threads(1)
    torch.manual_seed(1)
    x, source = load_images(args.data_dir, args.limit)
    n = x.shape[0]
    per_epoch = math.ceil(n / args.batch_size)
    if args.warmup + 2 > per_epoch:
        raise SystemExit(f"--warmup {args.warmup} leaves fewer than 2 timed steps of {per_epoch}")
    sizes = [784, 392, 196, 392, 784]
    layers = []
    for i in range(1, len(sizes)):
        layers += [torch.nn.Linear(sizes[i - 1], sizes[i]), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.MSELoss()
    order = torch.randperm(n)

    def step(i: int) -> int:
        batch = x[order[i * args.batch_size : (i + 1) * args.batch_size]]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(batch), batch)
        loss.backward()
        opt.step()
        return batch.shape[0]

    for i in range(args.warmup):
        step(i)
    times = []
    counts = []
    span_cpu, span_wall = time.process_time(), time.perf_counter()
    for i in range(args.warmup, per_epoch):
        start = time.perf_counter()
        counts.append(step(i))
        times.append(time.perf_counter() - start)
    # CPU seconds over wall seconds of the timed span: below 1 when other processes took turns on this core.
    cpu_share = (time.process_time() - span_cpu) / (time.perf_counter() - span_wall)
    half = len(times) // 2

    def rate(a: int, b: int) -> float:
        return sum(counts[a:b]) / sum(times[a:b])

    print(
        json.dumps(
            {
                "version": torch.__version__,
                "threads": torch.get_num_threads(),
                "warmupSteps": args.warmup,
                "steps": len(times),
                "samples": sum(counts),
                "seconds": sum(times),
                "samplesPerSecond": rate(0, len(times)),
                "halves": [rate(0, half), rate(half, len(times))],
                "cpuShare": cpu_share,
                "data": source,
            }
        )
    )


if __name__ == "__main__":
    main()
