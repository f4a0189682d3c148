#!/usr/bin/env bash
# The CUDA engine on a real NVIDIA GPU, in one command (at most ~7 minutes on one H200; ~3 expected):
#   scripts/gpu-check.sh [seconds per figure, default 1.5]
# 1. what is here: the GPU and driver (nvidia-smi), node, the dependencies;
# 2. builds what is missing or stale: the CUDA addon and kernels (nvcc, with machine code for this GPU), the native
#    CPU engine (the reference);
# 3. packages/engine/bench/gpu-check.ts: correctness against the native CPU engine (f32/f16/bf16 blocks, a block's
#    bits equal to its leaves' merged by the leaf tree, determinism, the worker's self-test), then samples/s for
#    blocks of 32..4,096 samples with parameters resident, as a markdown table on stdout and in gpu-check.md
#    (GPU_CHECK_OUT to change). Paste it into BENCHMARKS.md with the GPU's name and the date.
# Exit 0 when every check passed; non-zero, with the reason on the last line, otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
step() { printf '\n== %s (%ss)\n' "$*" "$(($(date +%s) - started))" >&2; }
die() { printf 'gpu-check: %s\n' "$*" >&2; exit 1; }

step "GPU and driver"
command -v nvidia-smi >/dev/null || die "nvidia-smi not found: no NVIDIA driver installed here (the CUDA engine needs libcuda.so.1 from the driver)"
nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.total --format=csv,noheader >&2 \
  || die "nvidia-smi cannot talk to the driver (is the GPU visible? in a container: --gpus all)"
cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d ' .')

step "node and dependencies"
command -v node >/dev/null || die "node not found: install Node 20 or newer"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' || die "node $(node --version) is too old: Node 20 or newer"
if [ ! -d node_modules/.pnpm ]; then
  command -v pnpm >/dev/null || die "no node_modules and no pnpm: npm install -g pnpm, then pnpm install (needs the npm registry)"
  pnpm install --frozen-lockfile >&2 || die "pnpm install failed (it needs the npm registry)"
fi

step "build"
fatbin=packages/cuda-kernels/build/gradq_cuda.fatbin
addon=packages/cuda-kernels/build/Release/gradq_cuda.node
nvcc=$(NVCC="${NVCC:-}" node --input-type=module -e "import('./packages/cuda-kernels/scripts/build.mjs').then((m) => console.log(m.findNvcc() ?? ''))")
stale=0
[ -f "$fatbin" ] && [ -f "$addon" ] || stale=1
for src in packages/cuda-kernels/native/*; do [ "$src" -nt "$fatbin" ] && stale=1; done
if [ "$stale" = 1 ] || [ -n "${GPU_CHECK_REBUILD:-}" ]; then
  [ -n "$nvcc" ] || die "the CUDA kernels need building and nvcc is not found (PATH, CUDA_HOME, /usr/local/cuda): install the CUDA toolkit or set NVCC"
  # Machine code for this GPU too, when the default targets (Turing to Hopper) do not have it.
  archs="75,80,86,89,90"
  case ",$archs," in *",$cap,"*) ;; *) archs="$archs,$cap" ;; esac
  GRADQ_CUDA_ARCHS="$archs" node packages/cuda-kernels/scripts/build.mjs --strict >&2 \
    || die "building the CUDA engine failed (see above and packages/cuda-kernels/build-error.log)"
else
  echo "CUDA addon and kernels are up to date ($fatbin)" >&2
fi
if [ ! -f packages/native-kernels/build/Release/gradq_native.node ]; then
  node packages/native-kernels/scripts/install.mjs --strict >&2 \
    || die "building the native CPU engine (the reference) failed: apt-get install build-essential python3 libopenblas-dev"
fi

step "correctness and speed"
# The reference at one BLAS thread, as workers run it; MNIST where the repository's tests find it.
export GRADQ_BLAS_THREADS=1
timeout 420 node --import tsx packages/engine/bench/gpu-check.ts "${1:-1.5}" \
  || die "the check failed or ran out of time (exit $?): see the lines above"
step "done"
