/* lk_attention_fwd: validation, tuned-parameter lookup, and the three RoPE variants over one of
 * three kernels, the generic one (cl/attention_fwd.cl, any device), the tensor-core one
 * (cl/attention_fwd_mma.cl, NVIDIA compute capability 8+, tuned parameter MMA=1) or the Hopper
 * warpgroup-MMA one (cl/attention_fwd_wgmma.cl, the CUDA build on compute capability 9.0, MMA=2):
 *   fused      ROPE_Q=1 ROPE_K=1: K rotated per tile in the loop (sin/cos computed or table)
 *   k-prepass  ROPE_Q=1 ROPE_K=0: K rotated once into scratch by lk_rope's kernel
 *   unfused    ROPE_Q=0 ROPE_K=0: Q and K rotated into scratch, then plain attention */
#include <math.h>
#include <string.h>

#include "attention_fwd.h"
#include "attention_common.h"
#include "op_params_check.h"
#include "rope_host.h"
#include "../core/launch.h"
#include "../core/scratch.h"
#include "../core/tensor.h"
#include "../tunedb/tunedb.h"

#define OP "lk_attention_fwd"

lk_attention_params lk_attention_params_default(void)
{
    lk_attention_params p;
    memset(&p, 0, sizeof p);
    p.rope_variant = LK_ROPE_VARIANT_AUTO;
    return p;
}

int lk_attention_fwd_has_mma(const lk_device_info *dev, int head_dim)
{
    return lk_device_tensor_cores(dev) && (head_dim == 64 || head_dim == 128);
}

int lk_attention_fwd_has_wgmma(const lk_device_info *dev, int head_dim)
{
    return lk_attention_fwd_has_mma(dev, head_dim) && dev->backend == LK_BACKEND_CUDA && dev->cc_major == 9 &&
           dev->cc_minor == 0;
}

/* The tensor-core kernels read f16 rows with 16-byte copies. */
static int mma_layout_ok(const lk_tensor *t)
{
    return t->dtype == LK_F16 && lk_tensor_rows_vec(t);
}

static void generic_defaults(const lk_device_info *dev, int head_dim, lk_params *out)
{
    memset(out, 0, sizeof *out);
    int gpu = dev->type == LK_DEVICE_GPU;
    lk_params_set(out, "VARIANT", LK_ROPE_K_PREPASS);
    lk_params_set(out, "BLOCK_M", 64);
    lk_params_set(out, "BLOCK_N", (gpu ? 16 : 32) / (head_dim > 128 ? 2 : 1));
    lk_params_set(out, "STAGES", gpu ? 2 : 1);
    lk_params_set(out, "ROPE_TABLE", 0);
}

void lk_attention_fwd_defaults(const lk_device_info *dev, int head_dim, lk_params *out)
{
    generic_defaults(dev, head_dim, out);
    if (!lk_attention_fwd_has_mma(dev, head_dim))
        return;
    if (lk_attention_fwd_has_wgmma(dev, head_dim) && head_dim == 128) {
        /* the CUDA build on Hopper: the tile tuned best at every timed key on an H100, plain and
         * RoPE (docs/perf-notes.md sections 19 and 21) */
        lk_params_set(out, "MMA", 2);
        lk_params_set(out, "WARPS", 12);
        lk_params_set(out, "BLOCK_M", 192);
        lk_params_set(out, "BLOCK_N", 128);
        lk_params_set(out, "STAGES", 2);
        return;
    }
    /* the tiles most often tuned best on an H200 (results/cuda-nvidia-h200/tuning.csv) */
    lk_params_set(out, "MMA", 1);
    lk_params_set(out, "BLOCK_M", 128);
    lk_params_set(out, "WARPS", 4);
    lk_params_set(out, "BLOCK_N", head_dim == 64 ? 64 : 32);
    lk_params_set(out, "STAGES", 2);
}

size_t lk_attention_fwd_local_bytes(const lk_params *p, int head_dim)
{
    int mma = lk_params_get(p, "MMA", 0);
    size_t kv_rows = 2u * (size_t)lk_params_get(p, "STAGES", 1) * (size_t)lk_params_get(p, "BLOCK_N", 16);
    if (!mma) /* fp32 K and V tiles */
        return sizeof(float) * kv_rows * (size_t)head_dim;
    /* f16 K and V tiles and the Q tile (MMA 1: with QSMEM, rows padded by 8; MMA 2: always, core
     * matrices without padding) */
    size_t q_rows = mma == 2 || lk_params_get(p, "QSMEM", 0) ? (size_t)lk_params_get(p, "BLOCK_M", 16) : 0u;
    return 2u * (kv_rows + q_rows) * (size_t)(head_dim + (mma == 2 ? 0 : 8));
}

size_t lk_attention_fwd_dyn_local(const lk_params *p, int head_dim)
{
    return lk_params_get(p, "MMA", 0) ? lk_attention_fwd_local_bytes(p, head_dim) : 0;
}

size_t lk_attention_fwd_local_limit(const lk_device_info *dev, const lk_params *p)
{
    return lk_params_get(p, "MMA", 0) ? dev->local_mem_optin_bytes : dev->local_mem_bytes;
}

lk_status lk_attention_fwd_check_params(lk_context *ctx, const lk_params *p, int head_dim)
{
    int bm = lk_params_get(p, "BLOCK_M", 0), bn = lk_params_get(p, "BLOCK_N", 0);
    int stages = lk_params_get(p, "STAGES", 0), variant = lk_params_get(p, "VARIANT", 0);
    if (bm < 1 || (size_t)bm > ctx->info.max_work_group || bn < 1 || bn > LK_ATTN_FWD_BLOCK_N_MAX || stages < 1 ||
        stages > LK_ATTN_STAGES_MAX || variant < LK_ROPE_FUSED || variant > LK_ROPE_UNFUSED)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT,
                       OP ": parameters out of range (BLOCK_M %d, BLOCK_N %d, STAGES %d, VARIANT %d)", bm, bn,
                       stages, variant);
    int mma = lk_params_get(p, "MMA", 0), warps = lk_params_get(p, "WARPS", 0);
    int overlap = lk_params_get(p, "OVERLAP", 0), producer = lk_params_get(p, "PRODUCER", 0);
    if (overlap && (mma != 2 || overlap != 1 || stages < 2))
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, OP ": OVERLAP=1 is the MMA=2 kernel's, with STAGES >= 2 (MMA %d,"
                       " OVERLAP %d, STAGES %d)", mma, overlap, stages);
    if (producer && (mma != 2 || producer != 1 || warps > 8))
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, OP ": PRODUCER=1 is the MMA=2 kernel's, with WARPS 4 or 8 (MMA %d,"
                       " PRODUCER %d, WARPS %d)", mma, producer, warps);
    if (mma == 2) {
        if (!lk_attention_fwd_has_wgmma(&ctx->info, head_dim) || (warps != 4 && warps != 8 && warps != 12) ||
            bm != 16 * warps || (bn != 64 && bn != 128) || lk_params_get(p, "QSMEM", 0))
            return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT,
                           OP ": MMA=2 needs the CUDA backend on compute capability 9.0 (this: %s %d.%d), head_dim"
                           " 64 or 128 (%d), WARPS 4, 8 or 12 (%d), BLOCK_M 16*WARPS (%d), BLOCK_N 64 or 128 (%d),"
                           " no QSMEM (Q is always in shared memory)",
                           ctx->info.backend == LK_BACKEND_CUDA ? "CUDA" : "OpenCL", ctx->info.cc_major,
                           ctx->info.cc_minor, head_dim, warps, bm, bn);
    } else if (mma) {
        int qsmem = lk_params_get(p, "QSMEM", 0);
        if (mma != 1 || !lk_attention_fwd_has_mma(&ctx->info, head_dim) || (warps != 4 && warps != 8) || bm % (16 * warps) ||
            bm > 32 * warps || bn % 16 || bn > 128 || (qsmem != 0 && qsmem != 1))
            return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT,
                           OP ": MMA=1 (or 2) needs an NVIDIA GPU of compute capability 8+ (this: %d.%d), head_dim 64 or"
                           " 128 (%d), WARPS 4 or 8 (%d), BLOCK_M 16*WARPS or 32*WARPS (%d), BLOCK_N a multiple"
                           " of 16 up to 128 (%d), QSMEM 0 or 1 (%d)",
                           ctx->info.cc_major, ctx->info.cc_minor, head_dim, warps, bm, bn, qsmem);
    }
    size_t local = lk_attention_fwd_local_bytes(p, head_dim), limit = lk_attention_fwd_local_limit(&ctx->info, p);
    if (local > limit)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, OP ": parameters need %zu bytes of local memory, device has %zu",
                       local, limit);
    return LK_OK;
}

/* Everything one launch of the attention kernel needs beyond q, k, v, o, lse. */
typedef struct rope_inputs {
    int rope_q, rope_k, table;
    lk_buffer *freq, *table_buf;
    lk_attention_positions pos;
} rope_inputs;

const char *lk_attention_fwd_kernel(int f16, int head_dim, const lk_params *tuned, int rope_q, int rope_k, int table,
                                   lk_params *defs, size_t *local)
{
    memset(defs, 0, sizeof *defs);
    lk_params_set(defs, "LK_F16", f16);
    lk_params_set(defs, "D", head_dim);
    lk_params_set(defs, "BLOCK_M", lk_params_get(tuned, "BLOCK_M", 32));
    lk_params_set(defs, "BLOCK_N", lk_params_get(tuned, "BLOCK_N", 16));
    lk_params_set(defs, "STAGES", lk_params_get(tuned, "STAGES", 1));
    lk_params_set(defs, "ROPE_Q", rope_q);
    lk_params_set(defs, "ROPE_K", rope_k);
    lk_params_set(defs, "ROPE_TABLE", table);
    int mma = lk_params_get(tuned, "MMA", 0);
    if (!mma) {
        *local = (size_t)lk_params_get(defs, "BLOCK_M", 32);
        return "attention_fwd";
    }
    lk_params_set(defs, "WARPS", lk_params_get(tuned, "WARPS", 4));
    *local = 32u * (size_t)lk_params_get(tuned, "WARPS", 4);
    if (mma == 2) { /* PRODUCER: a copying warpgroup beside the WARPS computing warps */
        lk_params_set(defs, "OVERLAP", lk_params_get(tuned, "OVERLAP", 0));
        lk_params_set(defs, "PRODUCER", lk_params_get(tuned, "PRODUCER", 0));
        *local += 128u * (size_t)lk_params_get(tuned, "PRODUCER", 0);
        return "attention_fwd_wgmma";
    }
    lk_params_set(defs, "QSMEM", lk_params_get(tuned, "QSMEM", 0));
    return "attention_fwd_mma";
}

static lk_status launch_kernel(lk_context *ctx, const lk_tensor *q, const lk_tensor *k, const lk_tensor *v,
                               const lk_tensor *o, const lk_tensor *lse, double scale, int causal,
                               const lk_params *tuned, const rope_inputs *ri)
{
    int D = (int)q->shape[3], bm = lk_params_get(tuned, "BLOCK_M", 32);
    lk_params defs;
    size_t local;
    const char *kernel =
        lk_attention_fwd_kernel(q->dtype == LK_F16, D, tuned, ri->rope_q, ri->rope_k, ri->table, &defs, &local);

    lk_args a = {.dyn_local = lk_attention_fwd_dyn_local(tuned, D)};
    lk_args_tensor(&a, q, 4);
    lk_args_tensor(&a, k, 4);
    lk_args_tensor(&a, v, 4);
    lk_args_tensor(&a, o, 4);
    lk_args_tensor(&a, lse, 3);
    lk_args_int(&a, (int32_t)q->shape[1]);
    lk_args_int(&a, (int32_t)k->shape[1]);
    lk_args_int(&a, (int32_t)q->shape[2]);
    lk_args_int(&a, (int32_t)k->shape[2]);
    lk_args_float(&a, (float)(scale * 1.4426950408889634));
    lk_args_int(&a, causal);
    lk_args_buffer(&a, ri->freq);
    lk_args_buffer(&a, ri->table_buf);
    lk_args_int(&a, ri->pos.layout);
    lk_rope_args_positions(&a, ri->pos.q_ids, ri->pos.q_off, 1);
    lk_rope_args_positions(&a, ri->pos.k_ids, ri->pos.k_off, 1);
    size_t groups = (size_t)((q->shape[2] + bm - 1) / bm);
    return lk_launch(ctx, kernel, &defs, kernel, groups, (size_t)(q->shape[0] * q->shape[1]), local, &a);
}

lk_status lk_attention_fwd_run(lk_context *ctx, const lk_tensor *q, const lk_tensor *k, const lk_tensor *v,
                               lk_tensor *o, lk_tensor *lse, const lk_attention_params *p, const lk_params *tuned_in)
{
    /* MMA=1 or 2 on tensors the tensor-core kernels cannot read (f32, strided rows): the generic kernel,
     * with the given tiles where they suit it, else its defaults */
    lk_params fallback;
    const lk_params *tuned = tuned_in;
    if (lk_params_get(tuned, "MMA", 0) && !(mma_layout_ok(q) && mma_layout_ok(k) && mma_layout_ok(v) && mma_layout_ok(o))) {
        fallback = *tuned;
        lk_params_set(&fallback, "MMA", 0);
        if (lk_attention_fwd_check_params(ctx, &fallback, (int)q->shape[3]) != LK_OK) {
            generic_defaults(&ctx->info, (int)q->shape[3], &fallback);
            lk_params_set(&fallback, "VARIANT", lk_params_get(tuned, "VARIANT", LK_ROPE_K_PREPASS));
            lk_params_set(&fallback, "ROPE_TABLE", lk_params_get(tuned, "ROPE_TABLE", 0));
        }
        tuned = &fallback;
    }
    lk_status st = lk_attention_fwd_check_params(ctx, tuned, (int)q->shape[3]);
    if (st != LK_OK)
        return st;
    int D = (int)q->shape[3];
    double scale = p->scale > 0.0 ? p->scale : 1.0 / sqrt((double)D);
    rope_inputs ri = {0};
    if (!p->rope)
        return launch_kernel(ctx, q, k, v, o, lse, scale, p->causal, tuned, &ri);

    int variant = lk_attention_rope_variant(p, tuned);
    ri.pos = lk_attention_positions_of(q, k, p);
    if ((st = lk_rope_freq_buffer(ctx, p->rope, D, &ri.freq)) != LK_OK)
        return st;

    lk_tensor qr = *q, kr = *k;
    if (variant == LK_ROPE_UNFUSED) {
        if ((st = lk_attention_rotated_copy(ctx, LK_SCRATCH_ROPE_Q, q, p->rope, ri.pos.q_ids, ri.pos.q_off, &qr)))
            return st;
    } else {
        ri.rope_q = 1;
    }
    if (variant == LK_ROPE_FUSED) {
        ri.rope_k = 1;
        /* the table holds one row of positions: not for per-batch k ids */
        ri.table = lk_params_get(tuned, "ROPE_TABLE", 0) && !(ri.pos.k_ids && ri.pos.k_ids->ndim == 2);
        if (ri.table) {
            size_t bytes = sizeof(float) * (size_t)k->shape[2] * (size_t)D;
            if ((st = lk_scratch_get(ctx, LK_SCRATCH_ROPE_TABLE, bytes, &ri.table_buf)) ||
                (st = lk_rope_table_launch(ctx, ri.table_buf, k->shape[2], D, p->rope, ri.pos.k_ids, ri.pos.k_off)))
                return st;
        }
    } else if ((st = lk_attention_rotated_copy(ctx, LK_SCRATCH_ROPE_K, k, p->rope, ri.pos.k_ids, ri.pos.k_off,
                                                 &kr))) {
        return st;
    }
    return launch_kernel(ctx, &qr, &kr, v, o, lse, scale, p->causal, tuned, &ri);
}

void lk_attention_fwd_key(const lk_tensor *q, const lk_tensor *k, const lk_attention_params *p, lk_tune_key *key)
{
    lk_attention_key("attention_fwd", q, k, p, key);
}

lk_status lk_attention_fwd(lk_context *ctx, const lk_tensor *q, const lk_tensor *k, const lk_tensor *v,
                           lk_tensor *o, lk_tensor *lse, const lk_attention_params *params)
{
    if (!ctx)
        return LK_ERR_NULL_POINTER;
    ctx->last_launch[0] = '\0';
    lk_status st = lk_attention_check_args(ctx, OP, q, k, v, o, lse, params);
    if (st != LK_OK)
        return st;
    lk_tune_key key;
    lk_params defaults;
    lk_op_params how;
    lk_attention_fwd_key(q, k, params, &key);
    lk_attention_fwd_defaults(&ctx->info, key.head_dim, &defaults);
    const lk_params *tuned = lk_op_params_choose(ctx, NULL, &key, &defaults, &how);
    st = lk_attention_fwd_run(ctx, q, k, v, o, lse, params, tuned);
    if (lk_op_params_fall_back(ctx, &how, &defaults, st, &tuned))
        st = lk_attention_fwd_run(ctx, q, k, v, o, lse, params, tuned);
    if (st == LK_OK)
        lk_attention_note_variant(ctx, params, tuned);
    return lk_op_params_finish(ctx, &how, st);
}
