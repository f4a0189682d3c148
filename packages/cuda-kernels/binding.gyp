{
  "targets": [
    {
      "target_name": "gradq_cuda",
      "sources": ["native/addon.c", "native/cuda-engine.c"],
      "cflags!": ["-ffast-math"],
      "cflags": ["-std=c11", "-fno-fast-math", "-ffp-contract=off", "-fno-strict-aliasing", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "libraries": ["-ldl"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
