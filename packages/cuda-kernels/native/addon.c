/* N-API glue of the CUDA engine: argument checks, then cuda-engine.c. Every buffer is a caller-owned typed array. */
#include <node_api.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda-engine.h"

#define MAX_LIBRARIES 4

static const napi_type_tag ENGINE_TAG = {0x6772616471637564ULL, 0x61656e67696e6531ULL};

/* A handle owns its engine until engineDestroy or the garbage collector, whichever comes first. */
typedef struct {
  gq_cuda_engine *engine;
} handle_box;

static napi_value throwf(napi_env env, const char *code, const char *format, ...) {
  char message[768];
  va_list args;
  va_start(args, format);
  vsnprintf(message, sizeof message, format, args);
  va_end(args);
  if (strcmp(code, "ERR_GRADQ_CUDA_ARGS") == 0) napi_throw_type_error(env, code, message);
  else napi_throw_error(env, code, message);
  return NULL;
}

static int get_typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len) {
  bool is_ta = false;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) return 0;
  napi_typedarray_type type;
  if (napi_get_typedarray_info(env, v, &type, len, data, NULL, NULL) != napi_ok || type != want) return 0;
  return 1;
}

static int get_integer(napi_env env, napi_value v, int64_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || d != (double)(int64_t)d) return 0;
  *out = (int64_t)d;
  return 1;
}

static int get_string(napi_env env, napi_value v, char *out, size_t size) {
  size_t len;
  return napi_get_value_string_utf8(env, v, out, size, &len) == napi_ok && len < size - 1;
}

static void engine_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  handle_box *box = data;
  gq_cuda_destroy(box->engine);
  free(box);
}

static handle_box *get_box(napi_env env, napi_value v) {
  napi_valuetype type;
  bool tagged = false;
  void *box = NULL;
  if (napi_typeof(env, v, &type) != napi_ok || type != napi_object) return NULL;
  if (napi_check_object_type_tag(env, v, &ENGINE_TAG, &tagged) != napi_ok || !tagged) return NULL;
  if (napi_unwrap(env, v, &box) != napi_ok) return NULL;
  return box;
}

static gq_cuda_engine *get_engine(napi_env env, napi_value v, const char *fn) {
  handle_box *box = get_box(env, v);
  if (box == NULL) {
    throwf(env, "ERR_GRADQ_CUDA_ARGS", "%s: the first argument must be a handle from engineCreate", fn);
    return NULL;
  }
  if (box->engine == NULL) {
    throwf(env, "ERR_GRADQ_CUDA_DISPOSED", "%s: the engine was destroyed", fn);
    return NULL;
  }
  return box->engine;
}

static void set_int(napi_env env, napi_value obj, const char *name, int64_t value) {
  napi_value v;
  napi_create_int64(env, value, &v);
  napi_set_named_property(env, obj, name, v);
}

static void set_string(napi_env env, napi_value obj, const char *name, const char *value) {
  napi_value v;
  napi_create_string_utf8(env, value ? value : "", NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, name, v);
}

/* engineCreate(image, layerSizes, outputActivation, driver, cublas[], device, tf32) */
static napi_value js_create(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 7) return throwf(env, "ERR_GRADQ_CUDA_ARGS", "engineCreate: expected 7 arguments");
  void *image;
  size_t image_len, count;
  int32_t *sizes;
  int64_t activation, device;
  bool tf32 = false;
  if (!get_typed(env, argv[0], napi_uint8_array, &image, &image_len))
    return throwf(env, "ERR_GRADQ_CUDA_ARGS", "engineCreate: image must be a Uint8Array");
  if (!get_typed(env, argv[1], napi_int32_array, (void **)&sizes, &count) || count < 2 ||
      count > GQ_CUDA_MAX_LAYERS + 1)
    return throwf(env, "ERR_GRADQ_CUDA_ARGS", "engineCreate: layerSizes must be an Int32Array of 2 to %d sizes",
                  GQ_CUDA_MAX_LAYERS + 1);
  int64_t params = 0;
  for (size_t l = 0; l < count; l++) {
    if (sizes[l] < 1 || sizes[l] > 65536)
      return throwf(env, "ERR_GRADQ_CUDA_ARGS", "engineCreate: layerSizes[%zu] = %d is not from 1 to 65536", l,
                    sizes[l]);
    if (l > 0) params += (int64_t)sizes[l - 1] * sizes[l] + sizes[l];
  }
  if (sizes[count - 1] != sizes[0])
    return throwf(env, "ERR_GRADQ_CUDA_ARGS", "engineCreate: layerSizes must end with the input size %d", sizes[0]);
  if (params > 0x7fffffff)
    return throwf(env, "ERR_GRADQ_CUDA_ARGS", "engineCreate: %lld parameters, more than 2^31 - 1", (long long)params);
  if (!get_integer(env, argv[2], &activation) || activation < 0 || activation > 2)
    return throwf(env, "ERR_GRADQ_CUDA_ARGS", "engineCreate: outputActivation must be 0, 1 or 2");
  char driver[512];
  if (!get_string(env, argv[3], driver, sizeof driver))
    return throwf(env, "ERR_GRADQ_CUDA_ARGS", "engineCreate: driver must be a library name or path");
  bool is_array = false;
  uint32_t cublas_count = 0;
  if (napi_is_array(env, argv[4], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[4], &cublas_count) != napi_ok || cublas_count < 1 ||
      cublas_count > MAX_LIBRARIES)
    return throwf(env, "ERR_GRADQ_CUDA_ARGS", "engineCreate: cublas must be 1 to %d library names", MAX_LIBRARIES);
  /* Static: the engine keeps a pointer to the name it opened (gq_cuda_info.cublas_library). */
  static char cublas[MAX_LIBRARIES][512];
  const char *cublas_names[MAX_LIBRARIES];
  for (uint32_t i = 0; i < cublas_count; i++) {
    napi_value name;
    char buf[512];
    if (napi_get_element(env, argv[4], i, &name) != napi_ok || !get_string(env, name, buf, sizeof buf))
      return throwf(env, "ERR_GRADQ_CUDA_ARGS", "engineCreate: cublas[%u] must be a library name or path", i);
    /* Interned: a name seen before keeps its slot, so an engine's pointer never changes under it. */
    int slot = -1;
    for (int s = 0; s < MAX_LIBRARIES && slot < 0; s++)
      if (cublas[s][0] == '\0' || strcmp(cublas[s], buf) == 0) slot = s;
    if (slot < 0) return throwf(env, "ERR_GRADQ_CUDA_ARGS", "engineCreate: more than %d cuBLAS names", MAX_LIBRARIES);
    snprintf(cublas[slot], sizeof cublas[slot], "%s", buf);
    cublas_names[i] = cublas[slot];
  }
  if (!get_integer(env, argv[5], &device) || device < 0 || device > 1024)
    return throwf(env, "ERR_GRADQ_CUDA_ARGS", "engineCreate: device must be a GPU ordinal");
  if (napi_get_value_bool(env, argv[6], &tf32) != napi_ok)
    return throwf(env, "ERR_GRADQ_CUDA_ARGS", "engineCreate: tf32 must be a boolean");

  const gq_cuda_options options = {.driver = driver,
                                   .cublas = cublas_names,
                                   .cublas_count = (int)cublas_count,
                                   .device = (int)device,
                                   .tf32 = tf32};
  char error[512] = "";
  gq_cuda_engine *engine =
      gq_cuda_create(&options, image, (int)count, sizes, (int)activation, error, sizeof error);
  if (engine == NULL) return throwf(env, "ERR_GRADQ_CUDA_UNAVAILABLE", "%s", error);
  handle_box *box = malloc(sizeof(handle_box));
  napi_value handle;
  if (box == NULL || napi_create_object(env, &handle) != napi_ok ||
      napi_wrap(env, handle, box, engine_finalize, NULL, NULL) != napi_ok) {
    free(box);
    gq_cuda_destroy(engine);
    return throwf(env, "ERR_GRADQ_CUDA_MEMORY", "engineCreate: could not create the handle");
  }
  box->engine = engine;
  napi_type_tag_object(env, handle, &ENGINE_TAG);
  const gq_cuda_info *i = gq_cuda_info_of(engine);
  set_int(env, handle, "paramCount", gq_cuda_param_count(engine));
  set_string(env, handle, "device", i->device);
  char cc[32];
  snprintf(cc, sizeof cc, "%d.%d", i->cc_major, i->cc_minor);
  set_string(env, handle, "computeCapability", cc);
  set_int(env, handle, "driverVersion", i->driver_version);
  set_int(env, handle, "cublasVersion", i->cublas_version);
  set_string(env, handle, "cublasLibrary", i->cublas_library);
  return handle;
}

/* engineDestroy(handle): frees the device memory now rather than at the next garbage collection. */
static napi_value js_destroy(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  handle_box *box = argc == 1 ? get_box(env, argv[0]) : NULL;
  if (box == NULL) return throwf(env, "ERR_GRADQ_CUDA_ARGS", "engineDestroy: expected a handle from engineCreate");
  gq_cuda_destroy(box->engine);
  box->engine = NULL;
  return NULL;
}

/* engineSetPixels(handle, pixels): whole samples of the model's input size. */
static napi_value js_set_pixels(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 2) return throwf(env, "ERR_GRADQ_CUDA_ARGS", "engineSetPixels: expected 2 arguments");
  gq_cuda_engine *e = get_engine(env, argv[0], "engineSetPixels");
  if (e == NULL) return NULL;
  uint8_t *pixels;
  size_t len;
  const int size = gq_cuda_sample_size(e);
  if (!get_typed(env, argv[1], napi_uint8_array, (void **)&pixels, &len) || len % (size_t)size != 0)
    return throwf(env, "ERR_GRADQ_CUDA_ARGS", "engineSetPixels: pixels must be a Uint8Array of whole %d-byte samples",
                  size);
  if (gq_cuda_set_pixels(e, pixels, (int64_t)(len / (size_t)size)) != 0)
    return throwf(env, "ERR_GRADQ_CUDA", "engineSetPixels: %s", gq_cuda_error(e));
  return NULL;
}

/* engineSetParams(handle, params) */
static napi_value js_set_params(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 2) return throwf(env, "ERR_GRADQ_CUDA_ARGS", "engineSetParams: expected 2 arguments");
  gq_cuda_engine *e = get_engine(env, argv[0], "engineSetParams");
  if (e == NULL) return NULL;
  float *params;
  size_t len;
  if (!get_typed(env, argv[1], napi_float32_array, (void **)&params, &len) ||
      (int64_t)len != gq_cuda_param_count(e))
    return throwf(env, "ERR_GRADQ_CUDA_ARGS", "engineSetParams: params must be a Float32Array of %lld values",
                  (long long)gq_cuda_param_count(e));
  if (gq_cuda_set_params(e, params) != 0)
    return throwf(env, "ERR_GRADQ_CUDA", "engineSetParams: %s", gq_cuda_error(e));
  return NULL;
}

/* engineCompute(handle, order, leaves, stepSamples, rounding, outGrad, outLosses): `order` is the block's part of
 * the epoch's order (order[0] at position leaves[0]). */
static napi_value js_compute(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 7) return throwf(env, "ERR_GRADQ_CUDA_ARGS", "engineCompute: expected 7 arguments");
  gq_cuda_engine *e = get_engine(env, argv[0], "engineCompute");
  if (e == NULL) return NULL;
  uint32_t *order;
  int32_t *leaves;
  float *grad;
  double *losses;
  size_t order_len, leaves_len, grad_len, losses_len;
  int64_t step_samples, rounding;
  if (!get_typed(env, argv[1], napi_uint32_array, (void **)&order, &order_len))
    return throwf(env, "ERR_GRADQ_CUDA_ARGS", "engineCompute: order must be a Uint32Array");
  if (!get_typed(env, argv[2], napi_int32_array, (void **)&leaves, &leaves_len) || leaves_len < 2 ||
      leaves_len % 2 != 0 || leaves_len / 2 > 0x7fffffff)
    return throwf(env, "ERR_GRADQ_CUDA_ARGS", "engineCompute: leaves must be an Int32Array of [start, end) pairs");
  if (!get_integer(env, argv[3], &step_samples) || !get_integer(env, argv[4], &rounding) || rounding < 0 ||
      rounding > 2)
    return throwf(env, "ERR_GRADQ_CUDA_ARGS", "engineCompute: stepSamples and rounding (0 to 2) must be integers");
  if (!get_typed(env, argv[5], napi_float32_array, (void **)&grad, &grad_len) ||
      (int64_t)grad_len != gq_cuda_param_count(e))
    return throwf(env, "ERR_GRADQ_CUDA_ARGS", "engineCompute: outGrad must be a Float32Array of %lld values",
                  (long long)gq_cuda_param_count(e));
  const int leaf_count = (int)(leaves_len / 2);
  if (!get_typed(env, argv[6], napi_float64_array, (void **)&losses, &losses_len) ||
      losses_len < (size_t)leaf_count)
    return throwf(env, "ERR_GRADQ_CUDA_ARGS", "engineCompute: outLosses must be a Float64Array of %d values",
                  leaf_count);
  int64_t total = 0;
  for (int j = 0; j < leaf_count; j++) {
    if (leaves[2 * j + 1] <= leaves[2 * j] || (j > 0 && leaves[2 * j] != leaves[2 * j - 1]))
      return throwf(env, "ERR_GRADQ_CUDA_ARGS", "engineCompute: leaf %d [%d, %d) does not follow the previous one", j,
                    leaves[2 * j], leaves[2 * j + 1]);
    total += leaves[2 * j + 1] - leaves[2 * j];
  }
  if ((int64_t)order_len != total || step_samples < total)
    return throwf(env, "ERR_GRADQ_CUDA_ARGS", "engineCompute: %zu order entries and %lld step samples for %lld",
                  order_len, (long long)step_samples, (long long)total);
  /* A sample index past the training set would read outside the device's copy of it. */
  const int64_t samples = gq_cuda_sample_count(e);
  for (size_t i = 0; i < order_len; i++)
    if ((int64_t)order[i] >= samples)
      return throwf(env, "ERR_GRADQ_CUDA_ARGS", "engineCompute: order[%zu] = %u, %lld samples held", i, order[i],
                    (long long)samples);
  if (gq_cuda_compute(e, order, leaves, leaf_count, step_samples, (int)rounding, grad, losses) != 0)
    return throwf(env, "ERR_GRADQ_CUDA", "engineCompute: %s", gq_cuda_error(e));
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      {"engineCreate", NULL, js_create, NULL, NULL, NULL, napi_default, NULL},
      {"engineDestroy", NULL, js_destroy, NULL, NULL, NULL, napi_default, NULL},
      {"engineSetPixels", NULL, js_set_pixels, NULL, NULL, NULL, napi_default, NULL},
      {"engineSetParams", NULL, js_set_params, NULL, NULL, NULL, napi_default, NULL},
      {"engineCompute", NULL, js_compute, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
