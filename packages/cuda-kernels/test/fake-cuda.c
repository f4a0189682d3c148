/*
 * A fake NVIDIA driver and cuBLAS for the tests: one shared library that the addon opens in place of libcuda.so.1
 * and libcublas.so.1x, so the real addon runs, unchanged, on a machine without a GPU. Device memory is host memory;
 * cublasSgemm_v2 is OpenBLAS's column-major cblas_sgemm; cuLaunchKernel calls the kernel of the same name from
 * native/kernels.cu, compiled as C into this library. So transposes, leading dimensions, argument structs, buffer
 * sizes and the kernels themselves are all exercised.
 *
 * It catches lifetime bugs the real driver would turn into corruption: memory comes back filled with NaNs (reading
 * what was never written shows in the result), and a copy, product or free that touches memory not currently
 * allocated aborts with a message naming it.
 */
#define _GNU_SOURCE
#include <cblas.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
#define MAX_LIVE 4096

static struct {
  char *base;
  size_t bytes;
} live[MAX_LIVE];

static void die(const char *what, const void *p) {
  fprintf(stderr, "fake-cuda: %s at %p, which is not inside a live allocation\n", what, p);
  abort();
}

/* Aborts unless [p, p + bytes) lies inside one live allocation. */
static void check(const char *what, const void *p, size_t bytes) {
  const char *c = p;
  for (int i = 0; i < MAX_LIVE; i++)
    if (live[i].base != NULL && c >= live[i].base && c + bytes <= live[i].base + live[i].bytes) return;
  die(what, p);
}

CUresult cuInit(unsigned int flags) { return flags == 0 ? 0 : 1; }
CUresult cuDriverGetVersion(int *v) { *v = 13000; return 0; }
CUresult cuDeviceGetCount(int *n) { *n = 1; return 0; }
CUresult cuDeviceGet(int *d, int ordinal) { *d = ordinal; return ordinal == 0 ? 0 : 101; }
CUresult cuDeviceGetName(char *name, int len, int d) { snprintf(name, (size_t)len, "fake GPU (OpenBLAS)"); return 0; }
CUresult cuDeviceGetAttribute(int *v, int attribute, int d) { *v = attribute == 75 ? 9 : 0; return 0; }
static int context;
CUresult cuDevicePrimaryCtxRetain(void **ctx, int d) { *ctx = &context; return 0; }
CUresult cuDevicePrimaryCtxRelease_v2(int d) { return 0; }
CUresult cuCtxSetCurrent(void *ctx) { return ctx == &context ? 0 : 201; }
CUresult cuCtxSynchronize(void) { return 0; }
static int module;
CUresult cuModuleLoadData(void **m, const void *image) { *m = &module; return image ? 0 : 1; }
CUresult cuModuleUnload(void *m) { return m == &module ? 0 : 400; }

/* A kernel is this library's function of the same name (kernels.cu's host build), found through our own handle. */
CUresult cuModuleGetFunction(void **f, void *m, const char *name) {
  Dl_info self;
  if (m != &module || !dladdr((void *)cuModuleGetFunction, &self)) return 400;
  void *handle = dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD);
  *f = handle ? dlsym(handle, name) : NULL;
  if (handle) dlclose(handle);
  return *f ? 0 : 500; /* CUDA_ERROR_NOT_FOUND */
}

CUresult cuMemAlloc_v2(unsigned long long *ptr, size_t bytes) {
  for (int i = 0; i < MAX_LIVE; i++) {
    if (live[i].base != NULL) continue;
    /* NaN bytes: a result that reads memory nobody wrote is NaN. 256-byte aligned, as cuMemAlloc's. */
    live[i].base = aligned_alloc(256, (bytes + 255) & ~(size_t)255);
    if (live[i].base == NULL) return 2;
    memset(live[i].base, 0xff, bytes);
    live[i].bytes = bytes;
    *ptr = (unsigned long long)(uintptr_t)live[i].base;
    return 0;
  }
  return 2; /* CUDA_ERROR_OUT_OF_MEMORY */
}

CUresult cuMemFree_v2(unsigned long long ptr) {
  for (int i = 0; i < MAX_LIVE; i++) {
    if (live[i].base != (char *)(uintptr_t)ptr) continue;
    memset(live[i].base, 0xff, live[i].bytes);
    free(live[i].base);
    live[i].base = NULL;
    return 0;
  }
  die("cuMemFree", (void *)(uintptr_t)ptr);
  return 1;
}

CUresult cuMemcpyHtoD_v2(unsigned long long dst, const void *src, size_t bytes) {
  check("cuMemcpyHtoD", (void *)(uintptr_t)dst, bytes);
  memcpy((void *)(uintptr_t)dst, src, bytes);
  return 0;
}

CUresult cuMemcpyDtoH_v2(void *dst, unsigned long long src, size_t bytes) {
  check("cuMemcpyDtoH", (void *)(uintptr_t)src, bytes);
  memcpy(dst, (void *)(uintptr_t)src, bytes);
  return 0;
}

CUresult cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned shared, void *stream, void **params, void **extra) {
  if (gx == 0 || bx == 0 || bx > 1024 || params == NULL || extra != NULL) return 1; /* CUDA_ERROR_INVALID_VALUE */
  ((void (*)(void **))f)(params);
  return 0;
}

CUresult cuGetErrorName(CUresult error, const char **name) {
  *name = error == 2 ? "CUDA_ERROR_OUT_OF_MEMORY" : "CUDA_ERROR_FAKE";
  return 0;
}

static int blas_handle;
int cublasCreate_v2(void **h) { *h = &blas_handle; return 0; }
int cublasDestroy_v2(void *h) { return h == &blas_handle ? 0 : 1; }
int cublasGetVersion_v2(void *h, int *v) { *v = 130000; return 0; }
int cublasSetMathMode(void *h, int mode) { return mode == 0 || mode == 2 || mode == 3 ? 0 : 7; }

int cublasSgemm_v2(void *h, int ta, int tb, int m, int n, int k, const float *alpha, const float *a, int lda,
                   const float *b, int ldb, const float *beta, float *c, int ldc) {
  /* Column-major: op(A) is m x k, so A has (ta ? m : k) columns of lda; the last element of each must be live. */
  check("cublasSgemm A", a, sizeof(float) * ((size_t)lda * ((ta ? m : k) - 1) + (ta ? k : m)));
  check("cublasSgemm B", b, sizeof(float) * ((size_t)ldb * ((tb ? k : n) - 1) + (tb ? n : k)));
  check("cublasSgemm C", c, sizeof(float) * ((size_t)ldc * (n - 1) + m));
  if (lda < (ta ? k : m) || ldb < (tb ? n : k) || ldc < m) return 7; /* CUBLAS_STATUS_INVALID_VALUE */
  cblas_sgemm(CblasColMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, *alpha, a, lda,
              b, ldb, *beta, c, ldc);
  return 0;
}
