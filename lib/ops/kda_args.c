/* Argument checks of lk_kda_fwd and lk_kda_decode_step: every failure names the op and the
 * argument, and nothing is launched. The decode step's 3-D tensors are checked as 4-D views
 * with T = 1, so both entry points share one set of rules. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kda.h"
#include "../core/tensor.h"

#define KDA_MAX_DIM 256

static const lk_dtype storage_types[] = {LK_F32, LK_F16};

static lk_status check_f32(lk_context *ctx, const char *op, const char *arg, const lk_tensor *t, int ndim)
{
    lk_status st = lk_check_tensor(ctx, op, arg, t, ndim);
    if (st == LK_OK && t->dtype != LK_F32)
        return lk_fail(ctx, LK_ERR_DTYPE, "%s: %s must be f32, is %s", op, arg, lk_dtype_name(t->dtype));
    return st;
}

static int same_shape(const lk_tensor *t, int64_t a, int64_t b, int64_t c, int64_t d)
{
    return t->shape[0] == a && t->shape[1] == b && t->shape[2] == c && (t->ndim < 4 || t->shape[3] == d);
}

/* Reads cu_seqlens back and checks 0 = cu[0] <= cu[1] <= ... <= cu[N] = T; *max_len = longest. */
static lk_status check_cu_seqlens(lk_context *ctx, const char *op, const lk_tensor *cu, int64_t B, int64_t T,
                                  int64_t *n_seqs, int64_t *max_len)
{
    lk_status st = lk_check_tensor(ctx, op, "cu_seqlens", cu, 1);
    if (st != LK_OK)
        return st;
    if (cu->dtype != LK_I32)
        return lk_fail(ctx, LK_ERR_DTYPE, "%s: cu_seqlens must be i32, is %s", op, lk_dtype_name(cu->dtype));
    if (B != 1)
        return lk_fail(ctx, LK_ERR_SHAPE, "%s: with cu_seqlens the batch must be 1 (sequences packed along T), is %lld",
                       op, (long long)B);
    if (cu->shape[0] < 2)
        return lk_fail(ctx, LK_ERR_SHAPE, "%s: cu_seqlens needs at least 2 entries", op);
    int64_t n = cu->shape[0] - 1, span = n * cu->strides[0] + 1;
    int32_t *host = malloc(sizeof(int32_t) * (size_t)span);
    if (!host)
        return lk_fail(ctx, LK_ERR_OUT_OF_MEMORY, "%s: no host memory for cu_seqlens", op);
    st = lk_buffer_read(ctx, cu->buffer, (size_t)cu->offset * 4, host, sizeof(int32_t) * (size_t)span);
    int64_t longest = 0;
    for (int64_t i = 0; st == LK_OK && i <= n; i++) {
        int64_t at = host[i * cu->strides[0]], prev = i ? host[(i - 1) * cu->strides[0]] : 0;
        if ((i == 0 && at != 0) || at < prev || (i == n && at != T))
            st = lk_fail(ctx, LK_ERR_INVALID_ARGUMENT,
                         "%s: cu_seqlens must rise from 0 to T = %lld without decreasing (entry %lld is %lld)", op,
                         (long long)T, (long long)i, (long long)at);
        else if (at - prev > longest)
            longest = at - prev;
    }
    free(host);
    *n_seqs = n;
    *max_len = longest;
    return st;
}

static lk_status check_gate(lk_context *ctx, const char *op, const lk_kda_params *p, int64_t HV, int64_t K)
{
    lk_status st;
    if (!p->a_log) {
        if (p->dt_bias)
            return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, "%s: dt_bias is given without a_log", op);
        return LK_OK;
    }
    if ((st = check_f32(ctx, op, "a_log", p->a_log, 1)))
        return st;
    if (p->a_log->shape[0] != HV)
        return lk_fail(ctx, LK_ERR_SHAPE, "%s: a_log must be [HV = %lld]", op, (long long)HV);
    if (p->dt_bias) {
        if ((st = check_f32(ctx, op, "dt_bias", p->dt_bias, 2)))
            return st;
        if (p->dt_bias->shape[0] != HV || p->dt_bias->shape[1] != K)
            return lk_fail(ctx, LK_ERR_SHAPE, "%s: dt_bias must be [HV = %lld, K = %lld]", op, (long long)HV,
                           (long long)K);
    }
    return LK_OK;
}

/* state: F32 [N, HV, K, V] */
static lk_status check_state(lk_context *ctx, const char *op, const char *arg, const lk_tensor *s, int64_t N,
                             int64_t HV, int64_t K, int64_t V)
{
    lk_status st = check_f32(ctx, op, arg, s, 4);
    if (st == LK_OK && !same_shape(s, N, HV, K, V))
        return lk_fail(ctx, LK_ERR_SHAPE, "%s: %s must be f32 [N = %lld, HV = %lld, K = %lld, V = %lld]", op, arg,
                       (long long)N, (long long)HV, (long long)K, (long long)V);
    return st;
}

/* o and ht may not overlap any input (ht may be h0 itself). */
static lk_status check_aliases(lk_context *ctx, const char *op, const lk_kda_call *c)
{
    const lk_tensor *inputs[] = {&c->q, &c->k, &c->v, &c->g, &c->beta, c->p->a_log, c->p->dt_bias, c->p->cu_seqlens};
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++)
        if (lk_tensors_overlap(&c->o, inputs[i]) || lk_tensors_overlap(c->ht, inputs[i]))
            return lk_fail(ctx, LK_ERR_ALIAS, "%s: o or the final state overlaps an input", op);
    if (lk_tensors_overlap(&c->o, c->h0) || lk_tensors_overlap(&c->o, c->ht))
        return lk_fail(ctx, LK_ERR_ALIAS, "%s: o overlaps a state", op);
    if (c->ht && c->h0 && lk_tensors_overlap(c->ht, c->h0) && !lk_tensors_identical(c->ht, c->h0))
        return lk_fail(ctx, LK_ERR_ALIAS, "%s: the final state overlaps the initial state without being it", op);
    return LK_OK;
}

/* The rules of both entry points over 4-D views in *c (q, k, v, g, beta, o set; ranks checked). */
static lk_status check_call(lk_context *ctx, const char *op, lk_kda_call *c)
{
    lk_status st;
    const lk_kda_params *p = c->p;
    if ((st = lk_check_dtype(ctx, op, "q", &c->q, 2, storage_types)))
        return st;
    if (c->k.dtype != c->q.dtype || c->v.dtype != c->q.dtype || c->o.dtype != c->q.dtype)
        return lk_fail(ctx, LK_ERR_DTYPE, "%s: q, k, v and o must share one dtype (q is %s)", op,
                       lk_dtype_name(c->q.dtype));
    if (c->g.dtype != LK_F32 || c->beta.dtype != LK_F32)
        return lk_fail(ctx, LK_ERR_DTYPE, "%s: g and beta must be f32", op);
    int64_t B = c->q.shape[0], T = c->q.shape[1], H = c->q.shape[2], K = c->q.shape[3];
    int64_t HV = c->v.shape[2], V = c->v.shape[3];
    if (!same_shape(&c->k, B, T, H, K))
        return lk_fail(ctx, LK_ERR_SHAPE, "%s: k must have q's shape [B, T, H, K]", op);
    if (!same_shape(&c->v, B, T, HV, V) || !same_shape(&c->o, B, T, HV, V))
        return lk_fail(ctx, LK_ERR_SHAPE, "%s: v and o must be [B = %lld, T = %lld, HV, V] alike", op, (long long)B,
                       (long long)T);
    if (!same_shape(&c->g, B, T, HV, K))
        return lk_fail(ctx, LK_ERR_SHAPE, "%s: g must be [B, T, HV = %lld, K = %lld]", op, (long long)HV,
                       (long long)K);
    if (!same_shape(&c->beta, B, T, HV, 0))
        return lk_fail(ctx, LK_ERR_SHAPE, "%s: beta must be [B, T, HV = %lld]", op, (long long)HV);
    if (HV % H)
        return lk_fail(ctx, LK_ERR_SHAPE, "%s: HV (%lld) must be a multiple of H (%lld)", op, (long long)HV,
                       (long long)H);
    if (K > KDA_MAX_DIM || V > KDA_MAX_DIM)
        return lk_fail(ctx, LK_ERR_UNSUPPORTED, "%s: K = %lld and V = %lld must be at most %d", op, (long long)K,
                       (long long)V, KDA_MAX_DIM);
    if (T > INT32_MAX || HV > 65535)
        return lk_fail(ctx, LK_ERR_UNSUPPORTED, "%s: T must be < 2^31 and HV <= 65535", op);
    if (!(p->scale >= 0.0) || !isfinite(p->scale))
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, "%s: scale must be finite and >= 0 (0 = K^-0.5)", op);
    if ((st = check_gate(ctx, op, p, HV, K)))
        return st;
    c->n_seqs = B;
    c->max_len = T;
    if (p->cu_seqlens && (st = check_cu_seqlens(ctx, op, p->cu_seqlens, B, T, &c->n_seqs, &c->max_len)))
        return st;
    if (c->n_seqs > 65535)
        return lk_fail(ctx, LK_ERR_UNSUPPORTED, "%s: at most 65535 sequences per call", op);
    if ((c->h0 && (st = check_state(ctx, op, "initial_state", c->h0, c->n_seqs, HV, K, V))) ||
        (c->ht && (st = check_state(ctx, op, "final_state", c->ht, c->n_seqs, HV, K, V))) ||
        (st = lk_check_distinct(ctx, op, "o", &c->o)) || (c->ht && (st = lk_check_distinct(ctx, op, "final_state", c->ht))))
        return st;
    return check_aliases(ctx, op, c);
}

lk_status lk_kda_fwd_prepare(lk_context *ctx, const lk_tensor *q, const lk_tensor *k, const lk_tensor *v,
                             const lk_tensor *g, const lk_tensor *beta, const lk_tensor *h0, lk_tensor *o,
                             lk_tensor *ht, const lk_kda_params *params, lk_kda_call *call)
{
    const char *op = "lk_kda_fwd";
    lk_status st;
    memset(call, 0, sizeof *call);
    if (!params)
        return lk_fail(ctx, LK_ERR_NULL_POINTER, "%s: params are NULL", op);
    if ((st = lk_check_tensor(ctx, op, "q", q, 4)) || (st = lk_check_tensor(ctx, op, "k", k, 4)) ||
        (st = lk_check_tensor(ctx, op, "v", v, 4)) || (st = lk_check_tensor(ctx, op, "g", g, 4)) ||
        (st = lk_check_tensor(ctx, op, "beta", beta, 3)) || (st = lk_check_tensor(ctx, op, "o", o, 4)))
        return st;
    call->q = *q, call->k = *k, call->v = *v, call->g = *g, call->beta = *beta, call->o = *o;
    call->h0 = h0;
    call->ht = ht;
    call->p = params;
    return check_call(ctx, op, call);
}

/* t [B, X, Y] (or [B, X]) as [B, 1, X, Y] (or [B, 1, X]). */
static lk_tensor one_token(const lk_tensor *t)
{
    lk_tensor r = *t;
    r.ndim = t->ndim + 1;
    r.shape[0] = t->shape[0];
    r.strides[0] = t->strides[0];
    r.shape[1] = 1;
    r.strides[1] = 0;
    for (int i = 1; i < t->ndim; i++) {
        r.shape[i + 1] = t->shape[i];
        r.strides[i + 1] = t->strides[i];
    }
    return r;
}

lk_status lk_kda_decode_prepare(lk_context *ctx, const lk_tensor *q, const lk_tensor *k, const lk_tensor *v,
                                const lk_tensor *g, const lk_tensor *beta, lk_tensor *state, lk_tensor *o,
                                const lk_kda_params *params, lk_kda_call *call)
{
    const char *op = "lk_kda_decode_step";
    lk_status st;
    memset(call, 0, sizeof *call);
    if (!params)
        return lk_fail(ctx, LK_ERR_NULL_POINTER, "%s: params are NULL", op);
    if (params->cu_seqlens)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, "%s: cu_seqlens is for lk_kda_fwd only", op);
    if ((st = lk_check_tensor(ctx, op, "q", q, 3)) || (st = lk_check_tensor(ctx, op, "k", k, 3)) ||
        (st = lk_check_tensor(ctx, op, "v", v, 3)) || (st = lk_check_tensor(ctx, op, "g", g, 3)) ||
        (st = lk_check_tensor(ctx, op, "beta", beta, 2)) || (st = lk_check_tensor(ctx, op, "o", o, 3)) ||
        (st = lk_check_tensor(ctx, op, "state", state, 4)))
        return st;
    call->q = one_token(q), call->k = one_token(k), call->v = one_token(v);
    call->g = one_token(g), call->beta = one_token(beta), call->o = one_token(o);
    call->h0 = state;
    call->ht = state;
    call->p = params;
    return check_call(ctx, op, call);
}
