# One multi-target Dockerfile for every gradq image, built from the repository root:
#   docker build --target coordinator -t gradq-coordinator .
#   docker build --target worker      -t gradq-worker .
#   docker build --target worker-gpu  -t gradq-worker-gpu .
# One file rather than one per service because both services come out of the same workspace install: the `build`
# stage runs `pnpm install` once and `pnpm deploy`s each service from it, so a compose build does that work once
# and shares the layer cache. The build context has to be the root either way (lockfile, catalog, every package).
#
# Images are Debian slim, not Alpine: tfjs-node's libtensorflow and its prebuilt binding need glibc.

# Node 24: Active LTS until October 2026, then maintenance until April 2028. Node 20 reached end of life on
# 2026-04-30 and its images get no more fixes.
ARG NODE_IMAGE=node:24-bookworm-slim
# The GPU worker's CUDA: 12.8 is the oldest 12.x whose nvcc has machine code for Blackwell (sm_100, sm_120) as well
# as Turing to Hopper; its runtime image ships cuBLAS, which the CUDA engine opens at run time. 12.x rather than 13.x:
# CUDA 13 needs driver 580 or newer, 12.x runs on the 525+ drivers most machines have (docs/docker.md).
ARG CUDA_DEVEL_IMAGE=nvidia/cuda:12.8.1-devel-ubuntu24.04
ARG CUDA_RUNTIME_IMAGE=nvidia/cuda:12.8.1-runtime-ubuntu24.04
# Must equal `packageManager` in package.json (packages/deploy-checks tests this).
ARG PNPM_VERSION=12.21.0

# ---------------------------------------------------------------------------------------------------------------
# build: the whole workspace, then a self-contained production tree per service under /out.
FROM ${NODE_IMAGE} AS build
ARG PNPM_VERSION
# build-essential + python3: node-gyp for @gradq/native-kernels (and tfjs-node's binding when no prebuilt one
# downloads); libopenblas-dev: the kernels link -lopenblas.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential python3 libopenblas-dev ca-certificates \
 && rm -rf /var/lib/apt/lists/*
RUN npm i -g pnpm@${PNPM_VERSION}
# --pm-on-fail=ignore on every pnpm command: the lockfile records no packageManagerDependencies (pnpm could not
# resolve its own pin for every platform when it was written), and pnpm 12 fails a frozen install that would have
# to add them (ERR_PNPM_FROZEN_LOCKFILE_WITH_OUTDATED_LOCKFILE) and other commands that try to
# (ERR_PNPM_BAD_CONFIG_DEP). The exact pinned pnpm is installed just above, so skipping the check loses nothing.
# It must be the flag: as npm_config_pm_on_fail in the environment, pnpm 12.21 still resolves the pin.
WORKDIR /build
# Dependencies first: this layer is reused until the lockfile changes.
COPY pnpm-lock.yaml pnpm-workspace.yaml .npmrc ./
# The workspace's patched dependencies (pnpm-workspace.yaml: patchedDependencies): pnpm fetch needs the files.
COPY patches ./patches
# --prod here and below: the images ship production dependencies only, and the development ones (onnxruntime-node
# alone is 97 MB, then biome, typescript) were most of this stage's download.
RUN pnpm fetch --prod --pm-on-fail=ignore
COPY . .
# --frozen-lockfile: the image gets exactly what CI tested. Scripts are skipped here because `pnpm deploy` below
# runs them again inside each deployed tree (tfjs-node's libtensorflow download, the native-kernels addon build);
# running them twice would only download libtensorflow twice.
RUN pnpm install --frozen-lockfile --prod --prefer-offline --ignore-scripts --pm-on-fail=ignore
# pnpm >= 12.2 deploys without inject-workspace-packages: workspace dependencies become file: dependencies in a
# dedicated lockfile, copied (not symlinked) into /out/<service>/node_modules, so /out/<service> is portable.
RUN pnpm --filter @gradq/coordinator --prod --pm-on-fail=ignore deploy /out/coordinator \
 && pnpm --filter @gradq/worker --prod --pm-on-fail=ignore deploy /out/worker

# ---------------------------------------------------------------------------------------------------------------
# runtime: what both CPU services run on. No compiler, no pnpm; libopenblas0 is the native kernels' runtime library.
FROM ${NODE_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini libopenblas0 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
# Named volumes start as a copy of the image's directory, ownership included: creating these as `node` is what lets
# the non-root process write MNIST and local checkpoints into fresh volumes.
RUN mkdir -p /data/mnist /data/checkpoints && chown -R node:node /data
WORKDIR /app
# tini as PID 1 reaps zombies and forwards SIGTERM, so `docker compose stop` reaches node's shutdown handlers (a
# worker closes its BullMQ worker, the coordinator checkpoints) instead of being killed after the grace period.
ENTRYPOINT ["/usr/bin/tini", "--"]

# ---------------------------------------------------------------------------------------------------------------
FROM runtime AS coordinator
ARG TARGETARCH
# Which backend the build proves loads. Empty (the default): tensorflow (tfjs-node's libtensorflow) on x86-64, where
# TensorFlow publishes it, cpu-native (the OpenBLAS kernels) elsewhere. `cpu-native` for a build that cannot reach
# Google's storage, where tfjs-node's install downloads libtensorflow from: pnpm then leaves the optional tfjs-node
# out, and TFJS_BACKEND=auto runs cpu-native. Its own argument rather than a faked TARGETARCH, which BuildKit sets
# and other tools read.
ARG CHECK_BACKEND=
# The code stays root-owned: the service can write its volumes, not its own source.
COPY --from=build /out/coordinator /app
# Fail the build, not the first run, when that backend does not load.
RUN backend="${CHECK_BACKEND:-$([ "${TARGETARCH:-amd64}" = amd64 ] && echo tensorflow || echo cpu-native)}" \
 && TFJS_BACKEND=$backend node --import tsx --input-type=module \
      -e "await (await import('@gradq/backend')).selectBackend()"
ENV MNIST_DIR=/data/mnist \
    CHECKPOINT_DIR=/data/checkpoints \
    METRICS_PORT=9400
EXPOSE 9400
USER node
# No curl in slim images; node's fetch does the same. /healthz is served by the /metrics server.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.METRICS_PORT||9400)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node --import tsx rather than the tsx CLI: one process under tini, so signals reach the service directly.
CMD ["node", "--import", "tsx", "src/cli/coordinator.ts"]

# ---------------------------------------------------------------------------------------------------------------
FROM runtime AS worker
ARG TARGETARCH
# As for the coordinator.
ARG CHECK_BACKEND=
COPY --from=build /out/worker /app
RUN backend="${CHECK_BACKEND:-$([ "${TARGETARCH:-amd64}" = amd64 ] && echo tensorflow || echo cpu-native)}" \
 && TFJS_BACKEND=$backend node --import tsx --input-type=module \
      -e "await (await import('@gradq/backend')).selectBackend()"
ENV METRICS_PORT=9401
EXPOSE 9401
USER node
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.METRICS_PORT||9401)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "--import", "tsx", "src/cli/worker.ts"]

# ---------------------------------------------------------------------------------------------------------------
# GPU worker: the same worker on NVIDIA's CUDA runtime image, computing with the CUDA engine (@gradq/cuda-kernels:
# cuBLAS and its own kernels, opened with dlopen; no TensorFlow). Node comes from the official image (its binaries
# need glibc >= 2.28; Ubuntu 24.04 has 2.39). The `node` user gets the CPU images' uid, so volumes are shared without
# chown (Ubuntu 24.04 images have an `ubuntu` user on uid 1000: it goes first).
FROM ${NODE_IMAGE} AS node
FROM ${CUDA_DEVEL_IMAGE} AS build-gpu
ARG PNPM_VERSION
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules /usr/local/lib/node_modules
# Node's headers let node-gyp build without downloading them (the addons' install scripts pass --nodedir).
COPY --from=node /usr/local/include/node /usr/local/include/node
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential python3 libopenblas-dev ca-certificates \
 && rm -rf /var/lib/apt/lists/*
RUN npm i -g pnpm@${PNPM_VERSION}
WORKDIR /build
COPY pnpm-lock.yaml pnpm-workspace.yaml .npmrc ./
# The workspace's patched dependencies (pnpm-workspace.yaml: patchedDependencies): pnpm fetch needs the files.
COPY patches ./patches
RUN pnpm fetch --prod --pm-on-fail=ignore
COPY . .
RUN pnpm install --frozen-lockfile --prod --prefer-offline --ignore-scripts --pm-on-fail=ignore
# The deploy runs the install scripts in the deployed tree: @gradq/cuda-kernels builds its addon and, with this
# image's nvcc, the kernels' fatbin, here with machine code for Blackwell too (nvcc 12.8 has it), so no GPU this image
# runs on compiles PTX at start.
ENV GRADQ_CUDA_ARCHS=75,80,86,89,90,100,120
RUN pnpm --filter @gradq/worker --prod --pm-on-fail=ignore deploy /out/worker

FROM ${CUDA_RUNTIME_IMAGE} AS worker-gpu
COPY --from=node /usr/local/bin/node /usr/local/bin/node
# libopenblas0: the native CPU engine, the GPU engine's self-test reference.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends tini libopenblas0 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && (userdel --remove ubuntu 2>/dev/null || true) && (groupdel ubuntu 2>/dev/null || true) \
 && groupadd --gid 1000 node && useradd --uid 1000 --gid node --create-home --shell /bin/bash node
# GRADQ_ENGINE=cuda: a container without a usable GPU exits naming why instead of training on the CPU. The self-test
# compares the GPU with the native CPU engine.
ENV NODE_ENV=production \
    GRADQ_ENGINE=cuda \
    TFJS_BACKEND=cpu-native \
    METRICS_PORT=9401
WORKDIR /app
COPY --from=build-gpu /out/worker /app
# No GPU exists at build time: check that the addon and the kernels were built, and that the addon loads (it links
# no CUDA library, so it does without a driver). Running them is the first start's job (its self-test).
RUN node --import tsx --input-type=module -e "\
const k = await import('@gradq/cuda-kernels'); const { existsSync } = await import('node:fs'); \
for (const p of [k.CUDA_ADDON_PATH, k.CUDA_FATBIN_PATH]) if (!existsSync(p)) throw new Error(p + ' was not built'); \
k.loadCudaAddon();"
EXPOSE 9401
USER node
ENTRYPOINT ["/usr/bin/tini", "--"]
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.METRICS_PORT||9401)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "--import", "tsx", "src/cli/worker.ts"]
