/* lk_attention_bwd: validation, tuned-parameter lookup, and the three RoPE variants over either
 * kernel set: the generic one (cl/attention_bwd.cl: stats, then dK/dV per key block, then dQ per
 * query block, any device) or the tensor-core one (cl/attention_bwd_mma.cl: stats and a zeroed
 * fp32 dQ accumulator, then one kernel per key block that adds its dQ share with atomics, then dQ
 * converted; NVIDIA compute capability 8+, f16, D 64/128, tuned parameter MMA=1):
 *   fused      ROPE_IN=1 ROPE_OUT=1: Q and K rotated as the kernels load them, dq/dk rotated back
 *   pre-pass   ROPE_IN=0 ROPE_OUT=1: Q and K rotated once into scratch, dq/dk rotated back in the kernels
 *   unfused    ROPE_IN=0 ROPE_OUT=0: Q and K rotated into scratch, plain backward, then the inverse
 *              RoPE (lk_rope's kernel) on dq and dk in place */
#include <math.h>
#include <string.h>

#include "attention_bwd.h"
#include "attention_common.h"
#include "op_params_check.h"
#include "rope_host.h"
#include "../core/launch.h"
#include "../core/scratch.h"
#include "../core/tensor.h"

#define OP "lk_attention_bwd"
#define STATS_WG 64

int lk_attention_bwd_has_mma(const lk_device_info *dev, int head_dim)
{
    return lk_device_tensor_cores(dev) && (head_dim == 64 || head_dim == 128);
}

/* The tensor-core kernels read q, k, v, dout rows as f16 with 16-byte copies. */
static int mma_layout_ok(const lk_tensor *t)
{
    return t->dtype == LK_F16 && lk_tensor_rows_vec(t);
}

static void generic_defaults(const lk_device_info *dev, lk_params *out)
{
    memset(out, 0, sizeof *out);
    int gpu = dev->type == LK_DEVICE_GPU;
    lk_params_set(out, "VARIANT", LK_ROPE_K_PREPASS);
    lk_params_set(out, "BLOCK_M1", 16);
    lk_params_set(out, "BLOCK_N1", gpu ? 64 : 32);
    lk_params_set(out, "BLOCK_M2", gpu ? 64 : 32);
    lk_params_set(out, "BLOCK_N2", 16);
}

size_t lk_attention_bwd_mma_local_bytes(const lk_params *p, int head_dim)
{
    size_t bm = (size_t)lk_params_get(p, "BLOCK_M", 16), bn = (size_t)lk_params_get(p, "BLOCK_N", 64);
    size_t st = (size_t)lk_params_get(p, "STAGES", 1), row = (size_t)head_dim + 8;
    /* K and V blocks, STAGES Q and dO tiles (f16, rows padded by 8), dS^T (f16), (lse2, Delta) per row */
    return 2 * (2 * bn * row + 2 * st * bm * row + bn * (bm + 8)) + 8 * st * bm;
}

void lk_attention_bwd_defaults(const lk_device_info *dev, int head_dim, lk_params *out)
{
    generic_defaults(dev, out);
    if (!lk_attention_bwd_has_mma(dev, head_dim))
        return;
    /* the generic tiles stay in the set for calls the tensor-core kernels cannot take (f32, strides);
     * the tensor-core tiles: the best of an exhaustive H200 run at hd128, 8K (docs/perf-notes.md 6), or
     * the first of these that fits the device's shared memory (227 KB CUDA opt-in, 48 KB OpenCL) */
    static const int cand[][4] = {/* WARPS, BLOCK_N, BLOCK_M, STAGES */
                                  {8, 128, 64, 2}, {4, 64, 32, 2}, {4, 64, 16, 1}};
    int c = 0;
    for (;; c++) {
        if (c == 3)
            return; /* no tensor-core tile fits: the generic kernels */
        lk_params t = {0};
        lk_params_set(&t, "BLOCK_N", cand[c][1]);
        lk_params_set(&t, "BLOCK_M", cand[c][2]);
        lk_params_set(&t, "STAGES", cand[c][3]);
        if (lk_attention_bwd_mma_local_bytes(&t, head_dim) <= dev->local_mem_optin_bytes)
            break;
    }
    lk_params_set(out, "MMA", 1);
    lk_params_set(out, "WARPS", cand[c][0]);
    lk_params_set(out, "BLOCK_N", cand[c][1]);
    lk_params_set(out, "BLOCK_M", cand[c][2]);
    lk_params_set(out, "STAGES", cand[c][3]);
}

size_t lk_attention_bwd_local_bytes(const lk_params *p, int head_dim)
{
    if (lk_params_get(p, "MMA", 0))
        return lk_attention_bwd_mma_local_bytes(p, head_dim);
    size_t m1 = (size_t)lk_params_get(p, "BLOCK_M1", 16), n2 = (size_t)lk_params_get(p, "BLOCK_N2", 16);
    size_t dkdv = sizeof(float) * (2 * m1 * (size_t)head_dim + 2 * m1);
    size_t dq = sizeof(float) * 2 * n2 * (size_t)head_dim;
    return dkdv > dq ? dkdv : dq;
}

size_t lk_attention_bwd_local_limit(const lk_device_info *dev, const lk_params *p)
{
    return lk_params_get(p, "MMA", 0) ? dev->local_mem_optin_bytes : dev->local_mem_bytes;
}

static lk_status check_mma_params(lk_context *ctx, const lk_params *p, int head_dim)
{
    int warps = lk_params_get(p, "WARPS", 0), bn = lk_params_get(p, "BLOCK_N", 0);
    int bm = lk_params_get(p, "BLOCK_M", 0), stages = lk_params_get(p, "STAGES", 0), mma = lk_params_get(p, "MMA", 0);
    if (mma != 1 || !lk_attention_bwd_has_mma(&ctx->info, head_dim) || (warps != 4 && warps != 8) ||
        bn % (16 * warps) || bn < 16 * warps || bn > 32 * warps || bm < LK_ATTN_BWD_MMA_BLOCK_M_MIN ||
        bm > LK_ATTN_BWD_MMA_BLOCK_M_MAX || (bm & (bm - 1)) || stages < 1 || stages > LK_ATTN_STAGES_MAX ||
        (bm / 16) * (head_dim / 8) / warps < 2 || (size_t)(32 * warps) > ctx->info.max_work_group)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT,
                       OP ": MMA=1 (MMA %d) needs an NVIDIA GPU of compute capability 8+ (this: %d.%d), head_dim 64"
                       " or 128 (%d), WARPS 4 or 8 (%d), BLOCK_N 16*WARPS or 32*WARPS (%d), BLOCK_M 16, 32 or 64"
                       " (%d) with BLOCK_M*head_dim >= 256*WARPS, STAGES 1..4 (%d)",
                       mma, ctx->info.cc_major, ctx->info.cc_minor, head_dim, warps, bn, bm, stages);
    return LK_OK;
}

lk_status lk_attention_bwd_check_params(lk_context *ctx, const lk_params *p, int head_dim)
{
    static const char *const tiles[] = {"BLOCK_M1", "BLOCK_N1", "BLOCK_M2", "BLOCK_N2"};
    int variant = lk_params_get(p, "VARIANT", 0);
    if (variant < LK_ROPE_FUSED || variant > LK_ROPE_UNFUSED)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, OP ": parameter VARIANT %d out of range", variant);
    if (lk_params_get(p, "MMA", 0)) {
        lk_status st = check_mma_params(ctx, p, head_dim);
        if (st != LK_OK)
            return st;
    } else {
        for (int i = 0; i < 4; i++) {
            int v = lk_params_get(p, tiles[i], 0);
            int is_group = i == 1 || i == 2; /* BLOCK_N1 and BLOCK_M2 are work-group sizes */
            if (v < 1 || v > LK_ATTN_BWD_TILE_MAX || (is_group && (size_t)v > ctx->info.max_work_group))
                return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, OP ": parameter %s %d out of range", tiles[i], v);
        }
    }
    size_t local = lk_attention_bwd_local_bytes(p, head_dim), limit = lk_attention_bwd_local_limit(&ctx->info, p);
    if (local > limit)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, OP ": parameters need %zu bytes of local memory, device has %zu",
                       local, limit);
    return LK_OK;
}

/* The forward's checks plus dout (like o), dq (like q), dk and dv (like k), and no output
 * overlapping an input or another output. */
static lk_status check_args(lk_context *ctx, const lk_tensor *q, const lk_tensor *k, const lk_tensor *v,
                            const lk_tensor *o, const lk_tensor *lse, const lk_tensor *dout, const lk_tensor *dq,
                            const lk_tensor *dk, const lk_tensor *dv, const lk_attention_params *p)
{
    lk_status st;
    if (!lse)
        return lk_fail(ctx, LK_ERR_NULL_POINTER, OP ": lse is NULL (the forward's logsumexp is required)");
    if ((st = lk_attention_check_args(ctx, OP, q, k, v, o, lse, p)) ||
        (st = lk_check_tensor(ctx, OP, "dout", dout, 4)) || (st = lk_check_output(ctx, OP, "dq", dq, 4)) ||
        (st = lk_check_output(ctx, OP, "dk", dk, 4)) || (st = lk_check_output(ctx, OP, "dv", dv, 4)))
        return st;
    if (dout->dtype != q->dtype || dq->dtype != q->dtype || dk->dtype != q->dtype || dv->dtype != q->dtype)
        return lk_fail(ctx, LK_ERR_DTYPE, OP ": dout, dq, dk and dv must have q's dtype (%s)", lk_dtype_name(q->dtype));
    for (int i = 0; i < 4; i++) {
        if (dout->shape[i] != q->shape[i] || dq->shape[i] != q->shape[i])
            return lk_fail(ctx, LK_ERR_SHAPE, OP ": dout and dq must have q's shape");
        if (dk->shape[i] != k->shape[i] || dv->shape[i] != k->shape[i])
            return lk_fail(ctx, LK_ERR_SHAPE, OP ": dk and dv must have k's shape");
    }
    const lk_tensor *const ids[] = {p->rope ? p->q_position_ids : NULL, p->rope ? p->k_position_ids : NULL};
    const lk_tensor *inputs[] = {q, k, v, o, lse, dout, ids[0], ids[1]}, *outputs[] = {dq, dk, dv};
    static const char *const names[] = {"dq", "dk", "dv"};
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 8; j++)
            if (lk_tensors_overlap(outputs[i], inputs[j]))
                return lk_fail(ctx, LK_ERR_ALIAS, OP ": %s overlaps an input", names[i]);
        for (int j = i + 1; j < 3; j++)
            if (lk_tensors_overlap(outputs[i], outputs[j]))
                return lk_fail(ctx, LK_ERR_ALIAS, OP ": %s overlaps %s", names[i], names[j]);
    }
    return LK_OK;
}

void lk_attention_bwd_defines(lk_dtype dtype, int head_dim, const lk_params *tuned, int variant, lk_params *out)
{
    static const char *const tiles[] = {"BLOCK_M1", "BLOCK_N1", "BLOCK_M2", "BLOCK_N2"};
    static const char *const mma_tiles[] = {"BLOCK_M", "BLOCK_N", "STAGES", "WARPS"};
    int mma = lk_params_get(tuned, "MMA", 0);
    memset(out, 0, sizeof *out);
    lk_params_set(out, "LK_F16", dtype == LK_F16);
    lk_params_set(out, "D", head_dim);
    for (int i = 0; i < 4; i++) {
        if (mma)
            lk_params_set(out, mma_tiles[i], lk_params_get(tuned, mma_tiles[i], 0));
        else
            lk_params_set(out, tiles[i], lk_params_get(tuned, tiles[i], 16));
    }
    lk_params_set(out, "ROPE_IN", variant == LK_ROPE_FUSED);
    lk_params_set(out, "ROPE_OUT", variant == LK_ROPE_FUSED || variant == LK_ROPE_K_PREPASS);
}

const char *lk_attention_bwd_program(const lk_params *tuned)
{
    return lk_params_get(tuned, "MMA", 0) ? "attention_bwd_mma" : "attention_bwd";
}

/* (lse * log2 e, Delta = rowsum(dout * o)) per query row into the stats scratch. */
static lk_status launch_stats(lk_context *ctx, const lk_tensor *o, const lk_tensor *lse, const lk_tensor *dout,
                              const lk_params *defs, lk_buffer **stats)
{
    int64_t rows = o->shape[0] * o->shape[1] * o->shape[2];
    lk_status st = lk_scratch_get(ctx, LK_SCRATCH_ATTN_BWD_STATS, sizeof(float) * 2 * (size_t)rows, stats);
    if (st != LK_OK)
        return st;
    lk_args a = {0};
    lk_args_tensor(&a, o, 4);
    lk_args_tensor(&a, dout, 4);
    lk_args_tensor(&a, lse, 3);
    lk_args_buffer(&a, *stats);
    lk_args_int(&a, (int32_t)o->shape[1]);
    lk_args_int(&a, (int32_t)o->shape[2]);
    lk_args_long(&a, rows);
    return lk_launch(ctx, "attention_bwd", defs, "attention_bwd_stats", (size_t)((rows + STATS_WG - 1) / STATS_WG),
                     1, STATS_WG, &a);
}

/* The arguments both main kernels take after their tensors. */
static void args_tail(lk_args *a, lk_buffer *stats, const lk_tensor *q, const lk_tensor *k, double scale,
                      int causal, lk_buffer *freq, const lk_attention_positions *pos)
{
    lk_args_buffer(a, stats);
    lk_args_int(a, (int32_t)q->shape[1]);
    lk_args_int(a, (int32_t)k->shape[1]);
    lk_args_int(a, (int32_t)q->shape[2]);
    lk_args_int(a, (int32_t)k->shape[2]);
    lk_args_float(a, (float)scale);
    lk_args_int(a, causal);
    lk_args_buffer(a, freq);
    lk_args_int(a, pos->layout);
    lk_rope_args_positions(a, pos->q_ids, pos->q_off, 1);
    lk_rope_args_positions(a, pos->k_ids, pos->k_off, 1);
}

/* The tensor-core kernels: prep (stats, zeroed dQ accumulator), the main kernel per key block, the
 * dQ conversion. qr and kr are q and k, or their rotated copies. */
static lk_status run_mma(lk_context *ctx, const lk_tensor *qr, const lk_tensor *kr, const lk_tensor *v,
                         const lk_tensor *o, const lk_tensor *lse, const lk_tensor *dout, lk_tensor *dq, lk_tensor *dk,
                         lk_tensor *dv, double scale, int causal, const lk_params *defs, const lk_params *tuned,
                         lk_buffer *freq, const lk_attention_positions *pos)
{
    int64_t B = qr->shape[0], Hq = qr->shape[1], Sq = qr->shape[2], D = qr->shape[3];
    int64_t Hkv = kr->shape[1], Sk = kr->shape[2];
    int64_t sq_pad = (Sq + 63) / 64 * 64, rows_pad = B * Hq * sq_pad;
    lk_buffer *scr;
    lk_status st = lk_scratch_get(ctx, LK_SCRATCH_ATTN_BWD_STATS, sizeof(float) * (size_t)(rows_pad * (2 + D)), &scr);
    if (st != LK_OK)
        return st;
    lk_args a = {0};
    lk_args_tensor(&a, o, 4);
    lk_args_tensor(&a, dout, 4);
    lk_args_tensor(&a, lse, 3);
    lk_args_buffer(&a, scr);
    lk_args_int(&a, (int32_t)Hq);
    lk_args_int(&a, (int32_t)Sq);
    lk_args_int(&a, (int32_t)sq_pad);
    lk_args_long(&a, rows_pad);
    if ((st = lk_launch(ctx, "attention_bwd_mma", defs, "attention_bwd_mma_prep", (size_t)(rows_pad / 64), 1, 64,
                        &a)) != LK_OK)
        return st;

    lk_args m = {.dyn_local = lk_attention_bwd_mma_local_bytes(tuned, (int)D)};
    const lk_tensor *tensors[] = {qr, kr, v, dout, dk, dv};
    for (int i = 0; i < 6; i++)
        lk_args_tensor(&m, tensors[i], 4);
    lk_args_buffer(&m, scr);
    lk_args_int(&m, (int32_t)sq_pad);
    lk_args_long(&m, rows_pad);
    lk_args_int(&m, (int32_t)Hq);
    lk_args_int(&m, (int32_t)Hkv);
    lk_args_int(&m, (int32_t)Sq);
    lk_args_int(&m, (int32_t)Sk);
    lk_args_float(&m, (float)scale);
    lk_args_int(&m, causal);
    lk_args_buffer(&m, freq);
    lk_args_int(&m, pos->layout);
    lk_rope_args_positions(&m, pos->q_ids, pos->q_off, 1);
    lk_rope_args_positions(&m, pos->k_ids, pos->k_off, 1);
    int bn = lk_params_get(defs, "BLOCK_N", 64), threads = 32 * lk_params_get(defs, "WARPS", 4);
    if ((st = lk_launch(ctx, "attention_bwd_mma", defs, "attention_bwd_mma", (size_t)((Sk + bn - 1) / bn),
                        (size_t)(B * Hkv), (size_t)threads, &m)) != LK_OK)
        return st;

    int64_t items = B * Hq * Sq * (D / 2);
    lk_args c = {0};
    lk_args_tensor(&c, dq, 4);
    lk_args_buffer(&c, scr);
    lk_args_int(&c, (int32_t)Hq);
    lk_args_int(&c, (int32_t)Sq);
    lk_args_int(&c, (int32_t)sq_pad);
    lk_args_long(&c, rows_pad);
    lk_args_long(&c, items);
    lk_args_float(&c, (float)scale);
    lk_args_buffer(&c, freq);
    lk_args_int(&c, pos->layout);
    lk_rope_args_positions(&c, pos->q_ids, pos->q_off, 1);
    return lk_launch(ctx, "attention_bwd_mma", defs, "attention_bwd_mma_dq", (size_t)((items + 255) / 256), 1, 256,
                     &c);
}

lk_status lk_attention_bwd_run(lk_context *ctx, const lk_tensor *q, const lk_tensor *k, const lk_tensor *v,
                               const lk_tensor *o, const lk_tensor *lse, const lk_tensor *dout, lk_tensor *dq,
                               lk_tensor *dk, lk_tensor *dv, const lk_attention_params *p, const lk_params *tuned_in)
{
    int D = (int)q->shape[3];
    /* MMA=1 on tensors the tensor-core kernels cannot read (f32, strided rows): the generic kernels,
     * with the generic tiles the set has (the defaults carry them) and the generic defaults for the rest */
    lk_params fallback;
    const lk_params *tuned = tuned_in;
    if (lk_params_get(tuned, "MMA", 0) &&
        !(mma_layout_ok(q) && mma_layout_ok(k) && mma_layout_ok(v) && mma_layout_ok(dout))) {
        generic_defaults(&ctx->info, &fallback);
        for (int i = 0; i < tuned->n; i++)
            lk_params_set(&fallback, tuned->v[i].name, tuned->v[i].value);
        lk_params_set(&fallback, "MMA", 0);
        tuned = &fallback;
    }
    lk_status st = lk_attention_bwd_check_params(ctx, tuned, D);
    if (st != LK_OK)
        return st;
    int mma = lk_params_get(tuned, "MMA", 0);
    double scale = p->scale > 0.0 ? p->scale : 1.0 / sqrt((double)D);
    int variant = p->rope ? lk_attention_rope_variant(p, tuned) : -1;
    lk_params defs;
    lk_attention_bwd_defines(q->dtype, D, tuned, variant, &defs);
    int rope_in = lk_params_get(&defs, "ROPE_IN", 0), rope_out = lk_params_get(&defs, "ROPE_OUT", 0);
    lk_buffer *stats = NULL, *freq = NULL;
    if (!mma && (st = launch_stats(ctx, o, lse, dout, &defs, &stats)) != LK_OK)
        return st;

    lk_attention_positions pos = {0};
    lk_tensor qr = *q, kr = *k;
    if (p->rope) {
        pos = lk_attention_positions_of(q, k, p);
        if ((st = lk_rope_freq_buffer(ctx, p->rope, D, &freq)) != LK_OK)
            return st;
        if (!rope_in &&
            ((st = lk_attention_rotated_copy(ctx, LK_SCRATCH_ROPE_Q, q, p->rope, pos.q_ids, pos.q_off, &qr)) ||
             (st = lk_attention_rotated_copy(ctx, LK_SCRATCH_ROPE_K, k, p->rope, pos.k_ids, pos.k_off, &kr))))
            return st;
    }

    if (mma) {
        if ((st = run_mma(ctx, &qr, &kr, v, o, lse, dout, dq, dk, dv, scale, p->causal, &defs, tuned, freq, &pos)))
            return st;
    } else {
        lk_args a = {0};
        const lk_tensor *dkdv_tensors[] = {&qr, &kr, v, dout, dk, dv};
        for (int i = 0; i < 6; i++)
            lk_args_tensor(&a, dkdv_tensors[i], 4);
        args_tail(&a, stats, q, k, scale, p->causal, freq, &pos);
        int n1 = lk_params_get(&defs, "BLOCK_N1", 16), m2 = lk_params_get(&defs, "BLOCK_M2", 16);
        if ((st = lk_launch(ctx, "attention_bwd", &defs, "attention_bwd_dkdv", (size_t)((k->shape[2] + n1 - 1) / n1),
                            (size_t)(k->shape[0] * k->shape[1]), (size_t)n1, &a)) != LK_OK)
            return st;

        lk_args b = {0};
        const lk_tensor *dq_tensors[] = {&qr, &kr, v, dout, dq};
        for (int i = 0; i < 5; i++)
            lk_args_tensor(&b, dq_tensors[i], 4);
        args_tail(&b, stats, q, k, scale, p->causal, freq, &pos);
        if ((st = lk_launch(ctx, "attention_bwd", &defs, "attention_bwd_dq", (size_t)((q->shape[2] + m2 - 1) / m2),
                            (size_t)(q->shape[0] * q->shape[1]), (size_t)m2, &b)) != LK_OK)
            return st;
    }

    if (p->rope && !rope_out &&
        ((st = lk_rope_launch(ctx, dq, dq, p->rope, pos.q_ids, pos.q_off, LK_ROPE_INVERSE)) ||
         (st = lk_rope_launch(ctx, dk, dk, p->rope, pos.k_ids, pos.k_off, LK_ROPE_INVERSE))))
        return st;
    /* name the op's own kernels, not the last launch (the inverse RoPE of the unfused variant) */
    int n = snprintf(ctx->last_launch, sizeof ctx->last_launch, "%s ", lk_attention_bwd_program(tuned));
    lk_params_format(&defs, "", " ", ctx->last_launch + n, sizeof ctx->last_launch - (size_t)n);
    return LK_OK;
}

void lk_attention_bwd_key(const lk_tensor *q, const lk_tensor *k, const lk_attention_params *p, lk_tune_key *key)
{
    lk_attention_key("attention_bwd", q, k, p, key);
}

lk_status lk_attention_bwd(lk_context *ctx, const lk_tensor *q, const lk_tensor *k, const lk_tensor *v,
                           const lk_tensor *o, const lk_tensor *lse, const lk_tensor *dout, lk_tensor *dq,
                           lk_tensor *dk, lk_tensor *dv, const lk_attention_params *params)
{
    if (!ctx)
        return LK_ERR_NULL_POINTER;
    ctx->last_launch[0] = '\0';
    lk_status st = check_args(ctx, q, k, v, o, lse, dout, dq, dk, dv, params);
    if (st != LK_OK)
        return st;
    lk_tune_key key;
    lk_params defaults;
    lk_op_params how;
    lk_attention_bwd_key(q, k, params, &key);
    lk_attention_bwd_defaults(&ctx->info, key.head_dim, &defaults);
    const lk_params *tuned = lk_op_params_choose(ctx, NULL, &key, &defaults, &how);
    st = lk_attention_bwd_run(ctx, q, k, v, o, lse, dout, dq, dk, dv, params, tuned);
    if (lk_op_params_fall_back(ctx, &how, &defaults, st, &tuned))
        st = lk_attention_bwd_run(ctx, q, k, v, o, lse, dout, dq, dk, dv, params, tuned);
    if (st == LK_OK)
        lk_attention_note_variant(ctx, params, tuned);
    return lk_op_params_finish(ctx, &how, st);
}
