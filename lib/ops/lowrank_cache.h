/* The low-rank latent cache object: a KIVI cache over the latents plus the configuration. */
#ifndef LK_LOWRANK_CACHE_H
#define LK_LOWRANK_CACHE_H

#include "kivi_cache.h"

struct lk_lowrank_cache {
    lk_context *ctx;
    lk_lowrank_config cfg;
    lk_kivi_cache *latents; /* batch, kv_heads / heads_per_group groups, head_dim = rank */
};

/* LK_ERR_UNSUPPORTED unless the backend has a GEMM (op names the API in the message). */
lk_status lk_lowrank_need_gemm(lk_context *ctx, const char *op);

#endif
