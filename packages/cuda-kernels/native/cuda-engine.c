/*
 * The CUDA engine (cuda-engine.h). Matrices are row-major with one row per sample, as in the CPU engine; cuBLAS is
 * column-major, so a row-major (rows, cols) matrix is handed to it as the column-major (cols, rows) matrix, its
 * transpose, and every product below is written for the transposes:
 *   forward      Y (n, out) = X (n, in) W (in, out)     as  Y^T = W^T X^T       gemm(N, N, out, n, in)
 *   input grad   dX (n, in) = dZ (n, out) W^T           as  dX^T = W dZ^T       gemm(T, N, in, n, out)
 *   weight grad  dW (in, out) = X^T dZ                  as  dW^T = dZ^T X       gemm(N, T, out, in, n)
 *
 * Every product covers one leaf, never the block: cuBLAS picks its kernel (and so its summation order) by shape, so a
 * block-wide product would give a leaf other bits in a block of another size, and the number of workers would change
 * the run. Leaf by leaf, a leaf's gradient has the same bits in any block on a given GPU model and cuBLAS version,
 * and merging leaves with beta = 0 products and a separate add keeps the tree's association (tree.ts) exact.
 */
#define GQ_ADDON
#include "cuda-engine.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda-api.h"
#include "kernel-args.h"

/* Leaves per block are an int, so the binary counter never holds more than 32 nodes (+1 for the leaf arriving). */
#define GQ_MAX_NODES 40
#define GQ_THREADS 256
/* Grid-stride loops: more blocks than this only add scheduling. */
#define GQ_MAX_BLOCKS 8192

#define DECLARE_POINTER(name, ret, args) ret(*name) args;
typedef struct {
  GQ_CUDA_DRIVER_FUNCTIONS(DECLARE_POINTER)
} gq_driver;
typedef struct {
  GQ_CUBLAS_FUNCTIONS(DECLARE_POINTER)
} gq_cublas;

enum { K_GATHER, K_BIAS_ACT, K_MSE_DELTA, K_ROW_SSE, K_RELU_BACKWARD, K_COL_SUM, K_TREE_ADD, K_COUNT };
static const char *const KERNEL_NAMES[K_COUNT] = {"gqk_gather",        "gqk_bias_act", "gqk_mse_delta", "gqk_row_sse",
                                                  "gqk_relu_backward", "gqk_col_sum",  "gqk_tree_add"};

struct gq_cuda_engine {
  void *driver_lib, *cublas_lib;
  gq_driver cu;
  gq_cublas blas;
  CUdevice device;
  CUcontext ctx;
  CUmodule module;
  cublasHandle_t handle;
  CUfunction kernels[K_COUNT];
  gq_cuda_info info;

  int layers;
  int32_t sizes[GQ_CUDA_MAX_LAYERS + 1];
  int64_t kernel_offset[GQ_CUDA_MAX_LAYERS], bias_offset[GQ_CUDA_MAX_LAYERS];
  int64_t param_count;
  int output_activation;
  int max_units;

  CUdeviceptr params, pixels, order;
  int64_t pixel_count, order_capacity;
  /* One leaf's scratch: acts[l] is (rows, sizes[l]), acts[0] the scaled inputs; delta[0..1] (rows, max_units). */
  int64_t leaf_rows;
  CUdeviceptr acts[GQ_CUDA_MAX_LAYERS + 1], delta[2];
  /* Per-row squared errors of the whole block, read back once per block. */
  int64_t sse_rows;
  CUdeviceptr sse;
  double *sse_host;
  /* The leaf tree's nodes, param_count floats each, allocated as the widest block needs them. */
  CUdeviceptr nodes[GQ_MAX_NODES];
  int node_count;
  CUdeviceptr free_nodes[GQ_MAX_NODES];
  int free_count;

  char error[512];
};

static int fail(gq_cuda_engine *e, const char *format, ...) {
  va_list args;
  va_start(args, format);
  vsnprintf(e->error, sizeof e->error, format, args);
  va_end(args);
  return -1;
}

static const char *cu_name(gq_cuda_engine *e, CUresult r) {
  const char *name = NULL;
  if (e->cu.cuGetErrorName == NULL || e->cu.cuGetErrorName(r, &name) != GQ_CUDA_SUCCESS || name == NULL)
    return "CUDA error";
  return name;
}

#define CU(call)                                                                                                \
  do {                                                                                                          \
    const CUresult r_ = e->cu.call;                                                                             \
    if (r_ != GQ_CUDA_SUCCESS) return fail(e, "%s failed: %s (%d)", #call, cu_name(e, r_), r_);                 \
  } while (0)

static int alloc_device(gq_cuda_engine *e, CUdeviceptr *ptr, size_t bytes, const char *what) {
  if (*ptr != 0) e->cu.cuMemFree_v2(*ptr);
  *ptr = 0;
  const CUresult r = e->cu.cuMemAlloc_v2(ptr, bytes > 0 ? bytes : 4);
  if (r != GQ_CUDA_SUCCESS) {
    *ptr = 0;
    return fail(e, "cuMemAlloc of %zu bytes for %s failed: %s (%d)", bytes, what, cu_name(e, r), r);
  }
  return 0;
}

static int launch(gq_cuda_engine *e, int kernel, int64_t work, void *args) {
  int64_t blocks = (work + GQ_THREADS - 1) / GQ_THREADS;
  if (blocks < 1) blocks = 1;
  if (blocks > GQ_MAX_BLOCKS) blocks = GQ_MAX_BLOCKS;
  void *params[1] = {args};
  const CUresult r =
      e->cu.cuLaunchKernel(e->kernels[kernel], (unsigned)blocks, 1, 1, GQ_THREADS, 1, 1, 0, NULL, params, NULL);
  if (r != GQ_CUDA_SUCCESS) return fail(e, "launching %s failed: %s (%d)", KERNEL_NAMES[kernel], cu_name(e, r), r);
  return 0;
}

/* C = op(A) op(B), column-major, alpha 1, beta 0. */
static int gemm(gq_cuda_engine *e, int ta, int tb, int m, int n, int k, CUdeviceptr a, int lda, CUdeviceptr b,
                int ldb, CUdeviceptr c, int ldc) {
  const float one = 1.0f, zero = 0.0f;
  const cublasStatus_t s = e->blas.cublasSgemm_v2(e->handle, ta, tb, m, n, k, &one, (const float *)a, lda,
                                                  (const float *)b, ldb, &zero, (float *)c, ldc);
  if (s != GQ_CUBLAS_STATUS_SUCCESS)
    return fail(e, "cublasSgemm (%c%c, m %d, n %d, k %d) failed: status %d", ta ? 'T' : 'N', tb ? 'T' : 'N', m, n,
                k, s);
  return 0;
}

/* ---------------------------------------------------------------------------------------------------------------
 * Opening: libraries, device, context, cuBLAS, kernels.
 */

static int open_libraries(gq_cuda_engine *e, const gq_cuda_options *o) {
  e->driver_lib = dlopen(o->driver, RTLD_NOW | RTLD_LOCAL);
  if (e->driver_lib == NULL)
    return fail(e, "%s not found: no NVIDIA driver (dlopen: %s)", o->driver, dlerror());
#define LOAD_DRIVER(name, ret, args)                                                                            \
  if ((e->cu.name = (ret(*) args)dlsym(e->driver_lib, #name)) == NULL)                                          \
    return fail(e, "%s has no %s: the NVIDIA driver is too old (CUDA 12 needs driver 525 or newer)", o->driver,   \
                #name);
  GQ_CUDA_DRIVER_FUNCTIONS(LOAD_DRIVER)
#undef LOAD_DRIVER
  char tried[256] = "";
  for (int i = 0; i < o->cublas_count && e->cublas_lib == NULL; i++) {
    e->cublas_lib = dlopen(o->cublas[i], RTLD_NOW | RTLD_LOCAL);
    if (e->cublas_lib != NULL) e->info.cublas_library = o->cublas[i];
    else snprintf(tried + strlen(tried), sizeof tried - strlen(tried), "%s%s", i ? ", " : "", o->cublas[i]);
  }
  if (e->cublas_lib == NULL)
    return fail(e, "cuBLAS not found (tried %s): install the CUDA 12 or 13 runtime libraries (the nvidia/cuda "
                   "*-runtime images have them; or apt-get install libcublas-12-*; or LD_LIBRARY_PATH)",
                tried);
#define LOAD_CUBLAS(name, ret, args)                                                                            \
  if ((e->blas.name = (ret(*) args)dlsym(e->cublas_lib, #name)) == NULL)                                        \
    return fail(e, "%s has no %s", e->info.cublas_library, #name);
  GQ_CUBLAS_FUNCTIONS(LOAD_CUBLAS)
#undef LOAD_CUBLAS
  return 0;
}

static int open_device(gq_cuda_engine *e, const gq_cuda_options *o, const void *image) {
  CUresult r = e->cu.cuInit(0);
  if (r != GQ_CUDA_SUCCESS)
    return fail(e, "cuInit failed: %s (%d): no usable NVIDIA GPU (in a container: --gpus or a device reservation; "
                   "check nvidia-smi and CUDA_VISIBLE_DEVICES)",
                cu_name(e, r), r);
  int count = 0;
  CU(cuDeviceGetCount(&count));
  if (o->device < 0 || o->device >= count)
    return fail(e, "GPU %d asked for, %d visible (CUDA_VISIBLE_DEVICES)", o->device, count);
  CU(cuDeviceGet(&e->device, o->device));
  CU(cuDeviceGetName(e->info.device, (int)sizeof e->info.device, e->device));
  CU(cuDeviceGetAttribute(&e->info.cc_major, GQ_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, e->device));
  CU(cuDeviceGetAttribute(&e->info.cc_minor, GQ_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, e->device));
  CU(cuDriverGetVersion(&e->info.driver_version));
  CU(cuDevicePrimaryCtxRetain(&e->ctx, e->device));
  CU(cuCtxSetCurrent(e->ctx));
  r = e->cu.cuModuleLoadData(&e->module, image);
  if (r != GQ_CUDA_SUCCESS) {
    e->module = NULL;
    return fail(e, "the kernels (build/gradq_cuda.fatbin) did not load on %s (sm_%d%d), driver %d.%d: %s (%d); "
                   "rebuild them for this GPU with pnpm --filter @gradq/cuda-kernels build",
                e->info.device, e->info.cc_major, e->info.cc_minor, e->info.driver_version / 1000,
                e->info.driver_version % 1000 / 10, cu_name(e, r), r);
  }
  for (int k = 0; k < K_COUNT; k++) CU(cuModuleGetFunction(&e->kernels[k], e->module, KERNEL_NAMES[k]));
  cublasStatus_t s = e->blas.cublasCreate_v2(&e->handle);
  if (s != GQ_CUBLAS_STATUS_SUCCESS) {
    e->handle = NULL;
    return fail(e, "cublasCreate failed: status %d", s);
  }
  s = e->blas.cublasSetMathMode(e->handle, o->tf32 ? GQ_CUBLAS_TF32_TENSOR_OP_MATH : GQ_CUBLAS_PEDANTIC_MATH);
  if (s != GQ_CUBLAS_STATUS_SUCCESS) return fail(e, "cublasSetMathMode failed: status %d", s);
  if (e->blas.cublasGetVersion_v2(e->handle, &e->info.cublas_version) != GQ_CUBLAS_STATUS_SUCCESS)
    e->info.cublas_version = 0;
  return 0;
}

gq_cuda_engine *gq_cuda_create(const gq_cuda_options *options, const void *image, int count, const int32_t *sizes,
                               int output_activation, char *error, size_t error_len) {
  gq_cuda_engine *e = calloc(1, sizeof(gq_cuda_engine));
  if (e == NULL) {
    snprintf(error, error_len, "out of memory");
    return NULL;
  }
  e->layers = count - 1;
  e->output_activation = output_activation;
  int64_t offset = 0;
  for (int l = 0; l < count; l++) {
    e->sizes[l] = sizes[l];
    if (sizes[l] > e->max_units) e->max_units = sizes[l];
  }
  for (int l = 0; l < e->layers; l++) {
    e->kernel_offset[l] = offset;
    offset += (int64_t)sizes[l] * sizes[l + 1];
    e->bias_offset[l] = offset;
    offset += sizes[l + 1];
  }
  e->param_count = offset;
  if (open_libraries(e, options) != 0 || open_device(e, options, image) != 0 ||
      alloc_device(e, &e->params, sizeof(float) * (size_t)e->param_count, "the parameters") != 0) {
    snprintf(error, error_len, "%s", e->error);
    gq_cuda_destroy(e);
    return NULL;
  }
  return e;
}

void gq_cuda_destroy(gq_cuda_engine *e) {
  if (e == NULL) return;
  if (e->ctx != NULL) {
    e->cu.cuCtxSetCurrent(e->ctx);
    /* Kernels still queued must finish before their memory goes. */
    e->cu.cuCtxSynchronize();
    CUdeviceptr *buffers[] = {&e->params, &e->pixels, &e->order, &e->delta[0], &e->delta[1], &e->sse};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++)
      if (*buffers[i] != 0) e->cu.cuMemFree_v2(*buffers[i]);
    for (int l = 0; l <= e->layers; l++)
      if (e->acts[l] != 0) e->cu.cuMemFree_v2(e->acts[l]);
    for (int i = 0; i < e->node_count; i++) e->cu.cuMemFree_v2(e->nodes[i]);
    if (e->handle != NULL) e->blas.cublasDestroy_v2(e->handle);
    if (e->module != NULL) e->cu.cuModuleUnload(e->module);
    e->cu.cuDevicePrimaryCtxRelease_v2(e->device);
  }
  /* The libraries stay loaded: cuBLAS registers exit handlers, and unloading it under them crashed at exit. dlopen
   * counts references, so the next engine gets the same handles back. */
  free(e->sse_host);
  free(e);
}

int64_t gq_cuda_param_count(const gq_cuda_engine *e) { return e->param_count; }
int gq_cuda_sample_size(const gq_cuda_engine *e) { return e->sizes[0]; }
int64_t gq_cuda_sample_count(const gq_cuda_engine *e) { return e->pixel_count; }
const gq_cuda_info *gq_cuda_info_of(const gq_cuda_engine *e) { return &e->info; }
const char *gq_cuda_error(const gq_cuda_engine *e) { return e->error; }

int gq_cuda_set_pixels(gq_cuda_engine *e, const uint8_t *pixels, int64_t count) {
  CU(cuCtxSetCurrent(e->ctx));
  const size_t bytes = (size_t)count * (size_t)e->sizes[0];
  if (alloc_device(e, &e->pixels, bytes, "the training set") != 0) return -1;
  CU(cuMemcpyHtoD_v2(e->pixels, pixels, bytes));
  e->pixel_count = count;
  return 0;
}

int gq_cuda_set_params(gq_cuda_engine *e, const float *params) {
  CU(cuCtxSetCurrent(e->ctx));
  CU(cuMemcpyHtoD_v2(e->params, params, sizeof(float) * (size_t)e->param_count));
  return 0;
}

/* ---------------------------------------------------------------------------------------------------------------
 * The block.
 */

static int ensure_capacity(gq_cuda_engine *e, int64_t leaf_rows, int64_t block_rows) {
  if (block_rows > e->order_capacity) {
    if (alloc_device(e, &e->order, sizeof(uint32_t) * (size_t)block_rows, "the order") != 0) return -1;
    e->order_capacity = block_rows;
  }
  if (block_rows > e->sse_rows) {
    double *host = realloc(e->sse_host, sizeof(double) * (size_t)block_rows);
    if (host == NULL) return fail(e, "out of memory");
    e->sse_host = host;
    if (alloc_device(e, &e->sse, sizeof(double) * (size_t)block_rows, "the losses") != 0) return -1;
    e->sse_rows = block_rows;
  }
  if (leaf_rows > e->leaf_rows) {
    e->leaf_rows = 0;
    for (int l = 0; l <= e->layers; l++)
      if (alloc_device(e, &e->acts[l], sizeof(float) * (size_t)(leaf_rows * e->sizes[l]), "activations") != 0)
        return -1;
    for (int i = 0; i < 2; i++)
      if (alloc_device(e, &e->delta[i], sizeof(float) * (size_t)(leaf_rows * e->max_units), "deltas") != 0)
        return -1;
    e->leaf_rows = leaf_rows;
  }
  return 0;
}

static CUdeviceptr take_node(gq_cuda_engine *e) {
  if (e->free_count > 0) return e->free_nodes[--e->free_count];
  if (e->node_count == GQ_MAX_NODES) {
    fail(e, "more than %d tree nodes", GQ_MAX_NODES);
    return 0;
  }
  CUdeviceptr node = 0;
  if (alloc_device(e, &node, sizeof(float) * (size_t)e->param_count, "a gradient") != 0) return 0;
  e->nodes[e->node_count++] = node;
  return node;
}

static int tree_add(gq_cuda_engine *e, CUdeviceptr left, CUdeviceptr right, int rounding) {
  gqk_tree_add_args a = {.left = left, .right = right, .n = e->param_count, .rounding = rounding};
  return launch(e, K_TREE_ADD, a.n, &a);
}

#define F(ptr, offset) ((ptr) + sizeof(float) * (size_t)(offset))

/* One leaf of n samples whose order starts at device address `order`: its gradient, unrounded, into `grad`, and its
 * rows' squared errors into `sse`. */
static int leaf_gradient(gq_cuda_engine *e, CUdeviceptr order, int64_t n, float scale, CUdeviceptr grad,
                         CUdeviceptr sse) {
  const int layers = e->layers;
  const int64_t size = e->sizes[0];
  gqk_gather_args g = {.pixels = e->pixels, .order = order, .x = e->acts[0], .n = n, .size = size};
  if (launch(e, K_GATHER, n * size, &g) != 0) return -1;
  for (int l = 0; l < layers; l++) {
    const int in = e->sizes[l], out = e->sizes[l + 1];
    if (gemm(e, GQ_CUBLAS_OP_N, GQ_CUBLAS_OP_N, out, (int)n, in, F(e->params, e->kernel_offset[l]), out,
             e->acts[l], in, e->acts[l + 1], out) != 0)
      return -1;
    gqk_bias_act_args b = {.y = e->acts[l + 1],
                           .b = F(e->params, e->bias_offset[l]),
                           .n = n,
                           .out = out,
                           .activation = l == layers - 1 ? e->output_activation : GQK_RELU};
    if (launch(e, K_BIAS_ACT, n * out, &b) != 0) return -1;
  }
  gqk_mse_delta_args m = {.y = e->acts[layers],
                          .x = e->acts[0],
                          .dz = e->delta[0],
                          .count = n * size,
                          .scale = scale,
                          .activation = e->output_activation};
  if (launch(e, K_MSE_DELTA, m.count, &m) != 0) return -1;
  gqk_row_sse_args s = {.y = e->acts[layers], .x = e->acts[0], .sse = sse, .n = n, .size = size};
  if (launch(e, K_ROW_SSE, n, &s) != 0) return -1;
  for (int l = layers - 1; l >= 0; l--) {
    const int in = e->sizes[l], out = e->sizes[l + 1];
    const CUdeviceptr dz = e->delta[(layers - 1 - l) % 2], dbelow = e->delta[(layers - l) % 2];
    if (gemm(e, GQ_CUBLAS_OP_N, GQ_CUBLAS_OP_T, out, in, (int)n, dz, out, e->acts[l], in,
             F(grad, e->kernel_offset[l]), out) != 0)
      return -1;
    gqk_col_sum_args c = {.dz = dz, .db = F(grad, e->bias_offset[l]), .n = n, .out = out};
    if (launch(e, K_COL_SUM, out, &c) != 0) return -1;
    if (l > 0) {
      if (gemm(e, GQ_CUBLAS_OP_T, GQ_CUBLAS_OP_N, in, (int)n, out, F(e->params, e->kernel_offset[l]), out, dz, out,
               dbelow, in) != 0)
        return -1;
      gqk_relu_backward_args r = {.a = e->acts[l], .dz = dbelow, .count = n * in};
      if (launch(e, K_RELU_BACKWARD, r.count, &r) != 0) return -1;
    }
  }
  return 0;
}

int gq_cuda_compute(gq_cuda_engine *e, const uint32_t *order, const int32_t *leaves, int leaf_count,
                    int64_t step_samples, int rounding, float *out_grad, double *out_losses) {
  if (e->pixels == 0) return fail(e, "no training set on the device");
  CU(cuCtxSetCurrent(e->ctx));
  const int64_t first = leaves[0];
  int64_t widest = 0;
  for (int j = 0; j < leaf_count; j++)
    if (leaves[2 * j + 1] - leaves[2 * j] > widest) widest = leaves[2 * j + 1] - leaves[2 * j];
  const int64_t block_rows = leaves[2 * leaf_count - 1] - first;
  /* kernels.cu indexes a leaf's matrices with 32-bit division. */
  if (widest * e->max_units >= ((int64_t)1 << 32)) return fail(e, "a leaf of %lld samples is too large", (long long)widest);
  if (ensure_capacity(e, widest, block_rows) != 0) return -1;
  CU(cuMemcpyHtoD_v2(e->order, order, sizeof(uint32_t) * (size_t)block_rows));
  for (int i = 0; i < e->node_count; i++) e->free_nodes[i] = e->nodes[i];
  e->free_count = e->node_count;

  const float scale = (float)(2.0 / ((double)e->sizes[0] * (double)step_samples));
  /* The binary counter of tree.ts's reduceLeaves: equal-sized neighbours merge as leaves arrive, then what is left
   * folds from the right. */
  struct {
    CUdeviceptr grad;
    int64_t leaves;
  } stack[GQ_MAX_NODES];
  int depth = 0;
  for (int j = 0; j < leaf_count; j++) {
    const int64_t start = leaves[2 * j] - first, n = leaves[2 * j + 1] - leaves[2 * j];
    CUdeviceptr grad = take_node(e);
    if (grad == 0) return -1;
    if (leaf_gradient(e, e->order + sizeof(uint32_t) * (size_t)start, n, scale, grad,
                      e->sse + sizeof(double) * (size_t)start) != 0)
      return -1;
    if (rounding != GQK_ROUND_F32 && tree_add(e, grad, 0, rounding) != 0) return -1;
    int64_t covered = 1;
    while (depth > 0 && stack[depth - 1].leaves == covered) {
      const CUdeviceptr left = stack[--depth].grad;
      if (tree_add(e, left, grad, rounding) != 0) return -1;
      e->free_nodes[e->free_count++] = grad;
      grad = left;
      covered *= 2;
    }
    stack[depth].grad = grad;
    stack[depth].leaves = covered;
    depth++;
  }
  CUdeviceptr acc = stack[--depth].grad;
  while (depth > 0) {
    const CUdeviceptr below = stack[--depth].grad;
    if (tree_add(e, below, acc, rounding) != 0) return -1;
    acc = below;
  }
  /* Synchronous copies on the default stream: they wait for every kernel and product queued above. */
  CU(cuMemcpyDtoH_v2(out_grad, acc, sizeof(float) * (size_t)e->param_count));
  CU(cuMemcpyDtoH_v2(e->sse_host, e->sse, sizeof(double) * (size_t)block_rows));
  for (int j = 0; j < leaf_count; j++) {
    const int64_t start = leaves[2 * j] - first, n = leaves[2 * j + 1] - leaves[2 * j];
    double total = 0.0;
    for (int64_t i = 0; i < n; i++) total += e->sse_host[start + i];
    out_losses[j] = total / (double)(n * e->sizes[0]);
  }
  return 0;
}
