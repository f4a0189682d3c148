/*
 * The CUDA engine's own kernels: everything but the products (cuBLAS SGEMM does those). Each is the elementwise or
 * row/column loop of the native CPU engine (native-kernels/native/engine.c) with the same float operations in the
 * same order, so the only differences from the CPU engine come from cuBLAS's summation order (and exp in double).
 *
 * One source, two compilers: nvcc builds it into the fatbin the addon loads (scripts/build.mjs), and gcc builds it
 * as plain C into the fake driver of the tests (test/fake-cuda.c), whose cuLaunchKernel calls these functions by
 * name. So the tests without a GPU run this very code. Every kernel is a grid-stride loop; on the host the loop
 * simply covers every index.
 *
 * Built with --fmad=false: nvcc fuses a * b + c into one FMA by default, and the CPU engine is compiled with
 * -ffp-contract=off (its bits are pinned, see native-kernels' binding.gyp); without fusion the elementwise results
 * are the CPU's bit for bit, and the wire roundings' `(x + 0.5) - 0.5` trick stays exact.
 */
#include "kernel-args.h"

#ifdef __CUDACC__
#define GQ_KERNEL(name, type) extern "C" __global__ void name(const type a)
#define GQ_FOR(i, n) \
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (int64_t)blockDim.x * gridDim.x)
#define GQ_INLINE __device__ static inline
GQ_INLINE uint32_t f2u(float f) { return __float_as_uint(f); }
GQ_INLINE float u2f(uint32_t u) { return __uint_as_float(u); }
#else
#include <math.h>
#include <string.h>
/* The fake driver's cuLaunchKernel calls `name(kernelParams)`: the struct is kernelParams[0]. */
#define GQ_KERNEL(name, type)                                                         \
  static void name##_body(const type a);                                              \
  void name(void **params) { name##_body(*(const type *)params[0]); }                 \
  static void name##_body(const type a)
#define GQ_FOR(i, n) for (int64_t i = 0; i < (n); i++)
#define GQ_INLINE static inline
GQ_INLINE uint32_t f2u(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}
GQ_INLINE float u2f(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}
#endif

/* Row of element i of a (rows, width) matrix. GPUs emulate 64-bit division in tens of instructions; a block's
 * matrices have far fewer than 2^32 elements (4,096 samples x 784 pixels: 3.2 million), so 32 bits do. */
GQ_INLINE int64_t row_of(int64_t i, int64_t width) { return (int64_t)((uint32_t)i / (uint32_t)width); }

GQ_KERNEL(gqk_gather, gqk_gather_args) {
  /* MNIST bytes to inputs: v / 255 in double, stored as float32 (@gradq/model's pixels.ts). */
  GQ_FOR(i, a.n * a.size) {
    const int64_t row = row_of(i, a.size), p = i - row * a.size;
    a.x[i] = (float)((double)a.pixels[(int64_t)a.order[row] * a.size + p] / 255.0);
  }
}

GQ_KERNEL(gqk_bias_act, gqk_bias_act_args) {
  GQ_FOR(i, a.n * a.out) {
    const float z = a.y[i] + a.b[i - row_of(i, a.out) * a.out];
    if (a.activation == GQK_RELU) {
      /* tfjs's relu: NaN stays NaN, -0 becomes +0. */
      a.y[i] = (z > 0.0f || z != z) ? z : 0.0f;
    } else if (a.activation == GQK_SIGMOID) {
      /* tfjs's sigmoid: 1 / (1 + exp(-z)) in double, stored as float32. */
      a.y[i] = (float)(1.0 / (1.0 + exp(-(double)z)));
    } else {
      a.y[i] = z;
    }
  }
}

GQ_KERNEL(gqk_mse_delta, gqk_mse_delta_args) {
  /* relu' is 1 where y > 0 (tfjs's relu gradient); sigmoid' is y (1 - y). */
  GQ_FOR(i, a.count) {
    const float y = a.y[i], d = y - a.x[i];
    if (a.activation == GQK_RELU) a.dz[i] = y > 0.0f ? a.scale * d : 0.0f;
    else if (a.activation == GQK_SIGMOID) a.dz[i] = a.scale * d * (y * (1.0f - y));
    else a.dz[i] = a.scale * d;
  }
}

GQ_KERNEL(gqk_row_sse, gqk_row_sse_args) {
  GQ_FOR(row, a.n) {
    const float *y = a.y + row * a.size, *x = a.x + row * a.size;
    double sum = 0.0;
    for (int64_t p = 0; p < a.size; p++) {
      const float d = y[p] - x[p];
      sum += (double)d * (double)d;
    }
    a.sse[row] = sum;
  }
}

GQ_KERNEL(gqk_relu_backward, gqk_relu_backward_args) {
  GQ_FOR(i, a.count) a.dz[i] = a.a[i] > 0.0f ? a.dz[i] : 0.0f;
}

GQ_KERNEL(gqk_col_sum, gqk_col_sum_args) {
  /* One thread per column, rows in order: the CPU engine's order, and no atomics, so the same bits on every run. */
  GQ_FOR(j, a.out) {
    float sum = a.dz[j];
    for (int64_t i = 1; i < a.n; i++) sum = sum + a.dz[i * a.out + j];
    a.db[j] = sum;
  }
}

/* @gradq/model's encoding.ts round trips, as engine.c's bf16_round_bits / f16_round_bits (checked there against
 * the port over all 2^32 inputs). */
GQ_INLINE uint32_t bf16_round_bits(uint32_t b) {
  const uint32_t rounded = (b + 0x7fffu + ((b >> 16) & 1u)) & 0xffff0000u;
  const uint32_t nan = (b & 0xffff0000u) | 0x00400000u;
  return (b & 0x7fffffffu) > 0x7f800000u ? nan : rounded;
}

GQ_INLINE uint32_t f16_round_bits(uint32_t b) {
  const uint32_t sign = b & 0x80000000u;
  const uint32_t abs = b & 0x7fffffffu;
  if (abs > 0x7f800000u) return 0x7fc00000u;
  if (abs < 0x38800000u) {
    /* Subnormal halves are multiples of 2^-24, the ulp of 0.5: adding 0.5 rounds to one, subtracting is exact. */
    const float sub = (u2f(abs) + 0.5f) - 0.5f;
    return sign | f2u(sub);
  }
  uint32_t normal = (abs + 0xfffu + ((abs >> 13) & 1u)) & 0xffffe000u;
  return sign | (normal > 0x477fe000u ? 0x7f800000u : normal);
}

GQ_KERNEL(gqk_tree_add, gqk_tree_add_args) {
  GQ_FOR(i, a.n) {
    const float sum = a.right ? a.left[i] + a.right[i] : a.left[i];
    if (a.rounding == GQK_ROUND_BF16) a.left[i] = u2f(bf16_round_bits(f2u(sum)));
    else if (a.rounding == GQK_ROUND_F16) a.left[i] = u2f(f16_round_bits(f2u(sum)));
    else a.left[i] = sum;
  }
}
