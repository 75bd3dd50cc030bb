/* Scratch buffers owned by a context (see scratch.h). */
#include <stdlib.h>

#include "scratch.h"

struct lk_scratch {
    lk_buffer *slot[LK_SCRATCH_SLOTS];
    uint64_t tag[LK_SCRATCH_SLOTS]; /* 0: contents unknown */
};

lk_status lk_scratch_tagged(lk_context *ctx, lk_scratch_slot slot, size_t bytes, uint64_t tag, lk_buffer **out,
                            int *valid)
{
    lk_status st = lk_scratch_get(ctx, slot, bytes, out);
    *valid = st == LK_OK && tag != 0 && ctx->scratch->tag[slot] == tag;
    if (!*valid && ctx->scratch)
        ctx->scratch->tag[slot] = 0;
    return st;
}

void lk_scratch_set_tag(lk_context *ctx, lk_scratch_slot slot, uint64_t tag)
{
    ctx->scratch->tag[slot] = tag;
}

lk_status lk_scratch_get(lk_context *ctx, lk_scratch_slot slot, size_t bytes, lk_buffer **out)
{
    if (!ctx->scratch && !(ctx->scratch = calloc(1, sizeof *ctx->scratch)))
        return lk_fail(ctx, LK_ERR_OUT_OF_MEMORY, "scratch: host allocation failed");
    lk_buffer **b = &ctx->scratch->slot[slot];
    if (*b && lk_buffer_size(*b) >= bytes) {
        *out = *b;
        return LK_OK;
    }
    lk_buffer_free(*b);
    *b = NULL;
    ctx->scratch->tag[slot] = 0;
    lk_status st = lk_buffer_alloc(ctx, bytes, b);
    *out = *b;
    return st;
}

void lk_scratch_release(lk_context *ctx)
{
    if (!ctx->scratch)
        return;
    for (int i = 0; i < LK_SCRATCH_SLOTS; i++)
        lk_buffer_free(ctx->scratch->slot[i]);
    free(ctx->scratch);
    ctx->scratch = NULL;
}
