/* Per-context scratch buffers, one per slot, grown on demand and reused across calls (the
 * queue is in order, so a later call cannot overwrite data an earlier one still reads). */
#ifndef LK_SCRATCH_H
#define LK_SCRATCH_H

#include "internal.h"

typedef enum lk_scratch_slot {
    LK_SCRATCH_ROPE_Q = 0,   /* rotated Q (unfused RoPE) */
    LK_SCRATCH_ROPE_K,       /* rotated K (K pre-pass and unfused) */
    LK_SCRATCH_ROPE_FREQ,    /* per-pair frequencies in turns (hi, lo) */
    LK_SCRATCH_ROPE_TABLE,   /* cos/sin table of K positions */
    LK_SCRATCH_ATTN_BWD_STATS, /* attention backward: per query row (lse * log2 e, Delta) */
    LK_SCRATCH_DECODE_PARTIAL, /* split partial results of decode attention (decode_split.h) */
    LK_SCRATCH_DECODE_KEYS,  /* keys rebuilt by a two-stage decode (decompress, rotate, RoPE) */
    LK_SCRATCH_HADAMARD_PERM, /* lk_hadamard's channel permutation */
    LK_SCRATCH_LATENTS,      /* low-rank cache: latents of an append, p.latent of a decode */
    LK_SCRATCH_KDA,          /* KDA: per-chunk W, U, qg, kg, Aqk, decay (cl/kda_common.h) */
    LK_SCRATCH_SLOTS
} lk_scratch_slot;

lk_status lk_scratch_get(lk_context *ctx, lk_scratch_slot slot, size_t bytes, lk_buffer **out);
/* Like lk_scratch_get; *valid = 1 when the slot still holds what lk_scratch_set_tag(tag) marked. */
lk_status lk_scratch_tagged(lk_context *ctx, lk_scratch_slot slot, size_t bytes, uint64_t tag, lk_buffer **out,
                            int *valid);
void lk_scratch_set_tag(lk_context *ctx, lk_scratch_slot slot, uint64_t tag);
void lk_scratch_release(lk_context *ctx);

#endif
