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
# libtensorflow 2.9.1, which @tensorflow/tfjs-node-gpu 4.22.0 downloads, is built against CUDA 11.2 and cuDNN 8.1
# (tensorflow/tfjs#8362: "CUDA Toolkit 11.2, cuDNN SDK 8.1.0, drivers > 450"). The cudnn8 flavour of 11.2.2 ships
# cuDNN 8.1.1. Override if that tag ever disappears: any 11.x-cudnn8 runtime keeps the same sonames.
ARG CUDA_IMAGE=nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04
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
# GPU worker: the same worker on NVIDIA's CUDA runtime image, with @tensorflow/tfjs-node-gpu. Node comes from the
# official image (its binaries need glibc >= 2.28; Ubuntu 20.04 has 2.31).
FROM ${NODE_IMAGE} AS node
FROM ${CUDA_IMAGE} AS cuda-node
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules /usr/local/lib/node_modules
# Node's headers let node-gyp build without downloading them (native-kernels' install script passes --nodedir).
COPY --from=node /usr/local/include/node /usr/local/include/node
# NVIDIA rotated its apt signing key in 2022 and older CUDA images still list the old one, so `apt-get update` fails
# on their repository; nothing here comes from it, so it is dropped. The `node` user gets the CPU images' uid, so
# volumes are shared without chown.
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && rm -f /etc/apt/sources.list.d/cuda*.list /etc/apt/sources.list.d/nvidia-ml*.list \
 && groupadd --gid 1000 node && useradd --uid 1000 --gid node --create-home --shell /bin/bash node

FROM cuda-node AS build-gpu
ARG PNPM_VERSION
ARG TFJS_NODE_GPU_VERSION=4.22.0
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential python3 libopenblas-dev ca-certificates \
 && rm -rf /var/lib/apt/lists/*
RUN npm i -g pnpm@${PNPM_VERSION}
WORKDIR /build
COPY pnpm-lock.yaml pnpm-workspace.yaml .npmrc ./
# The workspace's patched dependencies (pnpm-workspace.yaml: patchedDependencies): pnpm fetch needs the files.
COPY patches ./patches
RUN pnpm fetch --pm-on-fail=ignore
COPY . .
RUN pnpm install --frozen-lockfile --prefer-offline --ignore-scripts --pm-on-fail=ignore
# tfjs-node-gpu is added here, not in packages/backend/package.json: its install downloads the ~400 MB GPU
# libtensorflow, which no laptop or CPU image should pay for. As a dependency of @gradq/backend it resolves next to
# backend's own @tensorflow/tfjs 4.22.0, so it registers into the same tfjs-core instance. A regular (not optional)
# dependency, so a failed download fails this build instead of shipping a GPU image without GPU TensorFlow.
RUN pnpm --filter @gradq/backend --pm-on-fail=ignore add @tensorflow/tfjs-node-gpu@${TFJS_NODE_GPU_VERSION} \
 && pnpm --filter @gradq/worker --prod --pm-on-fail=ignore deploy /out/worker

FROM cuda-node AS worker-gpu
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends tini libopenblas0 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    TFJS_BACKEND=tensorflow-gpu \
    METRICS_PORT=9401
WORKDIR /app
COPY --from=build-gpu /out/worker /app
# No GPU exists at build time, so only check that the GPU binding and libtensorflow were installed (tfjs-node-gpu
# publishes them for linux x86-64 only); loading them is the first run's job.
RUN ls node_modules/.pnpm/@tensorflow+tfjs-node-gpu@*/node_modules/@tensorflow/tfjs-node-gpu/lib/napi-v*/tfjs_binding.node \
       node_modules/.pnpm/@tensorflow+tfjs-node-gpu@*/node_modules/@tensorflow/tfjs-node-gpu/deps/lib/libtensorflow.so*
EXPOSE 9401
USER node
ENTRYPOINT ["/usr/bin/tini", "--"]
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.METRICS_PORT||9401)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "--import", "tsx", "src/cli/worker.ts"]
