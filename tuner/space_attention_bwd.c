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
    int n1 = lk_params_get(p, "BLOCK_N1", 0), m2 = lk_params_get(p, "BLOCK_M2", 0);
    if (n1 <= u->key->length && m2 <= u->key->length)
        return 1;
    snprintf(why, n, "BLOCK_N1 %d or BLOCK_M2 %d > length %lld", n1, m2, (long long)u->key->length);
    return 0;
}

void attn_bwd_space(const tune_space_user *u, space *s)
{
    static const int variants[] = {0, 1, 2};
    static const int m1_gpu[] = {8, 16, 32}, n1_gpu[] = {32, 64, 128}, m2_gpu[] = {32, 64, 128}, n2_gpu[] = {8, 16, 32};
    static const int m1_cpu[] = {8, 16}, n1_cpu[] = {16, 32, 64}, m2_cpu[] = {16, 32, 64}, n2_cpu[] = {8, 16};
    int cpu = u->ctx->info.type == LK_DEVICE_CPU;
    memset(s, 0, sizeof *s);
    s->user = u;
    if (!strcmp(u->key->family, "rope"))
        space_add_list(s, "VARIANT", 3, variants);
    space_add_list(s, "BLOCK_N1", 3, cpu ? n1_cpu : n1_gpu);
    space_add_list(s, "BLOCK_M1", cpu ? 2 : 3, cpu ? m1_cpu : m1_gpu);
    space_add_list(s, "BLOCK_M2", 3, cpu ? m2_cpu : m2_gpu);
    space_add_list(s, "BLOCK_N2", cpu ? 2 : 3, cpu ? n2_cpu : n2_gpu);
    space_add_constraint(s, "fits_device", fits_device);
    space_add_constraint(s, "groups_within_length", groups_within_length);
}

int attn_bwd_fits_built(lk_context *ctx, const lk_tune_key *key, const lk_params *p, char *why, size_t n)
{
    static const char *const kernels[2] = {"attention_bwd_dkdv", "attention_bwd_dq"};
    int variant = strcmp(key->family, "rope") ? -1 : lk_params_get(p, "VARIANT", 1);
    lk_params defs;
    lk_attention_bwd_defines(key->dtype, key->head_dim, p, variant, &defs);
    size_t group[2] = {(size_t)lk_params_get(&defs, "BLOCK_N1", 16), (size_t)lk_params_get(&defs, "BLOCK_M2", 16)};
    void *prog = NULL;
    if (lk_program_get(ctx, "attention_bwd", &defs, &prog) != LK_OK) {
        snprintf(why, n, "build: %s", lk_last_error(ctx));
        return 0;
    }
    for (int i = 0; i < 2; i++) {
        lk_kernel_limits lim = {0};
        if (ctx->ops->kernel_limits(ctx, prog, kernels[i], 0, &lim) != LK_OK) {
            snprintf(why, n, "kernel limits of %s: %s", kernels[i], lk_last_error(ctx));
            return 0;
        }
        if (lim.max_work_group < group[i]) {
            snprintf(why, n, "compiled %s allows work-groups of %zu < %zu", kernels[i], lim.max_work_group, group[i]);
            return 0;
        }
        if (lim.local_mem_bytes > ctx->info.local_mem_bytes) {
            snprintf(why, n, "compiled %s uses %zu B of local memory > %zu", kernels[i], lim.local_mem_bytes,
                     ctx->info.local_mem_bytes);
            return 0;
        }
    }
    return 1;
}
