/* N-API glue: argument checks, then the kernels in kernels.c. Every buffer is a caller-owned typed array. */

#include <node_api.h>
#include <stdio.h>
#include <string.h>

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

/* weightedAverage(grads: Float32Array[], counts: number[], out) */
static napi_value js_weighted_average(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 3) return fail(env, "weightedAverage: expected 3 arguments");
  bool is_array = false;
  uint32_t shards = 0, ncounts = 0;
  float *out;
  int64_t n;
  if (napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[0], &shards) != napi_ok ||
      napi_get_array_length(env, argv[1], &ncounts) != napi_ok || !get_f32(env, argv[2], &out, &n))
    return fail(env, "weightedAverage: expected (Float32Array[], number[], Float32Array)");
  if (shards == 0 || ncounts != shards || shards > 4096)
    return fail(env, "weightedAverage: need one count per gradient, and at least one gradient");
  const float *grads[shards];
  double counts[shards];
  double total = 0.0;
  for (uint32_t i = 0; i < shards; i++) {
    napi_value g, c;
    float *data;
    int64_t len;
    napi_get_element(env, argv[0], i, &g);
    napi_get_element(env, argv[1], i, &c);
    if (!get_f32(env, g, &data, &len) || len != n) return fail(env, "weightedAverage: every gradient must be a Float32Array as long as out");
    if (!get_f64(env, c, &counts[i]) || !(counts[i] >= 0.0)) return fail(env, "weightedAverage: counts must be numbers >= 0");
    grads[i] = data;
    total += counts[i];
  }
  if (!(total > 0.0)) return fail(env, "weightedAverage: the gradients cover zero samples");
  gq_weighted_average((int)shards, grads, counts, n, out);
  return NULL;
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

static napi_value init(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      {"matmul", NULL, js_matmul, NULL, NULL, NULL, napi_default, NULL},
      {"binary", NULL, js_binary, NULL, NULL, NULL, napi_default, NULL},
      {"unary", NULL, js_unary, NULL, NULL, NULL, napi_default, NULL},
      {"reduce", NULL, js_reduce, NULL, NULL, NULL, napi_default, NULL},
      {"adamUpdate", NULL, js_adam, NULL, NULL, NULL, napi_default, NULL},
      {"weightedAverage", NULL, js_weighted_average, NULL, NULL, NULL, napi_default, NULL},
      {"setNumThreads", NULL, js_set_threads, NULL, NULL, NULL, napi_default, NULL},
      {"getNumThreads", NULL, js_get_threads, NULL, NULL, NULL, napi_default, NULL},
      {"blasConfig", NULL, js_blas_config, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
