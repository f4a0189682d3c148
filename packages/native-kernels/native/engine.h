/*
 * The fused CPU engine: one call turns a block of leaves (spans of an epoch's sample order) into the block's gradient
 * of a dense autoencoder, reduced over the fixed leaf tree of @gradq/engine's tree.ts. No N-API here, so that it can
 * be read (and tested) on its own; addon.c checks every argument before calling in.
 */
#ifndef GRADQ_ENGINE_H
#define GRADQ_ENGINE_H

#include <stdint.h>

/* Largest layer and deepest model the engine accepts: far above gradq's (784 units, 4 layers). */
#define GQ_ENGINE_MAX_UNITS (1 << 20)
#define GQ_ENGINE_MAX_LAYERS 64

enum gq_output_activation { GQ_OUT_RELU = 0, GQ_OUT_SIGMOID = 1, GQ_OUT_LINEAR = 2 };
enum gq_rounding { GQ_ROUND_F32 = 0, GQ_ROUND_F16 = 1, GQ_ROUND_BF16 = 2 };

typedef struct gq_engine gq_engine;

/* sizes[0..count-1]: units per layer, input first (count >= 2, sizes[0] == sizes[count-1]). NULL when out of memory. */
gq_engine *gq_engine_create(int count, const int32_t *sizes, int output_activation);
void gq_engine_destroy(gq_engine *engine);
/* Float32 values in the flat layout: per layer, kernel [in, out] row-major, then bias [out]. */
int64_t gq_engine_param_count(const gq_engine *engine);
int gq_engine_sample_size(const gq_engine *engine);

/*
 * The block's gradient into out_grad (param_count values) and each leaf's mean squared error into out_losses.
 * leaves = [start0, end0, start1, end1, ...]: positions in `order`, consecutive, each non-empty, already checked;
 * order[start0..end_last) index samples of `pixels` (sample_size bytes each), already checked.
 * Each leaf's gradient is d/dθ of sum((y - x)^2) / (sample_size * step_samples), rounded to `rounding`; the leaves
 * are merged as tree.ts's reduceLeaves does. Returns 0, or -1 when the scratch buffers could not grow.
 */
int gq_engine_compute(gq_engine *engine, const float *params, const uint8_t *pixels, const uint32_t *order,
                      const int32_t *leaves, int leaf_count, int64_t step_samples, int rounding, float *out_grad,
                      double *out_losses);

/* values = round(values) in place: the 16-bit wire encodings of @gradq/model's encoding.ts, decoded again. */
void gq_round(float *values, int64_t n, int rounding);

/* left = round(left + right) in place: tree.ts's addRounded. */
void gq_tree_add(float *left, const float *right, int64_t n, int rounding);

/* The index of the first NaN or infinity in values[0..n), or -1 when every value is finite. */
int64_t gq_first_non_finite(const float *values, int64_t n);

/* The exact ports of encoding.ts's bf16FromBits / f16FromBits and the f16 decode, one value at a time; gq_round
 * uses branch-free equivalents that vectorise (checked against these over all 2^32 inputs). */
uint16_t gq_bf16_from_bits(uint32_t bits);
uint16_t gq_f16_from_bits(uint32_t bits);
uint32_t gq_f16_to_f32_bits(uint16_t half);

#endif
