/*
 * The arguments of every kernel in kernels.cu, one struct each, passed by value (cuLaunchKernel's kernelParams holds
 * one pointer: to the struct). The same header is read three ways: by nvcc (pointers are device pointers), by the
 * addon (GQ_ADDON: pointers are CUdeviceptr, 64-bit integers of the same size and alignment) and by the fake driver
 * of the tests (host pointers).
 */
#ifndef GQ_KERNEL_ARGS_H
#define GQ_KERNEL_ARGS_H

#include <stdint.h>

#ifdef GQ_ADDON
#define GQ_PTR(type) unsigned long long
#else
#define GQ_PTR(type) type *
#endif

/* Wire roundings, as engine.h: 0 none (f32), 1 f16, 2 bf16. Output activations: 0 relu, 1 sigmoid, 2 linear. */
enum { GQK_ROUND_F32 = 0, GQK_ROUND_F16 = 1, GQK_ROUND_BF16 = 2 };
enum { GQK_RELU = 0, GQK_SIGMOID = 1, GQK_LINEAR = 2 };

/* x (n, size) = pixels[order[i]] / 255. */
typedef struct {
  GQ_PTR(const uint8_t) pixels;
  GQ_PTR(const uint32_t) order;
  GQ_PTR(float) x;
  int64_t n;
  int64_t size;
} gqk_gather_args;

/* y (n, out) = act(y + b), b (out). */
typedef struct {
  GQ_PTR(float) y;
  GQ_PTR(const float) b;
  int64_t n;
  int64_t out;
  int32_t activation;
} gqk_bias_act_args;

/* dz (count) = scale (y - x) act'(y): the output layer's delta of the summed squared error. */
typedef struct {
  GQ_PTR(const float) y;
  GQ_PTR(const float) x;
  GQ_PTR(float) dz;
  int64_t count;
  float scale;
  int32_t activation;
} gqk_mse_delta_args;

/* sse (n) = per row of (n, size): sum of (y - x)^2 in double. */
typedef struct {
  GQ_PTR(const float) y;
  GQ_PTR(const float) x;
  GQ_PTR(double) sse;
  int64_t n;
  int64_t size;
} gqk_row_sse_args;

/* dz (count) = a > 0 ? dz : 0, a being a ReLU's output. */
typedef struct {
  GQ_PTR(const float) a;
  GQ_PTR(float) dz;
  int64_t count;
} gqk_relu_backward_args;

/* db (out) = column sums of dz (n, out), rows in order. */
typedef struct {
  GQ_PTR(const float) dz;
  GQ_PTR(float) db;
  int64_t n;
  int64_t out;
} gqk_col_sum_args;

/* left (n) = round(left + right); with right NULL, left = round(left). */
typedef struct {
  GQ_PTR(float) left;
  GQ_PTR(const float) right;
  int64_t n;
  int32_t rounding;
} gqk_tree_add_args;

#endif
