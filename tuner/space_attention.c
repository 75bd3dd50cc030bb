/* The attention_fwd search space (see space_attention.h). */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "ops/attention_fwd.h"
#include "program.h"
#include "space_attention.h"

static int fits_device(const lk_params *p, const void *user, char *why, size_t n)
{
    const tune_space_user *u = user;
    if (lk_attention_fwd_check_params(u->ctx, p, u->key->head_dim) == LK_OK)
        return 1;
    snprintf(why, n, "%s", lk_last_error(u->ctx));
    return 0;
}

static int tile_within_length(const lk_params *p, const void *user, char *why, size_t n)
{
    const tune_space_user *u = user;
    int bm = lk_params_get(p, "BLOCK_M", 0);
    if (bm <= u->key->length)
        return 1;
    snprintf(why, n, "BLOCK_M %d > length %lld", bm, (long long)u->key->length);
    return 0;
}

static int table_only_fused(const lk_params *p, const void *user, char *why, size_t n)
{
    if (!lk_params_get(p, "ROPE_TABLE", 0) || lk_params_get(p, "VARIANT", 0) == 0)
        return 1;
    snprintf(why, n, "ROPE_TABLE applies to VARIANT 0 only");
    return 0;
}

static int qsmem_only_two_tiles(const lk_params *p, const void *user, char *why, size_t n)
{
    (void)user;
    if (!lk_params_get(p, "QSMEM", 0) || lk_params_get(p, "BLOCK_M", 0) == 32 * lk_params_get(p, "WARPS", 0))
        return 1;
    snprintf(why, n, "QSMEM pays only with two m16 tiles per warp (BLOCK_M = 32 * WARPS)");
    return 0;
}

void attn_space(const tune_space_user *u, space *s)
{
    static const int variants[] = {0, 1, 2}, table[] = {0, 1};
    static const int bm[] = {16, 32, 64, 128}, bn_gpu[] = {8, 16, 32, 64}, st_gpu[] = {1, 2, 3};
    static const int bn_cpu[] = {8, 16, 32}, st_cpu[] = {1, 2};
    /* MMA 2 (Hopper's wgmma, where it runs) adds WARPS 12 with BLOCK_M 192 = 16 WARPS, which MMA 1 rejects */
    static const int bm_mma[] = {64, 128, 192}, bn_mma[] = {32, 64, 128}, st_mma[] = {1, 2, 3, 4};
    static const int warps[] = {4, 8, 12}, mma_kinds[] = {1, 2}, qsmem[] = {0, 1}, overlap[] = {0, 1}, producer[] = {0, 1};
    int cpu = u->ctx->info.type == LK_DEVICE_CPU;
    int mma = u->key->dtype == LK_F16 && lk_attention_fwd_has_mma(&u->ctx->info, u->key->head_dim);
    int wgmma = mma && lk_attention_fwd_has_wgmma(&u->ctx->info, u->key->head_dim);
    memset(s, 0, sizeof *s);
    s->user = u;
    if (!strcmp(u->key->family, "rope")) {
        space_add_list(s, "VARIANT", 3, variants);
        space_add_list(s, "ROPE_TABLE", 2, table);
    }
    if (mma) {
        space_add_list(s, "MMA", wgmma ? 2 : 1, mma_kinds);
        space_add_list(s, "WARPS", wgmma ? 3 : 2, warps);
        space_add_list(s, "BLOCK_M", wgmma ? 3 : 2, bm_mma);
        space_add_list(s, "BLOCK_N", 3, bn_mma);
        space_add_list(s, "STAGES", 4, st_mma);
        space_add_list(s, "QSMEM", 2, qsmem);
        if (wgmma) {
            space_add_list(s, "OVERLAP", 2, overlap);
            space_add_list(s, "PRODUCER", 2, producer);
        }
        space_add_constraint(s, "qsmem_only_two_tiles", qsmem_only_two_tiles);
    } else {
        space_add_list(s, "BLOCK_M", 4, bm);
        space_add_list(s, "BLOCK_N", cpu ? 3 : 4, cpu ? bn_cpu : bn_gpu);
        space_add_list(s, "STAGES", cpu ? 2 : 3, cpu ? st_cpu : st_gpu);
    }
    space_add_constraint(s, "table_only_fused", table_only_fused);
    space_add_constraint(s, "fits_device", fits_device);
    space_add_constraint(s, "tile_within_length", tile_within_length);
}

int attn_fits_built(lk_context *ctx, const lk_tune_key *key, const lk_params *p, char *why, size_t n)
{
    int rope = !strcmp(key->family, "rope"), variant = lk_params_get(p, "VARIANT", 1);
    lk_params defs;
    size_t local;
    const char *kernel = lk_attention_fwd_kernel(key->dtype == LK_F16, key->head_dim, p, rope && variant != 2,
                                                 rope && variant == 0,
                                                 rope && variant == 0 && lk_params_get(p, "ROPE_TABLE", 0), &defs, &local);
    void *prog = NULL;
    lk_kernel_limits lim = {0};
    size_t limit = lk_attention_fwd_local_limit(&ctx->info, p);
    if (lk_program_get(ctx, kernel, &defs, &prog) != LK_OK ||
        ctx->ops->kernel_limits(ctx, prog, kernel, lk_attention_fwd_dyn_local(p, key->head_dim), &lim) != LK_OK) {
        snprintf(why, n, "kernel limits: %s", lk_last_error(ctx));
        return 0;
    }
    if (lim.max_work_group < local) {
        snprintf(why, n, "compiled kernel allows work-groups of %zu < %zu", lim.max_work_group, local);
        return 0;
    }
    /* within the per-block limit a block fits on an SM: the opt-in limit is the SM's shared memory
     * less the 1 KB the driver reserves per block, and __launch_bounds__ keeps its registers in the file */
    if (lim.local_mem_bytes > limit) {
        snprintf(why, n, "compiled kernel uses %zu B of local memory > %zu", lim.local_mem_bytes, limit);
        return 0;
    }
    return 1;
}
