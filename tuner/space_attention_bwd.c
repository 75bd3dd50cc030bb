/* The attention_bwd search space (see space_attention_bwd.h). */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "ops/attention_bwd.h"
#include "program.h"
#include "space_attention_bwd.h"

static int fits_device(const lk_params *p, const void *user, char *why, size_t n)
{
    const tune_space_user *u = user;
    if (lk_attention_bwd_check_params(u->ctx, p, u->key->head_dim) == LK_OK)
        return 1;
    snprintf(why, n, "%s", lk_last_error(u->ctx));
    return 0;
}

static int groups_within_length(const lk_params *p, const void *user, char *why, size_t n)
{
    const tune_space_user *u = user;
    if (lk_params_get(p, "MMA", 0)) {
        int bn = lk_params_get(p, "BLOCK_N", 0), bm = lk_params_get(p, "BLOCK_M", 0);
        if (bn <= 2 * u->key->length && bm <= u->key->length)
            return 1;
        snprintf(why, n, "BLOCK_N %d > 2 x length or BLOCK_M %d > length %lld", bn, bm, (long long)u->key->length);
        return 0;
    }
    int n1 = lk_params_get(p, "BLOCK_N1", 0), m2 = lk_params_get(p, "BLOCK_M2", 0);
    if (n1 <= u->key->length && m2 <= u->key->length)
        return 1;
    snprintf(why, n, "BLOCK_N1 %d or BLOCK_M2 %d > length %lld", n1, m2, (long long)u->key->length);
    return 0;
}

/* The tensor-core kernel keeps dK and dV of its MT = BLOCK_N / (16 WARPS) key tiles in registers
 * (2 MT D/2 floats per thread) beside S^T and dP^T (BLOCK_M / 2 each): ptxas (sm_90, NVRTC 13) spills
 * hundreds of bytes per thread for MT 2 at head_dim 128 and for MT 2 with BLOCK_M 64 at 64, so those
 * are not compiled (docs/perf-notes.md section 6). */
static int mma_registers(const lk_params *p, const void *user, char *why, size_t n)
{
    const tune_space_user *u = user;
    if (!lk_params_get(p, "MMA", 0))
        return 1;
    int warps = lk_params_get(p, "WARPS", 4), bn = lk_params_get(p, "BLOCK_N", 0), bm = lk_params_get(p, "BLOCK_M", 0);
    int mt = bn / (16 * warps);
    if (mt <= 1 || (u->key->head_dim == 64 && bm <= 32))
        return 1;
    snprintf(why, n, "%d key tiles per warp at head_dim %d, BLOCK_M %d spill registers", mt, u->key->head_dim, bm);
    return 0;
}

void attn_bwd_space(const tune_space_user *u, space *s)
{
    static const int variants[] = {0, 1, 2};
    static const int m1_gpu[] = {8, 16, 32}, n1_gpu[] = {32, 64, 128}, m2_gpu[] = {32, 64, 128}, n2_gpu[] = {8, 16, 32};
    static const int m1_cpu[] = {8, 16}, n1_cpu[] = {16, 32, 64}, m2_cpu[] = {16, 32, 64}, n2_cpu[] = {8, 16};
    static const int one[] = {1}, warps[] = {4, 8}, bn_mma[] = {64, 128, 256}, bm_mma[] = {16, 32, 64};
    static const int st_mma[] = {1, 2, 3};
    int cpu = u->ctx->info.type == LK_DEVICE_CPU;
    int mma = u->key->dtype == LK_F16 && lk_attention_bwd_has_mma(&u->ctx->info, u->key->head_dim);
    memset(s, 0, sizeof *s);
    s->user = u;
    if (!strcmp(u->key->family, "rope"))
        space_add_list(s, "VARIANT", 3, variants);
    if (mma) {
        space_add_list(s, "MMA", 1, one);
        space_add_list(s, "WARPS", 2, warps);
        space_add_list(s, "BLOCK_N", 3, bn_mma);
        space_add_list(s, "BLOCK_M", 3, bm_mma);
        space_add_list(s, "STAGES", 3, st_mma);
    } else {
        space_add_list(s, "BLOCK_N1", 3, cpu ? n1_cpu : n1_gpu);
        space_add_list(s, "BLOCK_M1", cpu ? 2 : 3, cpu ? m1_cpu : m1_gpu);
        space_add_list(s, "BLOCK_M2", 3, cpu ? m2_cpu : m2_gpu);
        space_add_list(s, "BLOCK_N2", cpu ? 2 : 3, cpu ? n2_cpu : n2_gpu);
    }
    space_add_constraint(s, "fits_device", fits_device);
    space_add_constraint(s, "mma_registers", mma_registers);
    space_add_constraint(s, "groups_within_length", groups_within_length);
}

int attn_bwd_fits_built(lk_context *ctx, const lk_tune_key *key, const lk_params *p, char *why, size_t n)
{
    static const char *const generic[2] = {"attention_bwd_dkdv", "attention_bwd_dq"}, *const mma_k[1] = {"attention_bwd_mma"};
    int variant = strcmp(key->family, "rope") ? -1 : lk_params_get(p, "VARIANT", 1);
    int mma = lk_params_get(p, "MMA", 0);
    lk_params defs;
    lk_attention_bwd_defines(key->dtype, key->head_dim, p, variant, &defs);
    const char *const *kernels = mma ? mma_k : generic;
    int nk = mma ? 1 : 2;
    size_t group[2] = {(size_t)lk_params_get(&defs, "BLOCK_N1", 16), (size_t)lk_params_get(&defs, "BLOCK_M2", 16)};
    size_t dyn = 0, limit = lk_attention_bwd_local_limit(&ctx->info, p);
    if (mma) {
        group[0] = 32u * (size_t)lk_params_get(&defs, "WARPS", 4);
        dyn = lk_attention_bwd_mma_local_bytes(p, key->head_dim);
    }
    void *prog = NULL;
    if (lk_program_get(ctx, lk_attention_bwd_program(p), &defs, &prog) != LK_OK) {
        snprintf(why, n, "build: %s", lk_last_error(ctx));
        return 0;
    }
    for (int i = 0; i < nk; i++) {
        lk_kernel_limits lim = {0};
        if (ctx->ops->kernel_limits(ctx, prog, kernels[i], dyn, &lim) != LK_OK) {
            snprintf(why, n, "kernel limits of %s: %s", kernels[i], lk_last_error(ctx));
            return 0;
        }
        if (lim.max_work_group < group[i]) {
            snprintf(why, n, "compiled %s allows work-groups of %zu < %zu", kernels[i], lim.max_work_group, group[i]);
            return 0;
        }
        if (lim.local_mem_bytes > limit) {
            snprintf(why, n, "compiled %s uses %zu B of local memory > %zu", kernels[i], lim.local_mem_bytes, limit);
            return 0;
        }
    }
    return 1;
}
