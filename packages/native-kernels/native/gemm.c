/*
 * gemm.h's product: 6x16 register tiles, each element a fused multiply-add chain in k order (see gemm.h for why).
 *
 * Blocking: k in chunks of GQ_KC (a tile's partial sums are stored and reloaded between chunks, exactly, so the chain
 * and its bits do not depend on GQ_KC); for each chunk, one 16-column panel (GQ_KC x 16 floats, in L1) against every
 * row tile of a (GQ_KC x 6 floats each, in L2). Measured here (one thread, AVX2+FMA): 82-105 GFLOP/s on the seed
 * model's shapes, OpenBLAS's sgemm 82-103 on the same (leaf-sized or block-sized), plus 0.01-0.04 ms to pack.
 * Edge tiles (fewer than 6 rows or 16 columns) go through zero-padded copies and run the same kernel.
 */
#include "gemm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#define GQ_MR 6
#define GQ_NR 32
#define GQ_KC 384

int64_t gq_packed_floats(int64_t k, int64_t n) { return k * ((n + GQ_NR - 1) / GQ_NR * GQ_NR); }

/* Columns first..first+cols of row-major b (k rows, ldb apart) as one panel, zero-padded to 32 columns. */
static void pack_row_panel(const float *b, int64_t k, int64_t ldb, int64_t first, int64_t cols, float *dst) {
  for (int64_t kk = 0; kk < k; kk++)
    for (int64_t j = 0; j < GQ_NR; j++) dst[kk * GQ_NR + j] = j < cols ? b[kk * ldb + first + j] : 0.0f;
}

void gq_pack(const float *b, int64_t k, int64_t n, int transposed, float *packed) {
  const int64_t panels = (n + GQ_NR - 1) / GQ_NR;
  for (int64_t p = 0; p < panels; p++) {
    const int64_t first = p * GQ_NR, cols = n - first < GQ_NR ? n - first : GQ_NR;
    float *dst = packed + p * k * GQ_NR;
    if (!transposed) {
      if (cols == GQ_NR) {
        for (int64_t kk = 0; kk < k; kk++) memcpy(dst + kk * GQ_NR, b + kk * n + first, sizeof(float) * GQ_NR);
      } else {
        pack_row_panel(b, k, n, first, cols, dst);
      }
      continue;
    }
    int64_t kk = 0;
#if defined(__SSE__)
    /* 4x4 transposes in registers: 0.03 ms for the panels of 384 x 784 against 0.06 one value at a time. */
    if (cols == GQ_NR) {
      for (; kk + 4 <= k; kk += 4) {
        for (int64_t j = 0; j < GQ_NR; j += 4) {
          const float *s = b + (first + j) * k + kk;
          __m128 r0 = _mm_loadu_ps(s), r1 = _mm_loadu_ps(s + k), r2 = _mm_loadu_ps(s + 2 * k),
                 r3 = _mm_loadu_ps(s + 3 * k);
          _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
          _mm_storeu_ps(dst + kk * GQ_NR + j, r0);
          _mm_storeu_ps(dst + (kk + 1) * GQ_NR + j, r1);
          _mm_storeu_ps(dst + (kk + 2) * GQ_NR + j, r2);
          _mm_storeu_ps(dst + (kk + 3) * GQ_NR + j, r3);
        }
      }
    }
#endif
    for (; kk < k; kk++)
      for (int64_t j = 0; j < GQ_NR; j++) dst[kk * GQ_NR + j] = j < cols ? b[(first + j) * k + kk] : 0.0f;
  }
}

/* One 6x32 tile of the product P = A[0..6)[0..kn) b[0..kn)[0..32), A[r][kk] = a[r * a_row + kk * a_step] and b's
 * rows row_step apart: c = P (mode GQ_TILE_FIRST), c = the chain continued from c (GQ_TILE_CONTINUE: the next k
 * chunk), or c = c + P (GQ_TILE_ADD: P's chain whole, then one addition). */
enum { GQ_TILE_CONTINUE = 0, GQ_TILE_FIRST = 1, GQ_TILE_ADD = 2 };
typedef void gq_tile_fn(int64_t kn, const float *a, int64_t a_row, int64_t a_step, const float *b, int64_t row_step,
                        float *c, int64_t ldc, int mode);

/* Portable: the same chain with fmaf, which rounds once as the hardware instruction does. */
static void tile_portable(int64_t kn, const float *a, int64_t a_row, int64_t a_step, const float *b, int64_t row_step,
                          float *c, int64_t ldc, int mode) {
  float acc[GQ_MR][GQ_NR];
  for (int r = 0; r < GQ_MR; r++)
    for (int j = 0; j < GQ_NR; j++) acc[r][j] = mode == GQ_TILE_CONTINUE ? c[r * ldc + j] : 0.0f;
  for (int64_t kk = 0; kk < kn; kk++, b += row_step)
    for (int r = 0; r < GQ_MR; r++) {
      const float av = a[r * a_row + kk * a_step];
      for (int j = 0; j < GQ_NR; j++) acc[r][j] = fmaf(av, b[j], acc[r][j]);
    }
  for (int r = 0; r < GQ_MR; r++)
    for (int j = 0; j < GQ_NR; j++) c[r * ldc + j] = mode == GQ_TILE_ADD ? c[r * ldc + j] + acc[r][j] : acc[r][j];
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* 6x16, the left or right half of a panel. Twelve named accumulators so that they stay in registers (an array of them
 * spilled: 25-50 GFLOP/s). */
__attribute__((target("avx2,fma"))) static void half_tile_avx2(int64_t kn, const float *a, int64_t a_row,
                                                               int64_t a_step, const float *b, int64_t row_step,
                                                               float *c, int64_t ldc, int mode) {
  __m256 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
  if (mode != GQ_TILE_CONTINUE) {
    c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = _mm256_setzero_ps();
  } else {
    c00 = _mm256_loadu_ps(c), c01 = _mm256_loadu_ps(c + 8);
    c10 = _mm256_loadu_ps(c + ldc), c11 = _mm256_loadu_ps(c + ldc + 8);
    c20 = _mm256_loadu_ps(c + 2 * ldc), c21 = _mm256_loadu_ps(c + 2 * ldc + 8);
    c30 = _mm256_loadu_ps(c + 3 * ldc), c31 = _mm256_loadu_ps(c + 3 * ldc + 8);
    c40 = _mm256_loadu_ps(c + 4 * ldc), c41 = _mm256_loadu_ps(c + 4 * ldc + 8);
    c50 = _mm256_loadu_ps(c + 5 * ldc), c51 = _mm256_loadu_ps(c + 5 * ldc + 8);
  }
  const int64_t r1 = a_row, r2 = 2 * a_row, r3 = 3 * a_row, r4 = 4 * a_row, r5 = 5 * a_row;
  for (int64_t kk = 0; kk < kn; kk++, a += a_step, b += row_step) {
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
    __m256 av = _mm256_broadcast_ss(a);
    c00 = _mm256_fmadd_ps(av, b0, c00), c01 = _mm256_fmadd_ps(av, b1, c01);
    av = _mm256_broadcast_ss(a + r1);
    c10 = _mm256_fmadd_ps(av, b0, c10), c11 = _mm256_fmadd_ps(av, b1, c11);
    av = _mm256_broadcast_ss(a + r2);
    c20 = _mm256_fmadd_ps(av, b0, c20), c21 = _mm256_fmadd_ps(av, b1, c21);
    av = _mm256_broadcast_ss(a + r3);
    c30 = _mm256_fmadd_ps(av, b0, c30), c31 = _mm256_fmadd_ps(av, b1, c31);
    av = _mm256_broadcast_ss(a + r4);
    c40 = _mm256_fmadd_ps(av, b0, c40), c41 = _mm256_fmadd_ps(av, b1, c41);
    av = _mm256_broadcast_ss(a + r5);
    c50 = _mm256_fmadd_ps(av, b0, c50), c51 = _mm256_fmadd_ps(av, b1, c51);
  }
  if (mode == GQ_TILE_ADD) {
    c00 = _mm256_add_ps(_mm256_loadu_ps(c), c00), c01 = _mm256_add_ps(_mm256_loadu_ps(c + 8), c01);
    c10 = _mm256_add_ps(_mm256_loadu_ps(c + ldc), c10), c11 = _mm256_add_ps(_mm256_loadu_ps(c + ldc + 8), c11);
    c20 = _mm256_add_ps(_mm256_loadu_ps(c + 2 * ldc), c20), c21 = _mm256_add_ps(_mm256_loadu_ps(c + 2 * ldc + 8), c21);
    c30 = _mm256_add_ps(_mm256_loadu_ps(c + 3 * ldc), c30), c31 = _mm256_add_ps(_mm256_loadu_ps(c + 3 * ldc + 8), c31);
    c40 = _mm256_add_ps(_mm256_loadu_ps(c + 4 * ldc), c40), c41 = _mm256_add_ps(_mm256_loadu_ps(c + 4 * ldc + 8), c41);
    c50 = _mm256_add_ps(_mm256_loadu_ps(c + 5 * ldc), c50), c51 = _mm256_add_ps(_mm256_loadu_ps(c + 5 * ldc + 8), c51);
  }
  _mm256_storeu_ps(c, c00), _mm256_storeu_ps(c + 8, c01);
  _mm256_storeu_ps(c + ldc, c10), _mm256_storeu_ps(c + ldc + 8, c11);
  _mm256_storeu_ps(c + 2 * ldc, c20), _mm256_storeu_ps(c + 2 * ldc + 8, c21);
  _mm256_storeu_ps(c + 3 * ldc, c30), _mm256_storeu_ps(c + 3 * ldc + 8, c31);
  _mm256_storeu_ps(c + 4 * ldc, c40), _mm256_storeu_ps(c + 4 * ldc + 8, c41);
  _mm256_storeu_ps(c + 5 * ldc, c50), _mm256_storeu_ps(c + 5 * ldc + 8, c51);
}

static void tile_avx2(int64_t kn, const float *a, int64_t a_row, int64_t a_step, const float *b, int64_t row_step,
                      float *c, int64_t ldc, int mode) {
  half_tile_avx2(kn, a, a_row, a_step, b, row_step, c, ldc, mode);
  half_tile_avx2(kn, a, a_row, a_step, b + 16, row_step, c + 16, ldc, mode);
}

/* The whole panel width in two 16-lane registers per row: 183-192 GFLOP/s on the seed model's shapes here (AMD
 * EPYC, full-width AVX-512), against 97-105 for the AVX2 tiles and 93-101 for OpenBLAS's Haswell kernels. */
__attribute__((target("avx512f"))) static void tile_avx512(int64_t kn, const float *a, int64_t a_row, int64_t a_step,
                                                           const float *b, int64_t row_step, float *c, int64_t ldc,
                                                           int mode) {
  __m512 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
  if (mode != GQ_TILE_CONTINUE) {
    c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = _mm512_setzero_ps();
  } else {
    c00 = _mm512_loadu_ps(c), c01 = _mm512_loadu_ps(c + 16);
    c10 = _mm512_loadu_ps(c + ldc), c11 = _mm512_loadu_ps(c + ldc + 16);
    c20 = _mm512_loadu_ps(c + 2 * ldc), c21 = _mm512_loadu_ps(c + 2 * ldc + 16);
    c30 = _mm512_loadu_ps(c + 3 * ldc), c31 = _mm512_loadu_ps(c + 3 * ldc + 16);
    c40 = _mm512_loadu_ps(c + 4 * ldc), c41 = _mm512_loadu_ps(c + 4 * ldc + 16);
    c50 = _mm512_loadu_ps(c + 5 * ldc), c51 = _mm512_loadu_ps(c + 5 * ldc + 16);
  }
  const int64_t r1 = a_row, r2 = 2 * a_row, r3 = 3 * a_row, r4 = 4 * a_row, r5 = 5 * a_row;
  for (int64_t kk = 0; kk < kn; kk++, a += a_step, b += row_step) {
    const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
    __m512 av = _mm512_set1_ps(*a);
    c00 = _mm512_fmadd_ps(av, b0, c00), c01 = _mm512_fmadd_ps(av, b1, c01);
    av = _mm512_set1_ps(a[r1]);
    c10 = _mm512_fmadd_ps(av, b0, c10), c11 = _mm512_fmadd_ps(av, b1, c11);
    av = _mm512_set1_ps(a[r2]);
    c20 = _mm512_fmadd_ps(av, b0, c20), c21 = _mm512_fmadd_ps(av, b1, c21);
    av = _mm512_set1_ps(a[r3]);
    c30 = _mm512_fmadd_ps(av, b0, c30), c31 = _mm512_fmadd_ps(av, b1, c31);
    av = _mm512_set1_ps(a[r4]);
    c40 = _mm512_fmadd_ps(av, b0, c40), c41 = _mm512_fmadd_ps(av, b1, c41);
    av = _mm512_set1_ps(a[r5]);
    c50 = _mm512_fmadd_ps(av, b0, c50), c51 = _mm512_fmadd_ps(av, b1, c51);
  }
  if (mode == GQ_TILE_ADD) {
    c00 = _mm512_add_ps(_mm512_loadu_ps(c), c00), c01 = _mm512_add_ps(_mm512_loadu_ps(c + 16), c01);
    c10 = _mm512_add_ps(_mm512_loadu_ps(c + ldc), c10), c11 = _mm512_add_ps(_mm512_loadu_ps(c + ldc + 16), c11);
    c20 = _mm512_add_ps(_mm512_loadu_ps(c + 2 * ldc), c20), c21 = _mm512_add_ps(_mm512_loadu_ps(c + 2 * ldc + 16), c21);
    c30 = _mm512_add_ps(_mm512_loadu_ps(c + 3 * ldc), c30), c31 = _mm512_add_ps(_mm512_loadu_ps(c + 3 * ldc + 16), c31);
    c40 = _mm512_add_ps(_mm512_loadu_ps(c + 4 * ldc), c40), c41 = _mm512_add_ps(_mm512_loadu_ps(c + 4 * ldc + 16), c41);
    c50 = _mm512_add_ps(_mm512_loadu_ps(c + 5 * ldc), c50), c51 = _mm512_add_ps(_mm512_loadu_ps(c + 5 * ldc + 16), c51);
  }
  _mm512_storeu_ps(c, c00), _mm512_storeu_ps(c + 16, c01);
  _mm512_storeu_ps(c + ldc, c10), _mm512_storeu_ps(c + ldc + 16, c11);
  _mm512_storeu_ps(c + 2 * ldc, c20), _mm512_storeu_ps(c + 2 * ldc + 16, c21);
  _mm512_storeu_ps(c + 3 * ldc, c30), _mm512_storeu_ps(c + 3 * ldc + 16, c31);
  _mm512_storeu_ps(c + 4 * ldc, c40), _mm512_storeu_ps(c + 4 * ldc + 16, c41);
  _mm512_storeu_ps(c + 5 * ldc, c50), _mm512_storeu_ps(c + 5 * ldc + 16, c51);
}

static gq_tile_fn *fastest_tile(void) {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return tile_avx512;
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? tile_avx2 : tile_portable;
}
#else
static gq_tile_fn *fastest_tile(void) { return tile_portable; }
#endif

/* Picked once: the widest the CPU runs, "avx2" where GRADQ_GEMM_KERNEL=avx2, the portable one where it is "portable"
 * (the same bits, slower: how the tests check that they agree). Two threads racing here store the same pointer. */
static gq_tile_fn *picked_tile;

static gq_tile_fn *pick_tile(void) {
  if (picked_tile == NULL) {
    const char *force = getenv("GRADQ_GEMM_KERNEL");
    picked_tile = fastest_tile();
    if (force != NULL && strcmp(force, "portable") == 0) picked_tile = tile_portable;
#if defined(__x86_64__) && defined(__GNUC__)
    if (force != NULL && strcmp(force, "avx2") == 0 && picked_tile == tile_avx512) picked_tile = tile_avx2;
#endif
  }
  return picked_tile;
}

const char *gq_gemm_kernel(void) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (pick_tile() == tile_avx512) return "avx512";
  if (pick_tile() == tile_avx2) return "avx2-fma";
#endif
  return "portable";
}

gq_right gq_right_packed(const float *packed, int64_t k, int64_t n) {
  const int64_t panels = (n + GQ_NR - 1) / GQ_NR;
  const gq_right right = {.base = packed, .panel_step = k * GQ_NR, .row_step = GQ_NR,
                          .tail = packed + (panels > 0 ? panels - 1 : 0) * k * GQ_NR};
  return right;
}

int64_t gq_tail_floats(int64_t k) { return k * GQ_NR; }

gq_right gq_right_rows(const float *b, int64_t k, int64_t n, int64_t ldb, float *tail) {
  const int64_t first = n / GQ_NR * GQ_NR, cols = n - first;
  if (cols > 0) pack_row_panel(b, k, ldb, first, cols, tail);
  const gq_right right = {.base = b, .panel_step = GQ_NR, .row_step = ldb, .tail = tail};
  return right;
}

/* rows x kn of A from row i and k0 on, zero-padded to a 6-row tile, into a row-major block (GQ_KC apart). */
static void copy_tail_rows(const float *a, int64_t a_row, int64_t a_step, int64_t i, int64_t rows, int64_t k0,
                           int64_t kn, float *a_tail) {
  for (int64_t r = 0; r < GQ_MR; r++) {
    float *dst = a_tail + r * GQ_KC;
    if (r >= rows) {
      memset(dst, 0, sizeof(float) * (size_t)kn);
      continue;
    }
    const float *src = a + (i + r) * a_row + k0 * a_step;
    if (a_step == 1) memcpy(dst, src, sizeof(float) * (size_t)kn);
    else
      for (int64_t kk = 0; kk < kn; kk++) dst[kk] = src[kk * a_step];
  }
}

void gq_gemm(int64_t m, int64_t n, int64_t k, const float *a, int64_t a_row, int64_t a_step, const gq_right *b,
             float *c, int64_t ldc, int accumulate) {
  gq_tile_fn *tile = pick_tile();
  const int64_t panels = (n + GQ_NR - 1) / GQ_NR, full_panels = n / GQ_NR;
  const int64_t full_rows = m / GQ_MR * GQ_MR, tail_rows = m - full_rows;
  /* The last rows, zero-padded to a whole tile, and an edge tile's output. */
  float a_tail[GQ_MR * GQ_KC] __attribute__((aligned(64)));
  float c_tile[GQ_MR * GQ_NR] __attribute__((aligned(64))) = {0};
  if (k == 0) {
    if (!accumulate)
      for (int64_t i = 0; i < m; i++) memset(c + i * ldc, 0, sizeof(float) * (size_t)n);
    return;
  }
  if (accumulate) {
    /* Each tile's whole chain, then one addition into c: in the kernel for a whole tile of one k chunk, else through
     * c_tile, chunk after chunk. */
    for (int64_t p = 0; p < panels; p++) {
      const int64_t col = p * GQ_NR, cols = n - col < GQ_NR ? n - col : GQ_NR;
      const float *bp = p < full_panels ? b->base + p * b->panel_step : b->tail;
      const int64_t row_step = p < full_panels ? b->row_step : GQ_NR;
      for (int64_t i = 0; i < m; i += GQ_MR) {
        const int64_t rows = i < full_rows ? GQ_MR : tail_rows;
        if (rows == GQ_MR && cols == GQ_NR && k <= GQ_KC) {
          tile(k, a + i * a_row, a_row, a_step, bp, row_step, c + i * ldc + col, ldc, GQ_TILE_ADD);
          continue;
        }
        for (int64_t k0 = 0; k0 < k; k0 += GQ_KC) {
          const int64_t kn = k - k0 < GQ_KC ? k - k0 : GQ_KC;
          const int mode = k0 == 0 ? GQ_TILE_FIRST : GQ_TILE_CONTINUE;
          if (rows == GQ_MR) {
            tile(kn, a + i * a_row + k0 * a_step, a_row, a_step, bp + k0 * row_step, row_step, c_tile, GQ_NR, mode);
          } else {
            copy_tail_rows(a, a_row, a_step, i, rows, k0, kn, a_tail);
            tile(kn, a_tail, GQ_KC, 1, bp + k0 * row_step, row_step, c_tile, GQ_NR, mode);
          }
        }
        for (int64_t r = 0; r < rows; r++) {
          float *row = c + (i + r) * ldc + col;
          for (int64_t j = 0; j < cols; j++) row[j] = row[j] + c_tile[r * GQ_NR + j];
        }
      }
    }
    return;
  }
  for (int64_t k0 = 0; k0 < k; k0 += GQ_KC) {
    const int64_t kn = k - k0 < GQ_KC ? k - k0 : GQ_KC;
    const int first = k0 == 0, mode = first ? GQ_TILE_FIRST : GQ_TILE_CONTINUE;
    if (tail_rows > 0) copy_tail_rows(a, a_row, a_step, full_rows, tail_rows, k0, kn, a_tail);
    for (int64_t p = 0; p < panels; p++) {
      const int64_t col = p * GQ_NR, cols = n - col < GQ_NR ? n - col : GQ_NR;
      const int64_t row_step = p < full_panels ? b->row_step : GQ_NR;
      const float *bp = (p < full_panels ? b->base + p * b->panel_step : b->tail) + k0 * row_step;
      for (int64_t i = 0; i < m; i += GQ_MR) {
        const int64_t rows = i < full_rows ? GQ_MR : tail_rows;
        const float *at = rows == GQ_MR ? a + i * a_row + k0 * a_step : a_tail;
        const int64_t at_row = rows == GQ_MR ? a_row : GQ_KC, at_step = rows == GQ_MR ? a_step : 1;
        float *ct = c + i * ldc + col;
        if (rows == GQ_MR && cols == GQ_NR) {
          tile(kn, at, at_row, at_step, bp, row_step, ct, ldc, mode);
          continue;
        }
        if (!first)
          for (int64_t r = 0; r < rows; r++) memcpy(c_tile + r * GQ_NR, ct + r * ldc, sizeof(float) * (size_t)cols);
        tile(kn, at, at_row, at_step, bp, row_step, c_tile, GQ_NR, mode);
        for (int64_t r = 0; r < rows; r++) memcpy(ct + r * ldc, c_tile + r * GQ_NR, sizeof(float) * (size_t)cols);
      }
    }
  }
}
