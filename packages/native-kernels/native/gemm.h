/*
 * The engine's own single-precision GEMM: every output element is one fused multiply-add chain over k = 0, 1, ...,
 * in that order, whatever the matrix sizes, the tile the element falls in or the CPU. So a row of a product has the
 * same bits computed alone or in any block, and the same bits with AVX-512, AVX2+FMA or neither (fmaf, correctly
 * rounded like the vfmadd instructions).
 *
 * Why not OpenBLAS (measured, 0.3.21): its kernels and blockings depend on the matrix shape, so a row of a 128-row
 * product differs in the last bits from the same row in a 32-row product, and they depend on the core type it picks
 * (OPENBLAS_CORETYPE) too. A block-wide product would then make a leaf's bits depend on its block, and leaf-sized
 * products repack the weights once per leaf (0.5 ms of a 7.2 ms four-leaf step). With this GEMM a block's forward pass
 * and input gradients are one product per layer with the weights packed once, and the engine's bits no longer depend
 * on the BLAS or its settings.
 */
#ifndef GRADQ_GEMM_H
#define GRADQ_GEMM_H

#include <stdint.h>

/* The right operand B (k, n) of a product, in 32-column panels: row kk of panel p starts at
 * base + p * panel_step + kk * row_step; a last panel narrower than 32 columns is read from `tail` instead (k rows of
 * 32 floats, zero-padded, 32 apart). */
typedef struct {
  const float *base;
  int64_t panel_step, row_step;
  const float *tail;
} gq_right;

/* Floats that gq_pack writes for a (k, n) right operand: n rounded up to whole panels. */
int64_t gq_packed_floats(int64_t k, int64_t n);

/*
 * B (k, n) packed into contiguous panels, zero-padded: packed[(p * k + kk) * 32 + j] = B[kk][p * 32 + j].
 * transposed = 0: b is B, row-major (k, n); transposed = 1: b is B^T, row-major (n, k).
 */
void gq_pack(const float *b, int64_t k, int64_t n, int transposed, float *packed);
gq_right gq_right_packed(const float *packed, int64_t k, int64_t n);

/* B row-major (k, n), row stride ldb, read in place; only its last, narrower panel is copied, into `tail`
 * (gq_tail_floats(k) floats). */
int64_t gq_tail_floats(int64_t k);
gq_right gq_right_rows(const float *b, int64_t k, int64_t n, int64_t ldb, float *tail);

/*
 * c (m, n), row stride ldc, = A (m, k) B, with A[i][kk] = a[i * a_row + kk * a_step]: a_row = lda and a_step = 1 for
 * a row-major A; a_row = 1 and a_step = lda for A = X^T, X row-major (k, m). accumulate = 0: c is written, never
 * read; accumulate = 1: c = c + A B, each element's chain computed whole, then added in one rounding (the bits of
 * computing A B alone and adding it).
 */
void gq_gemm(int64_t m, int64_t n, int64_t k, const float *a, int64_t a_row, int64_t a_step, const gq_right *b,
             float *c, int64_t ldc, int accumulate);

/* The tile kernel in use: "avx512", "avx2-fma" or "portable" (fmaf). GRADQ_GEMM_KERNEL=avx2 or =portable picks a
 * narrower one: the same bits, slower. */
const char *gq_gemm_kernel(void);

#endif
