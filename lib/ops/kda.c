/* lk_kda_fwd and lk_kda_decode_step: tuned-parameter lookup and the launch of cl/kda.cl (one
 * work-group per sequence, value head and V block, walking the chunks; the decode step is the
 * same kernel with CHUNK = 1). Argument checks live in kda_args.c. */
#include <math.h>
#include <string.h>

#include "kda.h"
#include "../core/launch.h"

#define OP "lk_kda"

lk_kda_params lk_kda_params_default(void)
{
    lk_kda_params p;
    memset(&p, 0, sizeof p);
    return p;
}

static int64_t pow2_at_least(int64_t x)
{
    int64_t p = 1;
    while (p < x)
        p *= 2;
    return p;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

size_t lk_kda_local_bytes(const lk_params *p)
{
    size_t C = (size_t)lk_params_get(p, "CHUNK", 32), bv = (size_t)lk_params_get(p, "BV", 32);
    size_t wg = (size_t)lk_params_get(p, "WG", 128), kt = (size_t)lk_params_get(p, "KT", 32);
    size_t tiles = 4 * C * (kt + 1), red = wg * C; /* tq, tk, tg, tw | red (one space) */
    /* scratch; amat; vp; betas, fq, fk; gl */
    return sizeof(float) * ((tiles > red ? tiles : red) + C * (C + 1) + C * bv + 3 * C + kt);
}

void lk_kda_effective(const lk_params *tuned, int64_t K, int64_t V, int64_t max_len, size_t local_limit,
                      lk_params *out)
{
    *out = *tuned;
    int64_t chunk = min64(lk_params_get(tuned, "CHUNK", 32), pow2_at_least(max_len));
    int64_t sub = min64(lk_params_get(tuned, "SUB", 16), chunk);
    int64_t bv = min64(lk_params_get(tuned, "BV", 32), pow2_at_least(V)), wg = lk_params_get(tuned, "WG", 128);
    if (chunk == 1 && bv > 0) /* the decode step: one work-item per column (PoCL 3.1 computed wrong states
                                  for CHUNK = 1 with WG / BV > 1) */
        wg = bv;
    int64_t ksplit = bv > 0 && wg >= bv ? wg / bv : 1;
    lk_params_set(out, "CHUNK", (int)chunk);
    lk_params_set(out, "WG", (int)wg);
    lk_params_set(out, "SUB", (int)sub);
    lk_params_set(out, "BV", (int)bv);
    /* K tile: the largest of 32, 16, 8 rows (a multiple of KSPLIT, at most K rounded up) that fits */
    int64_t k_cap = (K + ksplit - 1) / ksplit * ksplit;
    for (int64_t kt0 = 32; kt0 >= 8; kt0 /= 2) {
        int64_t kt = min64((kt0 + ksplit - 1) / ksplit * ksplit, k_cap);
        lk_params_set(out, "KT", (int)kt);
        if (lk_kda_local_bytes(out) <= local_limit)
            break;
    }
}

/* Built-in choices (CHUNK, SUB, BV, WG), best first; the default is the first that the device
 * runs for the call's K and V. The GPU ones keep the private arrays (state, two CHUNK partials)
 * within about 128 registers for K = 128. */
static const int prefs_gpu[][4] = {{32, 16, 32, 128}, {32, 16, 16, 64}, {16, 16, 32, 128},
                                   {16, 16, 16, 64},  {16, 16, 16, 32}, {8, 8, 16, 32}};
static const int prefs_cpu[][4] = {{32, 16, 64, 64}, {32, 16, 32, 32}, {16, 16, 32, 32}, {8, 8, 16, 16}};

void lk_kda_defaults(const lk_device_info *dev, int64_t K, int64_t V, lk_params *out)
{
    int gpu = dev->type == LK_DEVICE_GPU;
    const int(*prefs)[4] = gpu ? prefs_gpu : prefs_cpu;
    int n = gpu ? (int)(sizeof prefs_gpu / sizeof prefs_gpu[0]) : (int)(sizeof prefs_cpu / sizeof prefs_cpu[0]);
    for (int i = 0; i < n; i++) {
        memset(out, 0, sizeof *out);
        lk_params_set(out, "CHUNK", prefs[i][0]);
        lk_params_set(out, "SUB", prefs[i][1]);
        lk_params_set(out, "BV", prefs[i][2]);
        lk_params_set(out, "WG", prefs[i][3]);
        lk_params eff;
        lk_kda_effective(out, K, V, 1 << 30, dev->local_mem_bytes, &eff);
        if ((size_t)prefs[i][3] <= dev->max_work_group && lk_kda_local_bytes(&eff) <= dev->local_mem_bytes)
            return;
    }
}

static int is_pow2(int x)
{
    return x > 0 && (x & (x - 1)) == 0;
}

lk_status lk_kda_check_params(lk_context *ctx, const lk_params *p)
{
    int chunk = lk_params_get(p, "CHUNK", 0), sub = lk_params_get(p, "SUB", 0), bv = lk_params_get(p, "BV", 0);
    int wg = lk_params_get(p, "WG", 0);
    if (!is_pow2(chunk) || chunk > 64 || !is_pow2(sub) || sub > chunk || bv < 1 || bv > 256 || wg < bv ||
        wg % bv || (size_t)wg > ctx->info.max_work_group)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT,
                       OP ": parameters out of range (CHUNK %d a power of two up to 64, SUB %d a power of two up "
                          "to CHUNK, BV %d in 1..256, WG %d a multiple of BV up to %zu)",
                       chunk, sub, bv, wg, ctx->info.max_work_group);
    size_t local = lk_kda_local_bytes(p);
    if (local > ctx->info.local_mem_bytes)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, OP ": parameters need %zu bytes of local memory, device has %zu",
                       local, ctx->info.local_mem_bytes);
    return LK_OK;
}

void lk_kda_key(const lk_kda_call *call, lk_tune_key *key)
{
    memset(key, 0, sizeof *key);
    snprintf(key->op, sizeof key->op, "kda_fwd");
    key->dtype = call->q.dtype;
    key->head_dim = (int)call->q.shape[3];
    key->flag = 0;
    key->length = call->max_len;
}

lk_status lk_kda_run(lk_context *ctx, const lk_kda_call *c, const lk_params *tuned)
{
    int64_t K = c->q.shape[3], V = c->v.shape[3], H = c->q.shape[2], HV = c->v.shape[2];
    lk_params eff;
    lk_kda_effective(tuned, K, V, c->max_len, ctx->info.local_mem_bytes, &eff);
    lk_status st = lk_kda_check_params(ctx, &eff);
    if (st != LK_OK)
        return st;
    int bv = lk_params_get(&eff, "BV", 32), wg = lk_params_get(&eff, "WG", 128);
    const lk_kda_params *p = c->p;
    lk_params defs = {0};
    lk_params_set(&defs, "LK_F16", c->q.dtype == LK_F16);
    lk_params_set(&defs, "DK", (int)K);
    lk_params_set(&defs, "DV", (int)V);
    lk_params_set(&defs, "CHUNK", lk_params_get(&eff, "CHUNK", 32));
    lk_params_set(&defs, "SUB", lk_params_get(&eff, "SUB", 16));
    lk_params_set(&defs, "KT", lk_params_get(&eff, "KT", 32));
    lk_params_set(&defs, "BV", bv);
    lk_params_set(&defs, "WG", wg);
    lk_params_set(&defs, "L2NORM", p->l2norm_qk != 0);
    lk_params_set(&defs, "GATE", p->a_log != NULL);
    lk_params_set(&defs, "HAS_H0", c->h0 != NULL);
    lk_params_set(&defs, "HAS_HT", c->ht != NULL);
    lk_params_set(&defs, "VARLEN", p->cu_seqlens != NULL);
    lk_params_set(&defs, "UNROLL", ctx->info.type == LK_DEVICE_GPU);

    lk_args a = {0};
    lk_args_tensor(&a, &c->q, 4);
    lk_args_tensor(&a, &c->k, 4);
    lk_args_tensor(&a, &c->v, 4);
    lk_args_tensor(&a, &c->g, 4);
    lk_args_tensor(&a, &c->beta, 3);
    lk_args_tensor(&a, &c->o, 4);
    lk_args_tensor(&a, c->h0, 4);
    lk_args_tensor(&a, c->ht, 4);
    lk_args_tensor(&a, p->cu_seqlens, 1);
    lk_args_tensor(&a, p->a_log, 1);
    lk_args_tensor(&a, p->dt_bias, 2);
    lk_args_int(&a, (int32_t)c->q.shape[1]);
    lk_args_int(&a, (int32_t)H);
    lk_args_int(&a, (int32_t)HV);
    lk_args_float(&a, (float)(p->scale > 0.0 ? p->scale : 1.0 / sqrt((double)K)));
    size_t v_blocks = (size_t)((V + bv - 1) / bv);
    return lk_launch(ctx, "kda", &defs, "kda_fwd", (size_t)HV * v_blocks, (size_t)c->n_seqs, (size_t)wg, &a);
}

/* Look the parameters up for a prepared call and run it. */
static lk_status tuned_run(lk_context *ctx, const lk_kda_call *call)
{
    lk_tune_key key;
    lk_kda_key(call, &key);
    lk_params defaults, tuned;
    lk_lookup_result where;
    lk_kda_defaults(&ctx->info, call->q.shape[3], call->v.shape[3], &defaults);
    lk_tuned_params(ctx, &key, &defaults, &tuned, &where);
    lk_status st = lk_kda_run(ctx, call, &tuned);
    if (st == LK_OK) {
        size_t n = strlen(ctx->last_launch);
        snprintf(ctx->last_launch + n, sizeof ctx->last_launch - n, " [source=%s]",
                 lk_param_source_name(where.source));
        lk_clear_error(ctx);
    }
    return st;
}

lk_status lk_kda_fwd(lk_context *ctx, const lk_tensor *q, const lk_tensor *k, const lk_tensor *v,
                     const lk_tensor *g, const lk_tensor *beta, const lk_tensor *initial_state, lk_tensor *o,
                     lk_tensor *final_state, const lk_kda_params *params)
{
    if (!ctx)
        return LK_ERR_NULL_POINTER;
    ctx->last_launch[0] = '\0';
    lk_kda_call call;
    lk_status st = lk_kda_fwd_prepare(ctx, q, k, v, g, beta, initial_state, o, final_state, params, &call);
    return st != LK_OK ? st : tuned_run(ctx, &call);
}

lk_status lk_kda_decode_step(lk_context *ctx, const lk_tensor *q, const lk_tensor *k, const lk_tensor *v,
                             const lk_tensor *g, const lk_tensor *beta, lk_tensor *state, lk_tensor *o,
                             const lk_kda_params *params)
{
    if (!ctx)
        return LK_ERR_NULL_POINTER;
    ctx->last_launch[0] = '\0';
    lk_kda_call call;
    lk_status st = lk_kda_decode_prepare(ctx, q, k, v, g, beta, state, o, params, &call);
    return st != LK_OK ? st : tuned_run(ctx, &call);
}
