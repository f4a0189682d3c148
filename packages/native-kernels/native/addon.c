/* N-API glue: argument checks, then the kernels in kernels.c. Every buffer is a caller-owned typed array. */

#include <node_api.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "gemm.h"
#include "kernels.h"

extern void openblas_set_num_threads(int n);
extern int openblas_get_num_threads(void);
extern char *openblas_get_config(void);

#define MAX_ARGS 14

static napi_value fail(napi_env env, const char *message) {
  napi_throw_type_error(env, "ERR_GRADQ_NATIVE_ARGS", message);
  return NULL;
}

static int get_f32(napi_env env, napi_value v, float **data, int64_t *len) {
  bool is_ta = false;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) return 0;
  napi_typedarray_type type;
  size_t length;
  void *ptr;
  if (napi_get_typedarray_info(env, v, &type, &length, &ptr, NULL, NULL) != napi_ok) return 0;
  if (type != napi_float32_array) return 0;
  *data = (float *)ptr;
  *len = (int64_t)length;
  return 1;
}

/* The only argument of a call that takes one Float32Array; 0 when there is not exactly one, or it is something else. */
static int get_only_f32(napi_env env, napi_callback_info info, float **data, int64_t *len) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  return argc == 1 && get_f32(env, argv[0], data, len);
}

static int get_i32s(napi_env env, napi_value v, int32_t **data, int64_t *len) {
  bool is_ta = false;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) return 0;
  napi_typedarray_type type;
  size_t length;
  void *ptr;
  if (napi_get_typedarray_info(env, v, &type, &length, &ptr, NULL, NULL) != napi_ok) return 0;
  if (type != napi_int32_array) return 0;
  *data = (int32_t *)ptr;
  *len = (int64_t)length;
  return 1;
}

static int get_typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, int64_t *len) {
  bool is_ta = false;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) return 0;
  napi_typedarray_type type;
  size_t length;
  void *ptr;
  if (napi_get_typedarray_info(env, v, &type, &length, &ptr, NULL, NULL) != napi_ok || type != want) return 0;
  *data = ptr;
  *len = (int64_t)length;
  return 1;
}

static int get_i64(napi_env env, napi_value v, int64_t *out) { return napi_get_value_int64(env, v, out) == napi_ok; }
static int get_f64(napi_env env, napi_value v, double *out) { return napi_get_value_double(env, v, out) == napi_ok; }

static int is_nullish(napi_env env, napi_value v) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  return t == napi_null || t == napi_undefined;
}

/* matmul(transA, transB, batch, batchA, batchB, m, n, k, a, b, bias|null, activation, out) */
static napi_value js_matmul(napi_env env, napi_callback_info info) {
  size_t argc = 13;
  napi_value argv[13];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 13) return fail(env, "matmul: expected 13 arguments");
  int64_t ta, tb, batch, batch_a, batch_b, m, n, k, act, la, lb, lbias = 0, lo;
  float *a, *b, *bias = NULL, *out;
  if (!get_i64(env, argv[0], &ta) || !get_i64(env, argv[1], &tb) || !get_i64(env, argv[2], &batch) ||
      !get_i64(env, argv[3], &batch_a) || !get_i64(env, argv[4], &batch_b) || !get_i64(env, argv[5], &m) ||
      !get_i64(env, argv[6], &n) || !get_i64(env, argv[7], &k) || !get_i64(env, argv[11], &act))
    return fail(env, "matmul: dimensions must be numbers");
  if (!get_f32(env, argv[8], &a, &la) || !get_f32(env, argv[9], &b, &lb) || !get_f32(env, argv[12], &out, &lo))
    return fail(env, "matmul: a, b and out must be Float32Arrays");
  if (!is_nullish(env, argv[10]) && !get_f32(env, argv[10], &bias, &lbias))
    return fail(env, "matmul: bias must be a Float32Array or null");
  if (batch < 1 || batch_a < 1 || batch_b < 1 || m < 0 || n < 0 || k < 0 || m > 0x7fffffff || n > 0x7fffffff ||
      k > 0x7fffffff || la < batch_a * m * k || lb < batch_b * k * n || lo < batch * m * n ||
      (bias != NULL && lbias < n))
    return fail(env, "matmul: buffer sizes do not match the dimensions");
  gq_matmul((int)ta, (int)tb, batch, batch_a, batch_b, m, n, k, a, b, bias, (int)act, out);
  return NULL;
}

/* meta = [rank, outShape..., aStrides..., bStrides...]; binary(op, meta, a, b, out) */
static napi_value js_binary(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 5) return fail(env, "binary: expected 5 arguments");
  int64_t op, lm, la, lb, lo;
  int32_t *meta;
  float *a, *b, *out;
  if (!get_i64(env, argv[0], &op) || !get_i32s(env, argv[1], &meta, &lm) || !get_f32(env, argv[2], &a, &la) ||
      !get_f32(env, argv[3], &b, &lb) || !get_f32(env, argv[4], &out, &lo))
    return fail(env, "binary: expected (op, Int32Array, Float32Array, Float32Array, Float32Array)");
  const int rank = lm > 0 ? meta[0] : -1;
  if (rank < 0 || rank > GQ_MAX_RANK || lm != 1 + 3 * rank) return fail(env, "binary: bad shape metadata");
  int64_t shape[GQ_MAX_RANK], as[GQ_MAX_RANK], bs[GQ_MAX_RANK];
  int64_t size = 1, amax = 0, bmax = 0;
  for (int d = 0; d < rank; d++) {
    shape[d] = meta[1 + d];
    as[d] = meta[1 + rank + d];
    bs[d] = meta[1 + 2 * rank + d];
    size *= shape[d];
    if (shape[d] > 0) {
      amax += as[d] * (shape[d] - 1);
      bmax += bs[d] * (shape[d] - 1);
    }
  }
  if (size > 0 && (lo < size || la <= amax || lb <= bmax)) return fail(env, "binary: buffer sizes do not match");
  if (size > 0) gq_binary((int)op, rank, shape, as, bs, a, b, out);
  return NULL;
}

/* unary(op, x, alpha, out) */
static napi_value js_unary(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 4) return fail(env, "unary: expected 4 arguments");
  int64_t op, lx, lo;
  double alpha;
  float *x, *out;
  if (!get_i64(env, argv[0], &op) || !get_f32(env, argv[1], &x, &lx) || !get_f64(env, argv[2], &alpha) ||
      !get_f32(env, argv[3], &out, &lo) || lo < lx)
    return fail(env, "unary: expected (op, Float32Array, number, Float32Array of the same length)");
  gq_unary((int)op, lx, x, (float)alpha, out);
  return NULL;
}

/* meta = [rank, kept, shape..., strides...]; reduce(meta, x, divisor, out) */
static napi_value js_reduce(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 4) return fail(env, "reduce: expected 4 arguments");
  int64_t lm, lx, lo;
  int32_t *meta;
  double divisor;
  float *x, *out;
  if (!get_i32s(env, argv[0], &meta, &lm) || !get_f32(env, argv[1], &x, &lx) || !get_f64(env, argv[2], &divisor) ||
      !get_f32(env, argv[3], &out, &lo))
    return fail(env, "reduce: expected (Int32Array, Float32Array, number, Float32Array)");
  const int rank = lm > 1 ? meta[0] : -1;
  const int kept = lm > 1 ? meta[1] : -1;
  if (rank < 0 || rank > GQ_MAX_RANK || kept < 0 || kept > rank || lm != 2 + 2 * rank)
    return fail(env, "reduce: bad shape metadata");
  int64_t shape[GQ_MAX_RANK], strides[GQ_MAX_RANK];
  int64_t out_size = 1, size = 1, xmax = 0;
  for (int d = 0; d < rank; d++) {
    shape[d] = meta[2 + d];
    strides[d] = meta[2 + rank + d];
    size *= shape[d];
    if (d < kept) out_size *= shape[d];
    if (shape[d] > 0) xmax += strides[d] * (shape[d] - 1);
  }
  if (lo < out_size || (size > 0 && lx <= xmax)) return fail(env, "reduce: buffer sizes do not match");
  gq_reduce(rank, kept, shape, strides, x, (float)divisor, out);
  return NULL;
}

/* adamUpdate(params, m, v, grad, lr, beta1, beta2, epsilon, accBeta1, accBeta2) */
static napi_value js_adam(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 10) return fail(env, "adamUpdate: expected 10 arguments");
  float *p, *m, *v, *g;
  int64_t lp, lm, lv, lg;
  double lr, b1, b2, eps, acc1, acc2;
  if (!get_f32(env, argv[0], &p, &lp) || !get_f32(env, argv[1], &m, &lm) || !get_f32(env, argv[2], &v, &lv) ||
      !get_f32(env, argv[3], &g, &lg))
    return fail(env, "adamUpdate: params, m, v and grad must be Float32Arrays");
  if (lm != lp || lv != lp || lg != lp) return fail(env, "adamUpdate: params, m, v and grad must have equal lengths");
  if (!get_f64(env, argv[4], &lr) || !get_f64(env, argv[5], &b1) || !get_f64(env, argv[6], &b2) ||
      !get_f64(env, argv[7], &eps) || !get_f64(env, argv[8], &acc1) || !get_f64(env, argv[9], &acc2))
    return fail(env, "adamUpdate: hyperparameters must be numbers");
  gq_adam(lp, p, m, v, g, lr, b1, b2, eps, (float)acc1, (float)acc2);
  return NULL;
}

/* paramsHash(params): the two 32-bit halves of gq_params_hash as 16 hex digits, high half first. */
static napi_value js_params_hash(napi_env env, napi_callback_info info) {
  float *p;
  int64_t n;
  if (!get_only_f32(env, info, &p, &n)) return fail(env, "paramsHash: expected one Float32Array");
  uint32_t h[2];
  gq_params_hash(n, (const uint32_t *)p, h);
  char hex[17];
  snprintf(hex, sizeof hex, "%08x%08x", h[0], h[1]);
  napi_value out;
  napi_create_string_utf8(env, hex, 16, &out);
  return out;
}

/* ---------------------------------------------------------------------------------------------------------------
 * The fused engine (engine.c). Its arguments arrive once per job, so every size and index is checked here and a
 * bad one throws, naming the argument: the C side trusts what it is given.
 */

/* Marks handles from engineCreate, so that engineCompute never unwraps some other addon's object. */
static const napi_type_tag ENGINE_TAG = {0x67726164715f656eULL, 0x67696e655f637075ULL};

static napi_value failf(napi_env env, int range, const char *format, ...) {
  char message[320];
  va_list args;
  va_start(args, format);
  vsnprintf(message, sizeof(message), format, args);
  va_end(args);
  if (range) napi_throw_range_error(env, "ERR_GRADQ_NATIVE_ARGS", message);
  else napi_throw_type_error(env, "ERR_GRADQ_NATIVE_ARGS", message);
  return NULL;
}

/* An integral number within +-2^53: napi_get_value_int64 alone would turn 1.5 into 1 and NaN into 0. */
static int get_integer(napi_env env, napi_value v, int64_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= -9007199254740992.0 && d <= 9007199254740992.0)) return 0;
  *out = (int64_t)d;
  return (double)*out == d;
}

static int overlaps(const void *a, int64_t a_bytes, const void *b, int64_t b_bytes) {
  const char *pa = a, *pb = b;
  return a_bytes > 0 && b_bytes > 0 && pa < pb + b_bytes && pb < pa + a_bytes;
}

static void engine_finalize(napi_env env, void *data, void *hint) { gq_engine_destroy((gq_engine *)data); }

/* engineCreate(layerSizes: Int32Array, outputActivation: 0 relu | 1 sigmoid | 2 linear) -> { paramCount } */
static napi_value js_engine_create(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 2) return failf(env, 0, "engineCreate: expected 2 arguments (layerSizes, outputActivation)");
  int32_t *sizes;
  int64_t count, activation;
  if (!get_i32s(env, argv[0], &sizes, &count)) return failf(env, 0, "engineCreate: layerSizes must be an Int32Array");
  if (count < 2 || count > GQ_ENGINE_MAX_LAYERS + 1)
    return failf(env, 1, "engineCreate: layerSizes must hold 2 to %d sizes, got %lld", GQ_ENGINE_MAX_LAYERS + 1,
                 (long long)count);
  int64_t params = 0;
  for (int64_t l = 0; l < count; l++) {
    if (sizes[l] < 1 || sizes[l] > GQ_ENGINE_MAX_UNITS)
      return failf(env, 1, "engineCreate: layerSizes[%lld] = %d is not from 1 to %d", (long long)l, sizes[l],
                   GQ_ENGINE_MAX_UNITS);
    if (l > 0) params += (int64_t)sizes[l - 1] * sizes[l] + sizes[l];
  }
  if (sizes[count - 1] != sizes[0])
    return failf(env, 1, "engineCreate: layerSizes must end with the input size %d (an autoencoder), got %d", sizes[0],
                 sizes[count - 1]);
  if (params > 0x7fffffff) return failf(env, 1, "engineCreate: %lld parameters, more than 2^31 - 1", (long long)params);
  if (!get_integer(env, argv[1], &activation) || activation < GQ_OUT_RELU || activation > GQ_OUT_LINEAR)
    return failf(env, 1, "engineCreate: outputActivation must be 0 (relu), 1 (sigmoid) or 2 (linear)");
  gq_engine *engine = gq_engine_create((int)count, sizes, (int)activation);
  if (engine == NULL) {
    napi_throw_error(env, "ERR_GRADQ_NATIVE_MEMORY", "engineCreate: out of memory");
    return NULL;
  }
  napi_value handle, param_count;
  if (napi_create_object(env, &handle) != napi_ok ||
      napi_wrap(env, handle, engine, engine_finalize, NULL, NULL) != napi_ok) {
    gq_engine_destroy(engine);
    napi_throw_error(env, "ERR_GRADQ_NATIVE_MEMORY", "engineCreate: could not create the handle");
    return NULL;
  }
  napi_type_tag_object(env, handle, &ENGINE_TAG);
  napi_create_int64(env, gq_engine_param_count(engine), &param_count);
  napi_set_named_property(env, handle, "paramCount", param_count);
  return handle;
}

static gq_engine *get_engine(napi_env env, napi_value v) {
  napi_valuetype type;
  bool tagged = false;
  void *engine = NULL;
  if (napi_typeof(env, v, &type) != napi_ok || type != napi_object ||
      napi_check_object_type_tag(env, v, &ENGINE_TAG, &tagged) != napi_ok || !tagged ||
      napi_unwrap(env, v, &engine) != napi_ok)
    return NULL;
  return engine;
}

/* engineCompute(handle, params, pixels, sampleSize, order, leaves, stepSamples, rounding, outGrad, outLosses) */
static napi_value js_engine_compute(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 10)
    return failf(env, 0, "engineCompute: expected 10 arguments (handle, params, pixels, sampleSize, order, leaves, "
                         "stepSamples, rounding, outGrad, outLosses)");
  gq_engine *engine = get_engine(env, argv[0]);
  if (engine == NULL) return failf(env, 0, "engineCompute: handle must be an engine from engineCreate");
  const int64_t param_count = gq_engine_param_count(engine);
  float *params, *out_grad;
  uint8_t *pixels;
  uint32_t *order;
  int32_t *leaves;
  double *out_losses;
  int64_t n_params, n_pixels, n_order, n_leaves, n_grad, n_losses, sample_size, step_samples, rounding;
  if (!get_typed(env, argv[1], napi_float32_array, (void **)&params, &n_params))
    return failf(env, 0, "engineCompute: params must be a Float32Array");
  if (n_params != param_count)
    return failf(env, 1, "engineCompute: params has %lld values, the model has %lld", (long long)n_params,
                 (long long)param_count);
  if (!get_typed(env, argv[2], napi_uint8_array, (void **)&pixels, &n_pixels))
    return failf(env, 0, "engineCompute: pixels must be a Uint8Array");
  if (!get_integer(env, argv[3], &sample_size) || sample_size != gq_engine_sample_size(engine))
    return failf(env, 1, "engineCompute: sampleSize must be the model's input size %d", gq_engine_sample_size(engine));
  if (n_pixels % sample_size != 0)
    return failf(env, 1, "engineCompute: pixels has %lld bytes, not a whole number of %lld-byte samples",
                 (long long)n_pixels, (long long)sample_size);
  const int64_t samples = n_pixels / sample_size;
  if (!get_typed(env, argv[4], napi_uint32_array, (void **)&order, &n_order))
    return failf(env, 0, "engineCompute: order must be a Uint32Array");
  if (!get_typed(env, argv[5], napi_int32_array, (void **)&leaves, &n_leaves))
    return failf(env, 0, "engineCompute: leaves must be an Int32Array");
  if (n_leaves < 2 || n_leaves % 2 != 0)
    return failf(env, 1, "engineCompute: leaves must hold (start, end) pairs, at least one, got %lld values",
                 (long long)n_leaves);
  const int64_t leaf_count = n_leaves / 2;
  for (int64_t i = 0; i < leaf_count; i++) {
    const int32_t start = leaves[2 * i], end = leaves[2 * i + 1];
    if (start < 0 || end <= start || end > n_order)
      return failf(env, 1, "engineCompute: leaves: leaf %lld [%d, %d) is empty or outside order's %lld positions",
                   (long long)i, start, end, (long long)n_order);
    if (i > 0 && start != leaves[2 * i - 1])
      return failf(env, 1, "engineCompute: leaves: leaf %lld starts at %d, not where leaf %lld ends (%d)",
                   (long long)i, start, (long long)(i - 1), leaves[2 * i - 1]);
  }
  const int64_t first = leaves[0], last = leaves[n_leaves - 1];
  if (!get_integer(env, argv[6], &step_samples) || step_samples < last - first)
    return failf(env, 1, "engineCompute: stepSamples must be an integer of at least the block's %lld samples",
                 (long long)(last - first));
  if (!get_integer(env, argv[7], &rounding) || rounding < GQ_ROUND_F32 || rounding > GQ_ROUND_BF16)
    return failf(env, 1, "engineCompute: rounding must be 0 (f32), 1 (f16) or 2 (bf16)");
  if (!get_typed(env, argv[8], napi_float32_array, (void **)&out_grad, &n_grad))
    return failf(env, 0, "engineCompute: outGrad must be a Float32Array");
  if (n_grad != param_count)
    return failf(env, 1, "engineCompute: outGrad has %lld values, the model has %lld", (long long)n_grad,
                 (long long)param_count);
  if (!get_typed(env, argv[9], napi_float64_array, (void **)&out_losses, &n_losses))
    return failf(env, 0, "engineCompute: outLosses must be a Float64Array");
  if (n_losses != leaf_count)
    return failf(env, 1, "engineCompute: outLosses has %lld values for %lld leaves", (long long)n_losses,
                 (long long)leaf_count);
  const int64_t grad_bytes = n_grad * 4, loss_bytes = n_losses * 8;
  if (overlaps(out_grad, grad_bytes, params, n_params * 4) || overlaps(out_grad, grad_bytes, pixels, n_pixels) ||
      overlaps(out_grad, grad_bytes, order, n_order * 4) || overlaps(out_grad, grad_bytes, leaves, n_leaves * 4) ||
      overlaps(out_grad, grad_bytes, out_losses, loss_bytes))
    return failf(env, 1, "engineCompute: outGrad shares memory with another argument");
  if (overlaps(out_losses, loss_bytes, params, n_params * 4) || overlaps(out_losses, loss_bytes, pixels, n_pixels) ||
      overlaps(out_losses, loss_bytes, order, n_order * 4) || overlaps(out_losses, loss_bytes, leaves, n_leaves * 4))
    return failf(env, 1, "engineCompute: outLosses shares memory with another argument");
  for (int64_t i = first; i < last; i++) {
    if (order[i] >= samples)
      return failf(env, 1, "engineCompute: order[%lld] = %u is not one of the %lld samples in pixels", (long long)i,
                   order[i], (long long)samples);
  }
  if (gq_engine_compute(engine, params, pixels, order, leaves, (int)leaf_count, step_samples, (int)rounding, out_grad,
                        out_losses) != 0) {
    napi_throw_error(env, "ERR_GRADQ_NATIVE_MEMORY", "engineCompute: out of memory growing the scratch buffers");
  }
  return NULL;
}

/* treeAdd(left, right, rounding): left = round(left + right) in place, tree.ts's addRounded. */
static napi_value js_tree_add(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 3) return failf(env, 0, "treeAdd: expected 3 arguments (left, right, rounding)");
  float *left, *right;
  int64_t n_left, n_right, rounding;
  if (!get_f32(env, argv[0], &left, &n_left)) return failf(env, 0, "treeAdd: left must be a Float32Array");
  if (!get_f32(env, argv[1], &right, &n_right)) return failf(env, 0, "treeAdd: right must be a Float32Array");
  if (n_left != n_right)
    return failf(env, 1, "treeAdd: left has %lld values, right %lld", (long long)n_left, (long long)n_right);
  if (!get_integer(env, argv[2], &rounding) || rounding < GQ_ROUND_F32 || rounding > GQ_ROUND_BF16)
    return failf(env, 1, "treeAdd: rounding must be 0 (f32), 1 (f16) or 2 (bf16)");
  /* The same array twice is fine (element by element); a shifted view would read values already overwritten. */
  if (left != right && overlaps(left, n_left * 4, right, n_right * 4))
    return failf(env, 1, "treeAdd: left and right overlap");
  gq_tree_add(left, right, n_left, (int)rounding);
  return NULL;
}

/* firstNonFinite(values): the index of the first NaN or infinity, or -1. */
static napi_value js_first_non_finite(napi_env env, napi_callback_info info) {
  float *values;
  int64_t n;
  if (!get_only_f32(env, info, &values, &n)) return failf(env, 0, "firstNonFinite: expected one Float32Array");
  napi_value out;
  napi_create_double(env, (double)gq_first_non_finite(values, n), &out);
  return out;
}

static napi_value js_set_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int64_t n;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 1 || !get_i64(env, argv[0], &n) || n < 1 || n > 1024)
    return fail(env, "setNumThreads: expected an integer from 1 to 1024");
  openblas_set_num_threads((int)n);
  return NULL;
}

static napi_value js_get_threads(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  napi_create_int32(env, openblas_get_num_threads(), &out);
  return out;
}

static napi_value js_blas_config(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  const char *config = openblas_get_config();
  napi_create_string_utf8(env, config ? config : "", NAPI_AUTO_LENGTH, &out);
  return out;
}

static napi_value js_gemm_kernel(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  napi_create_string_utf8(env, gq_gemm_kernel(), NAPI_AUTO_LENGTH, &out);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      {"matmul", NULL, js_matmul, NULL, NULL, NULL, napi_default, NULL},
      {"binary", NULL, js_binary, NULL, NULL, NULL, napi_default, NULL},
      {"unary", NULL, js_unary, NULL, NULL, NULL, napi_default, NULL},
      {"reduce", NULL, js_reduce, NULL, NULL, NULL, napi_default, NULL},
      {"adamUpdate", NULL, js_adam, NULL, NULL, NULL, napi_default, NULL},
      {"paramsHash", NULL, js_params_hash, NULL, NULL, NULL, napi_default, NULL},
      {"engineCreate", NULL, js_engine_create, NULL, NULL, NULL, napi_default, NULL},
      {"engineCompute", NULL, js_engine_compute, NULL, NULL, NULL, napi_default, NULL},
      {"treeAdd", NULL, js_tree_add, NULL, NULL, NULL, napi_default, NULL},
      {"firstNonFinite", NULL, js_first_non_finite, NULL, NULL, NULL, napi_default, NULL},
      {"setNumThreads", NULL, js_set_threads, NULL, NULL, NULL, napi_default, NULL},
      {"getNumThreads", NULL, js_get_threads, NULL, NULL, NULL, napi_default, NULL},
      {"blasConfig", NULL, js_blas_config, NULL, NULL, NULL, napi_default, NULL},
      {"gemmKernel", NULL, js_gemm_kernel, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
