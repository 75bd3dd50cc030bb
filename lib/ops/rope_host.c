/* RoPE host side: parameter checks, frequencies, and launches of cl/rope.cl. */
#include <math.h>
#include <string.h>

#include "rope_host.h"
#include "../core/launch.h"
#include "../core/scratch.h"
#include "../core/tensor.h"

#define ROPE_WG 64

lk_rope_params lk_rope_params_default(void)
{
    lk_rope_params r;
    memset(&r, 0, sizeof r);
    r.layout = LK_ROPE_HALF_SPLIT;
    r.theta = 10000.0;
    r.scaling = LK_ROPE_SCALING_NONE;
    r.factor = 1.0;
    r.low_freq_factor = 1.0;
    r.high_freq_factor = 4.0;
    r.original_max_position = 8192;
    return r;
}

lk_status lk_rope_check(lk_context *ctx, const char *op, const lk_rope_params *r, int64_t head_dim,
                        const char *ids_instead)
{
    if (r->position_ids && ids_instead)
        return lk_fail(ctx, LK_ERR_UNSUPPORTED, "%s: rope->position_ids does not apply here (%s)", op, ids_instead);
    if (r->position_offset < 0 || r->position_offset >= LK_ROPE_MAX_POSITION)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, "%s: RoPE position_offset %lld outside [0, 2^24)", op,
                       (long long)r->position_offset);
    if (r->layout != LK_ROPE_HALF_SPLIT && r->layout != LK_ROPE_INTERLEAVED)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, "%s: unknown RoPE layout %d", op, (int)r->layout);
    if (!(r->theta > 1.0) || !isfinite(r->theta))
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, "%s: RoPE theta must be finite and > 1 (got %g)", op, r->theta);
    if (head_dim % 2)
        return lk_fail(ctx, LK_ERR_SHAPE, "%s: RoPE needs an even head_dim (got %lld)", op, (long long)head_dim);
    switch (r->scaling) {
    case LK_ROPE_SCALING_NONE:
        break;
    case LK_ROPE_SCALING_LINEAR:
        if (!(r->factor > 0.0) || !isfinite(r->factor))
            return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, "%s: RoPE factor must be > 0 (got %g)", op, r->factor);
        break;
    case LK_ROPE_SCALING_LLAMA3:
        if (!(r->factor > 0.0) || !(r->low_freq_factor > 0.0) || !(r->high_freq_factor > r->low_freq_factor) ||
            !isfinite(r->factor) || !isfinite(r->high_freq_factor) || r->original_max_position <= 0)
            return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT,
                           "%s: Llama-3 RoPE scaling needs finite factor > 0, 0 < low_freq_factor < high_freq_factor "
                           "(finite) and original_max_position > 0", op);
        break;
    default:
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, "%s: unknown RoPE scaling %d", op, (int)r->scaling);
    }
    return LK_OK;
}

lk_status lk_rope_check_positions(lk_context *ctx, const char *op, const char *arg, const lk_tensor *ids,
                                  int64_t B, int64_t S, int64_t offset)
{
    if (!ids) {
        if (offset < 0 || offset > LK_ROPE_MAX_POSITION || S > LK_ROPE_MAX_POSITION - offset)
            return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT,
                           "%s: positions %lld..%lld outside [0, 2^24)", op, (long long)offset,
                           (long long)(offset + S - 1));
        return LK_OK;
    }
    lk_status st = lk_check_tensor(ctx, op, arg, ids, ids->ndim == 2 ? 2 : 1);
    if (st != LK_OK)
        return st;
    if (ids->dtype != LK_I32)
        return lk_fail(ctx, LK_ERR_DTYPE, "%s: %s must be i32", op, arg);
    int64_t s = ids->shape[ids->ndim - 1], b = ids->ndim == 2 ? ids->shape[0] : B;
    if (s != S || b != B)
        return lk_fail(ctx, LK_ERR_SHAPE, "%s: %s must be [%lld] or [%lld, %lld]", op, arg, (long long)S,
                       (long long)B, (long long)S);
    return LK_OK;
}

/* Frequency of pair i in radians per position, after scaling. */
static double frequency(const lk_rope_params *r, int i, int head_dim)
{
    double f = pow(r->theta, -2.0 * i / head_dim);
    if (r->scaling == LK_ROPE_SCALING_LINEAR)
        return f / r->factor;
    if (r->scaling == LK_ROPE_SCALING_LLAMA3) {
        double wavelen = 2.0 * M_PI / f;
        double low_wavelen = (double)r->original_max_position / r->low_freq_factor;
        double high_wavelen = (double)r->original_max_position / r->high_freq_factor;
        if (wavelen < high_wavelen)
            return f;
        if (wavelen > low_wavelen)
            return f / r->factor;
        double smooth = ((double)r->original_max_position / wavelen - r->low_freq_factor) /
                        (r->high_freq_factor - r->low_freq_factor);
        return (1.0 - smooth) * f / r->factor + smooth * f;
    }
    return f;
}

void lk_rope_turns(const lk_rope_params *rope, int head_dim, float *out)
{
    for (int i = 0; i < head_dim / 2; i++) {
        double t = frequency(rope, i, head_dim) / (2.0 * M_PI);
        float hi = (float)t;
        out[2 * i] = hi;
        out[2 * i + 1] = (float)(t - (double)hi);
    }
}

lk_status lk_rope_freq_buffer(lk_context *ctx, const lk_rope_params *rope, int head_dim, lk_buffer **out)
{
    float turns[256];
    lk_rope_turns(rope, head_dim, turns);
    size_t bytes = sizeof(float) * (size_t)head_dim;
    uint64_t tag = lk_hash(LK_HASH_SEED, turns, bytes);
    int valid = 0;
    lk_status st = lk_scratch_tagged(ctx, LK_SCRATCH_ROPE_FREQ, bytes, tag, out, &valid);
    if (st == LK_OK && !valid && (st = lk_buffer_write(ctx, *out, 0, turns, bytes)) == LK_OK)
        lk_scratch_set_tag(ctx, LK_SCRATCH_ROPE_FREQ, tag);
    return st;
}

void lk_rope_args_positions(lk_args *a, const lk_tensor *ids, int64_t offset, int with_batch_stride)
{
    lk_args_buffer(a, ids ? ids->buffer : NULL);
    lk_args_long(a, ids ? ids->offset : 0);
    if (with_batch_stride)
        lk_args_long(a, ids && ids->ndim == 2 ? ids->strides[0] : 0);
    lk_args_long(a, ids ? ids->strides[ids->ndim - 1] : 0);
    lk_args_long(a, offset);
}

lk_status lk_rope_launch(lk_context *ctx, const lk_tensor *x, const lk_tensor *out, const lk_rope_params *rope,
                         const lk_tensor *ids, int64_t offset, lk_rope_direction direction)
{
    int D = (int)x->shape[3];
    lk_buffer *freq;
    lk_status st = lk_rope_freq_buffer(ctx, rope, D, &freq);
    if (st != LK_OK)
        return st;
    int64_t total = x->shape[0] * x->shape[1] * x->shape[2] * (D / 2);
    lk_params defs = {0};
    lk_params_set(&defs, "LK_F16", x->dtype == LK_F16);
    lk_args a = {0};
    lk_args_tensor(&a, x, 4);
    lk_args_tensor(&a, out, 4);
    lk_args_int(&a, (int32_t)x->shape[1]);
    lk_args_int(&a, (int32_t)x->shape[2]);
    lk_args_int(&a, D);
    lk_args_int(&a, (int32_t)rope->layout);
    lk_args_buffer(&a, freq);
    lk_rope_args_positions(&a, ids, offset, 1);
    lk_args_int(&a, direction == LK_ROPE_INVERSE);
    lk_args_long(&a, total);
    return lk_launch(ctx, "rope", &defs, "rope", (size_t)((total + ROPE_WG - 1) / ROPE_WG), 1, ROPE_WG, &a);
}

lk_status lk_rope_table_launch(lk_context *ctx, lk_buffer *table, int64_t S, int head_dim,
                               const lk_rope_params *rope, const lk_tensor *ids, int64_t offset)
{
    lk_buffer *freq;
    lk_status st = lk_rope_freq_buffer(ctx, rope, head_dim, &freq);
    if (st != LK_OK)
        return st;
    lk_params defs = {0};
    lk_args a = {0};
    lk_args_buffer(&a, table);
    lk_args_int(&a, (int32_t)S);
    lk_args_int(&a, head_dim);
    lk_args_buffer(&a, freq);
    lk_rope_args_positions(&a, ids, offset, 0);
    int64_t total = S * (head_dim / 2);
    return lk_launch(ctx, "rope", &defs, "rope_table", (size_t)((total + ROPE_WG - 1) / ROPE_WG), 1, ROPE_WG, &a);
}
