/*
 * The CUDA engine: forward, MSE and backward of a dense autoencoder for a block of leaves on an NVIDIA GPU, and the
 * leaf tree's rounded merges, the same math as the native CPU engine (native-kernels/native/engine.h). cuBLAS SGEMM
 * does the products, kernels.cu the rest. Parameters stay on the device until the caller sends another version,
 * the training set's pixels stay there for good; per block only the block's span of the epoch's order goes up, and
 * the gradient and the losses come back.
 */
#ifndef GQ_CUDA_ENGINE_H
#define GQ_CUDA_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#define GQ_CUDA_MAX_LAYERS 16

typedef struct gq_cuda_engine gq_cuda_engine;

typedef struct {
  /* dlopen names or paths: the driver (libcuda.so.1) and cuBLAS, tried in order (libcublas.so.13, .12). */
  const char *driver;
  const char *const *cublas;
  int cublas_count;
  int device;
  /* TF32 tensor-core products (10-bit mantissas: ~1e-3 relative error) instead of float32. */
  int tf32;
} gq_cuda_options;

/* The device and libraries an engine runs on. */
typedef struct {
  char device[256];
  int cc_major, cc_minor;
  int driver_version;
  int cublas_version;
  const char *cublas_library;
} gq_cuda_info;

/*
 * Opens the libraries, the device's primary context, cuBLAS and the kernels (`image`: the fatbin from
 * scripts/build.mjs). `sizes` has `count` entries, input first. NULL on failure, with why in `error`: the first
 * thing that is missing (no driver, no GPU, no cuBLAS, no machine code for this GPU).
 */
gq_cuda_engine *gq_cuda_create(const gq_cuda_options *options, const void *image, int count, const int32_t *sizes,
                               int output_activation, char *error, size_t error_len);
void gq_cuda_destroy(gq_cuda_engine *e);
int64_t gq_cuda_param_count(const gq_cuda_engine *e);
int gq_cuda_sample_size(const gq_cuda_engine *e);
/* Samples of the training set on the device (0 before gq_cuda_set_pixels). */
int64_t gq_cuda_sample_count(const gq_cuda_engine *e);
const gq_cuda_info *gq_cuda_info_of(const gq_cuda_engine *e);
/* Why the last call returned -1. */
const char *gq_cuda_error(const gq_cuda_engine *e);

/* Copies the training set to the device (replacing any before): `count` samples of sample_size bytes. */
int gq_cuda_set_pixels(gq_cuda_engine *e, const uint8_t *pixels, int64_t count);
/* Copies parameters to the device; they stay there for every block until the next call. */
int gq_cuda_set_params(gq_cuda_engine *e, const float *params);

/*
 * One block: leaves[2j], leaves[2j+1] are leaf j's span of the epoch's order; `order` holds only the block's part of
 * it, order[0] being position leaves[0]. Writes the block's gradient, reduced over the leaf tree with `rounding`
 * (0 f32, 1 f16, 2 bf16), into out_grad and each leaf's mean squared error into out_losses. 0, or -1 (see
 * gq_cuda_error).
 */
int gq_cuda_compute(gq_cuda_engine *e, const uint32_t *order, const int32_t *leaves, int leaf_count,
                    int64_t step_samples, int rounding, float *out_grad, double *out_losses);

#endif
