/* Pieces the attention ops share (forward in attention_fwd.c, backward in attention_bwd.c): the
 * checks of q, k, v, o, lse and the params, the tuning key, the RoPE variant of a call, the RoPE
 * positions of Q and K, and rotated copies of Q or K in scratch. */
#ifndef LK_ATTENTION_COMMON_H
#define LK_ATTENTION_COMMON_H

#include "../core/internal.h"
#include "../core/params.h"
#include "../core/scratch.h"
#include "../tunedb/tunedb.h"
#include "op_params.h"

/* q [B, Hq, Sq, D], k and v [B, Hkv, Sk, D], o like q, lse (optional) F32 [B, Hq, Sq]; one float
 * dtype; D in {64, 128, 256}; o and lse overlap nothing; scale, variant and RoPE params valid.
 * Messages start with `op`. */
lk_status lk_attention_check_args(lk_context *ctx, const char *op, const lk_tensor *q, const lk_tensor *k,
                                  const lk_tensor *v, const lk_tensor *o, const lk_tensor *lse,
                                  const lk_attention_params *p);

/* The tuning key of a call of `op` ("attention_fwd", "attention_bwd"): family rope|plain, dtype,
 * head_dim, causal, length max(Sq, Sk). */
void lk_attention_key(const char *op, const lk_tensor *q, const lk_tensor *k, const lk_attention_params *p,
                      lk_tune_key *key);

/* The RoPE variant a call runs: forced by the caller, else the tuned VARIANT. */
int lk_attention_rope_variant(const lk_attention_params *p, const lk_params *tuned);

/* Appends " VARIANT=v" (v = -1 without RoPE) to ctx->last_launch after a call (lk_op_params_finish
 * then adds the parameters' source). */
void lk_attention_note_variant(lk_context *ctx, const lk_attention_params *p, const lk_params *tuned);

/* Where the RoPE positions of Q and K come from: ids (NULL for offset + s) and the offsets. K starts
 * at rope->position_offset, Q at that plus Sk - Sq (bottom-right aligned). */
typedef struct lk_attention_positions {
    int layout;
    const lk_tensor *q_ids, *k_ids;
    int64_t q_off, k_off;
} lk_attention_positions;
lk_attention_positions lk_attention_positions_of(const lk_tensor *q, const lk_tensor *k,
                                                 const lk_attention_params *p);

/* out = rope(x) as a contiguous [B, H, S, D] tensor of x's dtype in a
 * scratch slot; ids and offset as in lk_rope_launch. */
lk_status lk_attention_rotated_copy(lk_context *ctx, lk_scratch_slot slot, const lk_tensor *x,
                                    const lk_rope_params *rope, const lk_tensor *ids, int64_t offset,
                                    lk_tensor *out);

#endif
