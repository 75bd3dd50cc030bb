/* longkern_kvcache.h: decode attention and the Mustafar/RotateKV sparse KV cache.
 * Included by longkern.h; the KIVI cache has its own header, longkern_kivi.h.
 *
 * Decode attention takes one query token per sequence: q [B, Hq, D] (or [B, Hq, 1, D]), the
 * output o has q's shape, lse (optional, F32 [B, Hq] or [B, Hq, 1]) gets the natural-log
 * logsumexp of the scaled scores. The work is split over tokens (flash-decoding) and the
 * partial results are merged by one shared combine kernel; the split count, tile size and
 * work-group size come from the tuning database, keyed by context length. */
#ifndef LONGKERN_KVCACHE_H
#define LONGKERN_KVCACHE_H

#include "longkern.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lk_decode_params {
    double scale; /* 0: 1/sqrt(D) */
} lk_decode_params;

lk_decode_params lk_decode_params_default(void);

/* Dense decode: o = softmax(scale · q · kᵀ) · v over all S cached tokens.
 * q [B, Hq, D] or [B, Hq, 1, D]; k, v [B, Hkv, S, D] with Hq a multiple of Hkv; F32 or F16
 * (all the same); D in {64, 128, 256}; any strides. */
lk_status lk_attention_decode(lk_context *ctx, const lk_tensor *q, const lk_tensor *k, const lk_tensor *v,
                              lk_tensor *o, lk_tensor *lse, const lk_decode_params *params);

#ifdef __cplusplus
}
#endif
#endif
