/* Pure compute kernels on float32 buffers; no N-API here so that they can be read (and tested) on their own. */
#ifndef GRADQ_KERNELS_H
#define GRADQ_KERNELS_H

#include <stdint.h>

#define GQ_MAX_RANK 8

enum gq_binary_op { GQ_ADD = 0, GQ_SUB = 1, GQ_MUL = 2, GQ_DIV = 3, GQ_SQDIFF = 4 };
enum gq_unary_op { GQ_SQRT = 0, GQ_SQUARE = 1, GQ_RELU = 2, GQ_STEP = 3 };
enum gq_activation { GQ_LINEAR = 0, GQ_ACT_RELU = 1 };

/* out[batch][M][N] = op(A) * op(B) (+ bias[N]) (relu), batch index of A/B = bi % batchA / bi % batchB. */
void gq_matmul(int trans_a, int trans_b, int64_t batch, int64_t batch_a, int64_t batch_b, int64_t m, int64_t n,
               int64_t k, const float *a, const float *b, const float *bias, int activation, float *out);

/* Broadcasting elementwise op over `rank` output dims with per-operand element strides (0 = broadcast). */
void gq_binary(int op, int rank, const int64_t *out_shape, const int64_t *a_strides, const int64_t *b_strides,
               const float *a, const float *b, float *out);

void gq_unary(int op, int64_t n, const float *x, float alpha, float *out);

/*
 * Sum (divisor 0) or mean (divisor = reduce size, each element divided first as tfjs does) over the `reduced`
 * trailing dims of a permuted view of x: `shape`/`strides` list kept dims first, then reduced dims.
 * Accumulates in double in the row-major order of the reduced dims, as tfjs-backend-cpu does.
 */
void gq_reduce(int rank, int kept, const int64_t *shape, const int64_t *strides, const float *x, float divisor,
               float *out);

/* One Adam step in place, in float32 and in the order tf.train.adam's ops take. */
void gq_adam(int64_t n, float *params, float *m, float *v, const float *grad, double lr, double beta1, double beta2,
             double epsilon, float acc_beta1, float acc_beta2);

/* The parameters' hash (src/params-hash.ts defines it and says why): 16 lanes of 32-bit xor-multiply over the
 * vector's 32-bit words, word i into lane i % 16, then folded into two 32-bit halves. */
void gq_params_hash(int64_t n, const uint32_t *words, uint32_t out[2]);

#endif
