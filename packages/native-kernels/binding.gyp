{
  "targets": [
    {
      "target_name": "gradq_native",
      "sources": ["native/addon.c", "native/kernels.c", "native/engine.c", "native/gemm.c"],
      "cflags!": ["-ffast-math"],
      "cflags": ["-std=c11", "-fno-fast-math", "-ffp-contract=off", "-fno-math-errno", "-fno-strict-aliasing", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "libraries": ["-lopenblas"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
