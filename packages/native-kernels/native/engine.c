/*
 * The fused CPU engine (engine.h): forward, MSE and backward of a dense autoencoder for a block of leaves, and the
 * leaf tree's rounded merges. Everything is float32 except the loss, which is summed in double.
 *
 * Every product goes through gemm.h's own GEMM, whose elements are fused multiply-add chains in a fixed order, so a
 * leaf's gradient has the same bits whichever block it is computed in, on whichever CPU. The products with a layer's
 * weights (the forward pass, the input gradients) cover the whole block in one call, the weights packed once. The
 * weight gradients are sums over one leaf's samples, so one product per leaf, merged over the leaf tree; a leaf that
 * merges into the single leaf on its left (every second leaf, in float32) is added by the product itself. The backward
 * pass runs layer by layer across the block's leaves, so that a layer's gradient slices stay in cache from one leaf
 * to the next.
 */
#include "engine.h"

#include "gemm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Leaves per block are an int, so the binary counter never holds more than 32 nodes (+1 for the leaf arriving). */
#define GQ_MAX_NODES 40

struct gq_engine {
  int layers; /* dense layers: count - 1 */
  int32_t sizes[GQ_ENGINE_MAX_LAYERS + 1];
  int64_t kernel_offset[GQ_ENGINE_MAX_LAYERS];
  int64_t bias_offset[GQ_ENGINE_MAX_LAYERS];
  /* Layer l's kernel W (in, out) packed for gemm.h at every call, as the right operand of the forward product x W,
   * and (l > 0) W^T, for the input gradient dz W^T. Packed, the forward products ran 0.5 ms faster per 128-sample
   * step than reading W in place, for 0.2 ms of packing. */
  float *packed[GQ_ENGINE_MAX_LAYERS];
  float *packed_t[GQ_ENGINE_MAX_LAYERS];
  int64_t param_count;
  int output_activation;
  int max_units;
  /* Floats in the largest layer's gradient (kernel and bias). */
  int64_t widest_layer;
  /* Leaf j's rows start at a multiple of row_align, so that its matrices start 64-byte aligned in every layer, as
   * those of a leaf computed alone do. */
  int64_t row_align;
  /* Block scratch for up to `rows` rows: acts[l] is (rows, sizes[l]), acts[0] the scaled inputs; delta[0..1] are
   * (rows, max_units), the pre-activation gradients of a layer and of the one below. */
  int64_t rows;
  float *acts[GQ_ENGINE_MAX_LAYERS + 1];
  float *delta[2];
  /* A leaf's last, narrower 32-column panel of dz (gq_right_rows), and one layer's bias gradient. */
  float *dz_tail;
  float *bias_sums;
  /* Each leaf's first row in the scratch. */
  int64_t *leaf_row;
  int64_t leaf_capacity;
  /* The leaf tree's nodes for one layer (widest_layer floats each), beyond the first leaf's, which is out_grad. */
  float *slices[GQ_MAX_NODES];
  int slice_count;
  float *free_slices[GQ_MAX_NODES];
  int free_count;
};

/* MNIST bytes to inputs: v / 255 in double, stored as float32 (@gradq/model's pixels.ts). */
static float pixel_scale[256];

static void *alloc_floats(int64_t count) {
  /* aligned_alloc wants a size that is a multiple of the alignment. */
  size_t bytes = ((size_t)(count > 0 ? count : 1) * sizeof(float) + 63) & ~(size_t)63;
  return aligned_alloc(64, bytes);
}

gq_engine *gq_engine_create(int count, const int32_t *sizes, int output_activation) {
  gq_engine *e = calloc(1, sizeof(gq_engine));
  if (e == NULL) return NULL;
  e->layers = count - 1;
  e->output_activation = output_activation;
  e->row_align = 1;
  for (int l = 0; l < count; l++) {
    e->sizes[l] = sizes[l];
    if (sizes[l] > e->max_units) e->max_units = sizes[l];
    /* rows * width floats are a multiple of 64 bytes when rows is a multiple of 16 / (the power of two in width). */
    int64_t power = 1;
    while (power < 16 && sizes[l] % (power * 2) == 0) power *= 2;
    if (16 / power > e->row_align) e->row_align = 16 / power;
  }
  int64_t offset = 0;
  for (int l = 0; l < e->layers; l++) {
    e->kernel_offset[l] = offset;
    offset += (int64_t)sizes[l] * sizes[l + 1];
    e->bias_offset[l] = offset;
    offset += sizes[l + 1];
    if (offset - e->kernel_offset[l] > e->widest_layer) e->widest_layer = offset - e->kernel_offset[l];
  }
  e->param_count = offset;
  if ((e->bias_sums = alloc_floats(e->max_units)) == NULL) {
    free(e);
    return NULL;
  }
  for (int l = 0; l < e->layers; l++) {
    const int64_t in = sizes[l], out = sizes[l + 1];
    e->packed[l] = alloc_floats(gq_packed_floats(in, out));
    e->packed_t[l] = l > 0 ? alloc_floats(gq_packed_floats(out, in)) : NULL;
    if (e->packed[l] == NULL || (l > 0 && e->packed_t[l] == NULL)) {
      gq_engine_destroy(e);
      return NULL;
    }
  }
  for (int v = 0; v < 256; v++) pixel_scale[v] = (float)((double)v / 255.0);
  return e;
}

static void free_rows(gq_engine *e) {
  for (int l = 0; l <= e->layers; l++) {
    free(e->acts[l]);
    e->acts[l] = NULL;
  }
  for (int i = 0; i < 2; i++) {
    free(e->delta[i]);
    e->delta[i] = NULL;
  }
  free(e->dz_tail);
  e->dz_tail = NULL;
  e->rows = 0;
}

void gq_engine_destroy(gq_engine *e) {
  if (e == NULL) return;
  free_rows(e);
  for (int i = 0; i < e->slice_count; i++) free(e->slices[i]);
  for (int l = 0; l < e->layers; l++) {
    free(e->packed[l]);
    free(e->packed_t[l]);
  }
  free(e->leaf_row);
  free(e->bias_sums);
  free(e);
}

int64_t gq_engine_param_count(const gq_engine *e) { return e->param_count; }
int gq_engine_sample_size(const gq_engine *e) { return e->sizes[0]; }

/* Grows the block scratch to `rows` rows and `leaves` leaves; once warm (the largest block seen), nothing is
 * allocated. */
static int ensure_capacity(gq_engine *e, int64_t rows, int64_t leaves) {
  if (leaves > e->leaf_capacity) {
    int64_t *grown = realloc(e->leaf_row, sizeof(int64_t) * (size_t)leaves);
    if (grown == NULL) return -1;
    e->leaf_row = grown;
    e->leaf_capacity = leaves;
  }
  if (rows <= e->rows) return 0;
  free_rows(e);
  /* Zeroed once. Rows between leaves (row_align) go through the block-wide products too; rows are independent there,
   * so whatever they hold never reaches a leaf's rows. */
  for (int l = 0; l <= e->layers; l++) {
    if ((e->acts[l] = alloc_floats(rows * e->sizes[l])) == NULL) goto fail;
    memset(e->acts[l], 0, sizeof(float) * (size_t)(rows * e->sizes[l]));
  }
  for (int i = 0; i < 2; i++) {
    if ((e->delta[i] = alloc_floats(rows * e->max_units)) == NULL) goto fail;
    memset(e->delta[i], 0, sizeof(float) * (size_t)(rows * e->max_units));
  }
  if ((e->dz_tail = alloc_floats(gq_tail_floats(rows))) == NULL) goto fail;
  e->rows = rows;
  return 0;
fail:
  free_rows(e);
  return -1;
}

static float *take_slice(gq_engine *e) {
  if (e->free_count > 0) return e->free_slices[--e->free_count];
  if (e->slice_count == GQ_MAX_NODES) return NULL;
  float *g = alloc_floats(e->widest_layer);
  if (g != NULL) e->slices[e->slice_count++] = g;
  return g;
}

static void release_slice(gq_engine *e, float *g) { e->free_slices[e->free_count++] = g; }

/* ---------------------------------------------------------------------------------------------------------------
 * Rounding: @gradq/model's encoding.ts, bit for bit.
 */

typedef union {
  float f;
  uint32_t u;
} gq_bits;

uint16_t gq_bf16_from_bits(uint32_t b) {
  if ((b & 0x7fffffffu) > 0x7f800000u) return (uint16_t)(((b >> 16) | 0x40u) & 0xffffu); /* NaN stays a quiet NaN */
  return (uint16_t)(((b + 0x7fffu + ((b >> 16) & 1u)) >> 16) & 0xffffu);
}

uint16_t gq_f16_from_bits(uint32_t b) {
  const uint32_t sign = (b >> 16) & 0x8000u;
  const int32_t exp = (int32_t)((b >> 23) & 0xffu);
  uint32_t mant = b & 0x7fffffu;
  if (exp == 0xff) return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0u));
  const int32_t e = exp - 112; /* rebias 127 -> 15 */
  if (e >= 0x1f) return (uint16_t)(sign | 0x7c00u);
  if (e <= 0) {
    if (e < -10) return (uint16_t)sign;
    mant |= 0x800000u;
    const int32_t shift = 14 - e;
    uint32_t half = mant >> shift;
    const uint32_t rest = mant & ((1u << shift) - 1u);
    const uint32_t halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (half & 1u))) half++;
    return (uint16_t)(sign | half);
  }
  uint32_t half = ((uint32_t)e << 10) | (mant >> 13);
  const uint32_t rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) half++;
  return (uint16_t)(sign | half);
}

/* encoding.ts's f16 table entry: JS stores Number.NaN into a Float32Array as 0x7fc00000, whatever the half's sign. */
uint32_t gq_f16_to_f32_bits(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  if (exp == 0) {
    gq_bits v = {.f = (float)mant * 0x1p-24f};
    return sign | v.u;
  }
  if (exp == 0x1f) return mant ? 0x7fc00000u : sign | 0x7f800000u;
  return sign | ((exp + 112u) << 23) | (mant << 13);
}

/* bf16 round trip of float32 bits: round the low 16 bits away, to nearest even; NaN keeps its top bits, quieted. */
static inline uint32_t bf16_round_bits(uint32_t b) {
  const uint32_t rounded = (b + 0x7fffu + ((b >> 16) & 1u)) & 0xffff0000u;
  const uint32_t nan = (b & 0xffff0000u) | 0x00400000u;
  return (b & 0x7fffffffu) > 0x7f800000u ? nan : rounded;
}

/*
 * f16 round trip of float32 bits, without branches or a table, so that it vectorises: 0.40 ms per 770,084 values with
 * SSE2 against 1.04 ms for the port above plus a table lookup. Normal halves: round the mantissa to 10 bits, to
 * nearest even (a carry bumps the exponent), overflowing past 65504 to Inf. Subnormal halves (|x| < 2^-14) are
 * multiples of 2^-24: adding 0.5, whose ulp is 2^-24, rounds |x| to one, ties to even, and subtracting it again is
 * exact. NaN becomes 0x7fc00000.
 */
static inline uint32_t f16_round_bits(uint32_t b) {
  const uint32_t sign = b & 0x80000000u;
  const uint32_t a = b & 0x7fffffffu;
  uint32_t normal = (a + 0xfffu + ((a >> 13) & 1u)) & 0xffffe000u;
  normal = normal > 0x477fe000u ? 0x7f800000u : normal;
  gq_bits sub = {.u = a};
  sub.f = (sub.f + 0.5f) - 0.5f;
  /* Selected with masks: with a ?: gcc moves the float arithmetic into a branch and the loop does not vectorise. */
  const uint32_t is_sub = 0u - (uint32_t)(a < 0x38800000u);
  const uint32_t is_nan = 0u - (uint32_t)(a > 0x7f800000u);
  const uint32_t r = sign | (sub.u & is_sub) | (normal & ~is_sub);
  return (0x7fc00000u & is_nan) | (r & ~is_nan);
}

/* AVX2 where the CPU has it (picked once, at load, by an ifunc; the build stays portable): 8 lanes instead of SSE2's
 * 4 took the f16 rounding of 770,084 values from 0.40 to 0.16 ms, bf16 from 0.19 to 0.07 ms. The same IEEE
 * operations either way, so the same bits (both checked against the port over all 2^32 inputs). */
#if defined(__x86_64__) && defined(__GNUC__)
#define GQ_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define GQ_VECTOR_CLONES
#endif

GQ_VECTOR_CLONES void gq_round(float *values, int64_t n, int rounding) {
  uint32_t *bits = (uint32_t *)values;
  if (rounding == GQ_ROUND_BF16) {
    for (int64_t i = 0; i < n; i++) bits[i] = bf16_round_bits(bits[i]);
  } else if (rounding == GQ_ROUND_F16) {
    for (int64_t i = 0; i < n; i++) bits[i] = f16_round_bits(bits[i]);
  }
}

GQ_VECTOR_CLONES void gq_tree_add(float *left, const float *right, int64_t n, int rounding) {
  if (rounding == GQ_ROUND_BF16) {
    for (int64_t i = 0; i < n; i++) {
      gq_bits v = {.f = left[i] + right[i]};
      v.u = bf16_round_bits(v.u);
      left[i] = v.f;
    }
  } else if (rounding == GQ_ROUND_F16) {
    for (int64_t i = 0; i < n; i++) {
      gq_bits v = {.f = left[i] + right[i]};
      v.u = f16_round_bits(v.u);
      left[i] = v.f;
    }
  } else {
    for (int64_t i = 0; i < n; i++) left[i] = left[i] + right[i];
  }
}

/* The first value that is NaN or infinite (exponent bits all ones), or -1. Checked 1,024 values at a time with a
 * branch-free OR, which vectorises: ~0.05 ms per 770,084 values against ~0.7 ms for a JavaScript loop. */
GQ_VECTOR_CLONES int64_t gq_first_non_finite(const float *values, int64_t n) {
  const uint32_t *bits = (const uint32_t *)values;
  for (int64_t start = 0; start < n; start += 1024) {
    const int64_t end = n - start < 1024 ? n : start + 1024;
    uint32_t any = 0;
    for (int64_t i = start; i < end; i++) any |= (bits[i] & 0x7f800000u) == 0x7f800000u;
    if (any)
      for (int64_t i = start; i < end; i++)
        if ((bits[i] & 0x7f800000u) == 0x7f800000u) return i;
  }
  return -1;
}

/* ---------------------------------------------------------------------------------------------------------------
 * The layers, for one leaf of n samples. Matrices are row-major, one row per sample.
 */

/* x is (n, size): the leaf's samples order[0..n), scaled to [0, 1]. */
static void gather_scaled(const uint8_t *pixels, const uint32_t *order, int64_t n, int64_t size, float *x) {
  for (int64_t i = 0; i < n; i++) {
    const uint8_t *src = pixels + (int64_t)order[i] * size;
    float *dst = x + i * size;
    for (int64_t p = 0; p < size; p++) dst[p] = pixel_scale[src[p]];
  }
}

enum gq_layer_activation { ACT_RELU = GQ_OUT_RELU, ACT_SIGMOID = GQ_OUT_SIGMOID, ACT_LINEAR = GQ_OUT_LINEAR };

/* x is (n, in), w is (in, out), b is (out); y is (n, out) = act(x w + b), bias and activation in one pass. */
static void dense_forward(int64_t n, int64_t in, int64_t out, const float *x, const gq_right *w, const float *b,
                          int activation, float *y) {
  gq_gemm(n, out, in, x, in, 1, w, y, out, 0);
  for (int64_t i = 0; i < n; i++) {
    float *row = y + i * out;
    if (activation == ACT_RELU) {
      /* tfjs's relu: NaN stays NaN, -0 becomes +0. */
      for (int64_t j = 0; j < out; j++) {
        const float z = row[j] + b[j];
        row[j] = (z > 0.0f || z != z) ? z : 0.0f;
      }
    } else if (activation == ACT_SIGMOID) {
      /* tfjs's sigmoid: 1 / (1 + Math.exp(-z)) in double, stored as float32. */
      for (int64_t j = 0; j < out; j++) row[j] = (float)(1.0 / (1.0 + exp(-(double)(row[j] + b[j]))));
    } else {
      for (int64_t j = 0; j < out; j++) row[j] = row[j] + b[j];
    }
  }
}

/*
 * y (the output) and x (the input, which is the target) are (n, size); dz is (n, size), the gradient of
 * scale/2 * sum((y - x)^2) at the output layer's pre-activation: scale * (y - x) * act'(y). relu' is 1 where y > 0
 * (z > 0), as tfjs's relu gradient; sigmoid' is y (1 - y). Returns sum((y - x)^2), in double: eight running sums per
 * row so that the loop vectorises in a fixed order.
 */
static double mse_backward(int64_t n, int64_t size, const float *y, const float *x, float scale, int activation,
                           float *dz) {
  double total = 0.0;
  for (int64_t i = 0; i < n; i++) {
    const float *yr = y + i * size, *xr = x + i * size;
    float *dr = dz + i * size;
    double lanes[8] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
    int64_t j = 0;
    for (; j + 8 <= size; j += 8) {
      for (int k = 0; k < 8; k++) {
        const float d = yr[j + k] - xr[j + k];
        lanes[k] += (double)d * (double)d;
      }
    }
    for (; j < size; j++) {
      const float d = yr[j] - xr[j];
      lanes[0] += (double)d * (double)d;
    }
    for (int k = 0; k < 8; k++) total += lanes[k];
    if (activation == ACT_RELU) {
      for (j = 0; j < size; j++) dr[j] = yr[j] > 0.0f ? scale * (yr[j] - xr[j]) : 0.0f;
    } else if (activation == ACT_SIGMOID) {
      for (j = 0; j < size; j++) dr[j] = scale * (yr[j] - xr[j]) * (yr[j] * (1.0f - yr[j]));
    } else {
      for (j = 0; j < size; j++) dr[j] = scale * (yr[j] - xr[j]);
    }
  }
  return total;
}

/*
 * x is (n, in), dz is (n, out), the gradient at this layer's pre-activation: dw is (in, out) = x^T dz; db is (out),
 * the column sums of dz in row order. accumulate: dw and db get these added instead (one rounding per element: the
 * tree's merge of this leaf into its left neighbour, in float32). tail and bias are scratch.
 */
static void dense_weight_gradient(int64_t n, int64_t in, int64_t out, const float *x, const float *dz, float *dw,
                                  float *db, int accumulate, float *tail, float *bias) {
  const gq_right right = gq_right_rows(dz, n, out, out, tail);
  gq_gemm(in, out, n, x, 1, in, &right, dw, out, accumulate);
  float *sums = accumulate ? bias : db;
  memcpy(sums, dz, sizeof(float) * (size_t)out);
  for (int64_t i = 1; i < n; i++) {
    const float *row = dz + i * out;
    for (int64_t j = 0; j < out; j++) sums[j] = sums[j] + row[j];
  }
  if (accumulate)
    for (int64_t j = 0; j < out; j++) db[j] = db[j] + bias[j];
}

/* a and dz are (count): dz = dz * relu'(a) in place, a being the ReLU's output (a > 0 exactly where z > 0). */
static void relu_backward(int64_t count, const float *a, float *dz) {
  for (int64_t i = 0; i < count; i++) dz[i] = a[i] > 0.0f ? dz[i] : 0.0f;
}

/* ---------------------------------------------------------------------------------------------------------------
 * The block. leaves[2j], leaves[2j+1] are leaf j's span of `order`; leaf j's rows in the scratch start at
 * leaf_row[j], and n(j) is its sample count.
 */

typedef struct {
  gq_engine *e;
  const int32_t *leaves;
  int leaf_count;
  /* Rows of the scratch that the block spans, the rows between leaves included. */
  int64_t rows;
  int rounding;
} gq_block;

static int64_t leaf_samples(const gq_block *b, int j) {
  return (int64_t)b->leaves[2 * j + 1] - b->leaves[2 * j];
}

/*
 * Layer l's backward pass for every leaf, and the leaf tree over the layer's gradient (kernel then bias, contiguous
 * as in the flat layout): each leaf's gradient is rounded, then merged as tree.ts's reduceLeaves does. A binary
 * counter merges equal-sized neighbours as leaves arrive (left = round(left + right)), then what is left folds from
 * the right. Merging is elementwise, so merging one layer at a time gives the bits of merging whole vectors; the
 * first leaf is the left operand of every merge it takes part in, so its gradient goes straight into `out`, which
 * ends up holding the block's value. dz holds every leaf's gradient at the layer's pre-activation; dbelow receives
 * the one at the layer below (none for the first layer).
 */
static int backward_layer(const gq_block *b, int l, const float *dz, float *dbelow, float *out) {
  gq_engine *e = b->e;
  const int64_t in = e->sizes[l], units = e->sizes[l + 1], n_values = in * units + units;
  struct {
    float *grad;
    int64_t leaves;
  } stack[GQ_MAX_NODES];
  int depth = 0;
  if (l > 0) {
    const gq_right wt = gq_right_packed(e->packed_t[l], units, in);
    gq_gemm(b->rows, in, units, dz, units, 1, &wt, dbelow, in, 0);
    relu_backward(b->rows * in, e->acts[l], dbelow);
  }
  for (int j = 0; j < b->leaf_count; j++) {
    const int64_t n = leaf_samples(b, j), row = e->leaf_row[j];
    const float *x = e->acts[l] + row * in, *dzj = dz + row * units;
    float *grad;
    int64_t covered;
    if (b->rounding == GQ_ROUND_F32 && depth > 0 && stack[depth - 1].leaves == 1) {
      /* The merge with the single leaf on the left, fused into the product: no slice, no separate pass. */
      grad = stack[--depth].grad;
      dense_weight_gradient(n, in, units, x, dzj, grad, grad + in * units, 1, e->dz_tail, e->bias_sums);
      covered = 2;
    } else {
      grad = j == 0 ? out : take_slice(e);
      if (grad == NULL) return -1;
      dense_weight_gradient(n, in, units, x, dzj, grad, grad + in * units, 0, e->dz_tail, e->bias_sums);
      gq_round(grad, n_values, b->rounding);
      covered = 1;
    }
    while (depth > 0 && stack[depth - 1].leaves == covered) {
      float *left = stack[--depth].grad;
      gq_tree_add(left, grad, n_values, b->rounding);
      release_slice(e, grad);
      grad = left;
      covered *= 2;
    }
    stack[depth].grad = grad;
    stack[depth].leaves = covered;
    depth++;
  }
  float *acc = stack[--depth].grad;
  while (depth > 0) {
    float *below = stack[--depth].grad;
    gq_tree_add(below, acc, n_values, b->rounding);
    release_slice(e, acc);
    acc = below;
  }
  return 0;
}

int gq_engine_compute(gq_engine *e, const float *params, const uint8_t *pixels, const uint32_t *order,
                      const int32_t *leaves, int leaf_count, int64_t step_samples, int rounding, float *out_grad,
                      double *out_losses) {
  gq_block b = {.e = e, .leaves = leaves, .leaf_count = leaf_count, .rounding = rounding};
  int64_t rows = 0;
  for (int j = 0; j < leaf_count; j++) rows += (leaf_samples(&b, j) + e->row_align - 1) / e->row_align * e->row_align;
  if (ensure_capacity(e, rows, leaf_count) != 0) return -1;
  b.rows = rows;
  rows = 0;
  for (int j = 0; j < leaf_count; j++) {
    e->leaf_row[j] = rows;
    rows += (leaf_samples(&b, j) + e->row_align - 1) / e->row_align * e->row_align;
  }
  /* Every slice is free at the start, also after a call that failed half way. */
  for (int i = 0; i < e->slice_count; i++) e->free_slices[i] = e->slices[i];
  e->free_count = e->slice_count;

  const int layers = e->layers;
  const int64_t size = e->sizes[0];
  gq_right w[GQ_ENGINE_MAX_LAYERS];
  for (int l = 0; l < layers; l++) {
    const int64_t in = e->sizes[l], units = e->sizes[l + 1];
    gq_pack(params + e->kernel_offset[l], in, units, 0, e->packed[l]);
    w[l] = gq_right_packed(e->packed[l], in, units);
    if (l > 0) gq_pack(params + e->kernel_offset[l], units, in, 1, e->packed_t[l]);
  }
  for (int j = 0; j < leaf_count; j++)
    gather_scaled(pixels, order + leaves[2 * j], leaf_samples(&b, j), size, e->acts[0] + e->leaf_row[j] * size);
  for (int l = 0; l < layers; l++) {
    const int64_t in = e->sizes[l], units = e->sizes[l + 1];
    const int activation = l == layers - 1 ? e->output_activation : ACT_RELU;
    dense_forward(b.rows, in, units, e->acts[l], &w[l], params + e->bias_offset[l], activation, e->acts[l + 1]);
  }
  const float scale = (float)(2.0 / ((double)size * (double)step_samples));
  for (int j = 0; j < leaf_count; j++) {
    const int64_t n = leaf_samples(&b, j), at = e->leaf_row[j] * size;
    const double sse = mse_backward(n, size, e->acts[layers] + at, e->acts[0] + at, scale, e->output_activation,
                                    e->delta[0] + at);
    out_losses[j] = sse / (double)(n * size);
  }
  for (int l = layers - 1; l >= 0; l--) {
    const float *dz = e->delta[(layers - 1 - l) % 2];
    float *dbelow = e->delta[(layers - l) % 2];
    if (backward_layer(&b, l, dz, dbelow, out_grad + e->kernel_offset[l]) != 0) return -1;
  }
  return 0;
}
