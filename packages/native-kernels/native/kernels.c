#include "kernels.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Declared here rather than through <cblas.h>, whose location differs between distributions and BLAS vendors. */
enum { GQ_ROW_MAJOR = 101, GQ_NO_TRANS = 111, GQ_TRANS = 112 };
extern void cblas_sgemm(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                        int lda, const float *b, int ldb, float beta, float *c, int ldc);

void gq_matmul(int trans_a, int trans_b, int64_t batch, int64_t batch_a, int64_t batch_b, int64_t m, int64_t n,
               int64_t k, const float *a, const float *b, const float *bias, int activation, float *out) {
  const int lda = trans_a ? (int)m : (int)k;
  const int ldb = trans_b ? (int)k : (int)n;
  for (int64_t bi = 0; bi < batch; bi++) {
    const float *ab = a + (bi % batch_a) * m * k;
    const float *bb = b + (bi % batch_b) * k * n;
    float *ob = out + bi * m * n;
    if (k == 0) {
      memset(ob, 0, sizeof(float) * (size_t)(m * n));
    } else {
      cblas_sgemm(GQ_ROW_MAJOR, trans_a ? GQ_TRANS : GQ_NO_TRANS, trans_b ? GQ_TRANS : GQ_NO_TRANS, (int)m, (int)n,
                  (int)k, 1.0f, ab, lda, bb, ldb, 0.0f, ob, (int)n);
    }
    if (bias == NULL && activation == GQ_LINEAR) continue;
    for (int64_t i = 0; i < m; i++) {
      float *row = ob + i * n;
      if (bias != NULL)
        for (int64_t j = 0; j < n; j++) row[j] = row[j] + bias[j];
      if (activation == GQ_ACT_RELU)
        for (int64_t j = 0; j < n; j++) row[j] = row[j] > 0.0f ? row[j] : (isnan(row[j]) ? row[j] : 0.0f);
    }
  }
}

/* tfjs computes each element in double and rounds once; for + - * / that equals the float32 operation, but
 * squared difference squares the unrounded double difference, so it stays in double here too. */
#define GQ_BINARY_LOOP(EXPR)                                          \
  for (int64_t i = 0; i < len; i++) {                                 \
    const float x = a[i * as];                                        \
    const float y = b[i * bs];                                        \
    out[i] = (EXPR);                                                  \
  }

static void binary_row(int op, int64_t len, const float *a, int64_t as, const float *b, int64_t bs, float *out) {
  switch (op) {
    case GQ_ADD:
      GQ_BINARY_LOOP(x + y) break;
    case GQ_SUB:
      GQ_BINARY_LOOP(x - y) break;
    case GQ_MUL:
      GQ_BINARY_LOOP(x * y) break;
    case GQ_DIV:
      GQ_BINARY_LOOP(x / y) break;
    case GQ_SQDIFF:
      GQ_BINARY_LOOP((float)(((double)x - (double)y) * ((double)x - (double)y))) break;
    default:
      break;
  }
}

/* Contiguous fast paths first: the vectoriser only handles the unit-stride and scalar cases. */
static void binary_row_fast(int op, int64_t len, const float *a, int64_t as, const float *b, int64_t bs, float *out) {
  if (as == 1 && bs == 1) {
    binary_row(op, len, a, 1, b, 1, out);
  } else if (as == 1 && bs == 0) {
    binary_row(op, len, a, 1, b, 0, out);
  } else if (as == 0 && bs == 1) {
    binary_row(op, len, a, 0, b, 1, out);
  } else {
    binary_row(op, len, a, as, b, bs, out);
  }
}

void gq_binary(int op, int rank, const int64_t *out_shape, const int64_t *a_strides, const int64_t *b_strides,
               const float *a, const float *b, float *out) {
  if (rank == 0) {
    binary_row(op, 1, a, 0, b, 0, out);
    return;
  }
  const int inner = rank - 1;
  const int64_t len = out_shape[inner];
  int64_t rows = 1;
  for (int d = 0; d < inner; d++) rows *= out_shape[d];
  int64_t idx[GQ_MAX_RANK] = {0};
  int64_t a_off = 0, b_off = 0;
  for (int64_t r = 0; r < rows; r++) {
    binary_row_fast(op, len, a + a_off, a_strides[inner], b + b_off, b_strides[inner], out + r * len);
    for (int d = inner - 1; d >= 0; d--) {
      idx[d]++;
      a_off += a_strides[d];
      b_off += b_strides[d];
      if (idx[d] < out_shape[d]) break;
      a_off -= a_strides[d] * idx[d];
      b_off -= b_strides[d] * idx[d];
      idx[d] = 0;
    }
  }
}

void gq_unary(int op, int64_t n, const float *x, float alpha, float *out) {
  switch (op) {
    case GQ_SQRT:
      for (int64_t i = 0; i < n; i++) out[i] = sqrtf(x[i]);
      break;
    case GQ_SQUARE:
      for (int64_t i = 0; i < n; i++) out[i] = x[i] * x[i];
      break;
    case GQ_RELU:
      /* Math.max(0, x): NaN stays NaN, -0 becomes +0. */
      for (int64_t i = 0; i < n; i++) out[i] = x[i] > 0.0f ? x[i] : (isnan(x[i]) ? x[i] : 0.0f);
      break;
    case GQ_STEP:
      for (int64_t i = 0; i < n; i++) out[i] = isnan(x[i]) ? x[i] : (x[i] > 0.0f ? 1.0f : alpha);
      break;
    default:
      break;
  }
}

static inline double reduce_term(float x, float divisor) {
  return divisor != 0.0f ? (double)(x / divisor) : (double)x;
}

void gq_reduce(int rank, int kept, const int64_t *shape, const int64_t *strides, const float *x, float divisor,
               float *out) {
  int64_t out_size = 1, reduce_size = 1;
  for (int d = 0; d < kept; d++) out_size *= shape[d];
  for (int d = kept; d < rank; d++) reduce_size *= shape[d];
  const int reduced = rank - kept;

  /* Reducing trailing contiguous elements (rows): one running double per output. */
  int contiguous = 1;
  int64_t expect = 1;
  for (int d = rank - 1; d >= kept; d--) {
    if (strides[d] != expect) contiguous = 0;
    expect *= shape[d];
  }
  if (contiguous && reduced > 0) {
    int64_t idx[GQ_MAX_RANK] = {0};
    int64_t off = 0;
    for (int64_t o = 0; o < out_size; o++) {
      double sum = 0.0;
      const float *row = x + off;
      for (int64_t j = 0; j < reduce_size; j++) sum += reduce_term(row[j], divisor);
      out[o] = (float)sum;
      for (int d = kept - 1; d >= 0; d--) {
        idx[d]++;
        off += strides[d];
        if (idx[d] < shape[d]) break;
        off -= strides[d] * idx[d];
        idx[d] = 0;
      }
    }
    return;
  }

  /* Otherwise (bias gradients: the batch axis of [batch, units]) walk the reduced dims outermost, so the inner
   * loop runs along memory, with one double accumulator per output; each output still sees its terms in the
   * same order as tfjs's transpose-then-sum. */
  double *acc = calloc((size_t)(out_size > 0 ? out_size : 1), sizeof(double));
  if (acc == NULL) return;
  int64_t ridx[GQ_MAX_RANK] = {0};
  int64_t roff = 0;
  for (int64_t r = 0; r < reduce_size; r++) {
    if (kept == 0) {
      acc[0] += reduce_term(x[roff], divisor);
    } else {
      const int inner = kept - 1;
      const int64_t len = shape[inner], st = strides[inner];
      int64_t idx[GQ_MAX_RANK] = {0};
      int64_t off = roff;
      for (int64_t o = 0; o < out_size; o += len) {
        const float *p = x + off;
        double *q = acc + o;
        if (st == 1) {
          for (int64_t j = 0; j < len; j++) q[j] += reduce_term(p[j], divisor);
        } else {
          for (int64_t j = 0; j < len; j++) q[j] += reduce_term(p[j * st], divisor);
        }
        for (int d = inner - 1; d >= 0; d--) {
          idx[d]++;
          off += strides[d];
          if (idx[d] < shape[d]) break;
          off -= strides[d] * idx[d];
          idx[d] = 0;
        }
      }
    }
    for (int d = rank - 1; d >= kept; d--) {
      ridx[d]++;
      roff += strides[d];
      if (ridx[d] < shape[d]) break;
      roff -= strides[d] * ridx[d];
      ridx[d] = 0;
    }
  }
  for (int64_t o = 0; o < out_size; o++) out[o] = (float)acc[o];
  free(acc);
}

void gq_adam(int64_t n, float *params, float *m, float *v, const float *grad, double lr, double beta1, double beta2,
             double epsilon, float acc_beta1, float acc_beta2) {
  /* tf.train.adam computes 1 - beta and -lr in JS doubles before they become float32 scalars: rounding beta
   * first would change the bits of 1 - beta. */
  const float b1 = (float)beta1, b2 = (float)beta2, eps = (float)epsilon;
  const float one_minus_beta1 = (float)(1.0 - beta1);
  const float one_minus_beta2 = (float)(1.0 - beta2);
  const float neg_lr = (float)(-lr);
  const float one_minus_acc_beta1 = 1.0f - acc_beta1;
  const float one_minus_acc_beta2 = 1.0f - acc_beta2;
  for (int64_t i = 0; i < n; i++) {
    const float g = grad[i];
    float new_m = m[i] * b1 + g * one_minus_beta1;
    float new_v = v[i] * b2 + (g * g) * one_minus_beta2;
    /* Moments below FLT_MIN are zero. A parameter whose gradient stopped (a dead unit) has its first moment decay
     * by 0.9 a step into the subnormals, where it sticks at the smallest one (0.9 x 1.4e-45 rounds back to it), and
     * every subnormal operation costs ~40x here: after ~1,000 steps the step took 12 ms instead of 1 (the whole
     * loop 29 ms with every moment subnormal). Flushed explicitly, not with the FTZ/DAZ flags, so that the JS
     * update (flat-adam.ts) does the same and the bits stay equal. */
    new_m = fabsf(new_m) < FLT_MIN ? 0.0f : new_m;
    new_v = fabsf(new_v) < FLT_MIN ? 0.0f : new_v;
    const float m_hat = new_m / one_minus_acc_beta1;
    const float v_hat = new_v / one_minus_acc_beta2;
    m[i] = new_m;
    v[i] = new_v;
    params[i] = (m_hat / (sqrtf(v_hat) + eps)) * neg_lr + params[i];
  }
}

/* ---------------------------------------------------------------------------------------------------------------
 * gq_params_hash: must give exactly what paramsHashJs (src/params-hash.ts) gives.
 */
#define GQ_HASH_LANES 16
#define GQ_HASH_PRIME 0x01000193u

static uint32_t hash_fmix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

/* The lanes over whole blocks of 16 words; one body, compiled for AVX2 and for any x86-64 (or other) CPU. */
#define GQ_HASH_BLOCKS                                                                                               \
  {                                                                                                                  \
    uint32_t a[GQ_HASH_LANES];                                                                                       \
    for (int l = 0; l < GQ_HASH_LANES; l++) a[l] = acc[l];                                                           \
    for (int64_t b = 0; b < blocks; b++) {                                                                           \
      const uint32_t *w = words + b * GQ_HASH_LANES;                                                                 \
      for (int l = 0; l < GQ_HASH_LANES; l++) a[l] = (a[l] ^ w[l]) * GQ_HASH_PRIME;                                  \
    }                                                                                                                \
    for (int l = 0; l < GQ_HASH_LANES; l++) acc[l] = a[l];                                                           \
  }

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2"))) static void hash_blocks_avx2(int64_t blocks, const uint32_t *words, uint32_t *acc)
    GQ_HASH_BLOCKS
#endif
static void hash_blocks_portable(int64_t blocks, const uint32_t *words, uint32_t *acc) GQ_HASH_BLOCKS

void gq_params_hash(int64_t n, const uint32_t *words, uint32_t out[2]) {
  uint32_t acc[GQ_HASH_LANES];
  for (int l = 0; l < GQ_HASH_LANES; l++) acc[l] = 0x811c9dc5u + (uint32_t)l * 0x9e3779b9u;
  const int64_t blocks = n / GQ_HASH_LANES;
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2"))
    hash_blocks_avx2(blocks, words, acc);
  else
#endif
    hash_blocks_portable(blocks, words, acc);
  for (int64_t i = blocks * GQ_HASH_LANES; i < n; i++) acc[i % GQ_HASH_LANES] = (acc[i % GQ_HASH_LANES] ^ words[i]) * GQ_HASH_PRIME;
  uint32_t h1 = 0x9747b28cu ^ (uint32_t)n, h2 = 0x1b873593u ^ (uint32_t)(n >> 32);
  for (int l = 0; l < GQ_HASH_LANES; l++) {
    h1 = hash_fmix32(h1 ^ acc[l]);
    h2 = hash_fmix32(h2 ^ acc[GQ_HASH_LANES - 1 - l]);
  }
  out[0] = h1;
  out[1] = h2;
}
