/* Attention-backward inputs and the candidate check (see bwd_problem.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention_bwd_ref.h"
#include "bwd_problem.h"
#include "check.h"
#include "ops/attention_bwd.h"

#define CHECK_SEQ 67
#define CHECK_SEED 12345

int bwd_problem_fits(lk_context *ctx, const lk_tune_key *key, int64_t B, int64_t Hq, int64_t Hkv, int64_t S)
{
    /* two problems of this shape: the same bytes as one of batch 2B */
    return attn_problem_fits(ctx, key->dtype, 2 * B, Hq, Hkv, S, key->head_dim);
}

lk_status bwd_problem_create(lk_context *ctx, const lk_tune_key *key, int64_t B, int64_t Hq, int64_t Hkv, int64_t S,
                             uint64_t seed, int keep_host, bwd_problem *out)
{
    memset(out, 0, sizeof *out);
    out->rope = lk_rope_params_default();
    attn_params_for_key(key, &out->rope, &out->ap);
    int64_t D = key->head_dim;
    lk_status st = attn_problem_create(ctx, key->dtype, B, Hq, Hkv, S, D, seed, keep_host, &out->fwd);
    if (st == LK_OK)
        st = attn_problem_create(ctx, key->dtype, B, Hq, Hkv, S, D, seed + 1, keep_host, &out->grad);
    if (st == LK_OK)
        st = lk_buffer_alloc(ctx, sizeof(float) * (size_t)(B * Hq * S), &out->lse_buf);
    if (st == LK_OK) {
        int64_t shape[3] = {B, Hq, S};
        out->lse = lk_tensor_make(out->lse_buf, LK_F32, 3, shape);
        st = lk_attention_fwd(ctx, &out->fwd.q, &out->fwd.k, &out->fwd.v, &out->fwd.o, &out->lse, &out->ap);
    }
    if (st != LK_OK)
        bwd_problem_free(out);
    return st;
}

void bwd_problem_free(bwd_problem *p)
{
    attn_problem_free(&p->fwd);
    attn_problem_free(&p->grad);
    lk_buffer_free(p->lse_buf);
    memset(p, 0, sizeof *p);
}

lk_status bwd_call_run(lk_context *ctx, void *call)
{
    bwd_call *c = call;
    bwd_problem *p = c->pb;
    if (c->tuned)
        return lk_attention_bwd_run(ctx, &p->fwd.q, &p->fwd.k, &p->fwd.v, &p->fwd.o, &p->lse, &p->grad.q,
                                    &p->grad.o, &p->grad.k, &p->grad.v, &p->ap, c->tuned);
    return lk_attention_bwd(ctx, &p->fwd.q, &p->fwd.k, &p->fwd.v, &p->fwd.o, &p->lse, &p->grad.q, &p->grad.o,
                            &p->grad.k, &p->grad.v, &p->ap);
}

lk_status bwd_check_init(lk_context *ctx, const lk_tune_key *key, bwd_check *c)
{
    memset(c, 0, sizeof *c);
    c->tol = key->dtype == LK_F16 ? 2e-3 : 1e-5;
    lk_status st = bwd_problem_create(ctx, key, 1, 2, 1, CHECK_SEQ, CHECK_SEED, 1, &c->pb);
    if (st != LK_OK)
        return st;
    size_t nq = (size_t)(2 * CHECK_SEQ * key->head_dim), nk = nq / 2;
    c->ref[0] = malloc(nq * sizeof(double));
    c->ref[1] = malloc(nk * sizeof(double));
    c->ref[2] = malloc(nk * sizeof(double));
    c->got = malloc(nq * sizeof(float));
    if (!c->ref[0] || !c->ref[1] || !c->ref[2] || !c->got) {
        bwd_check_free(c);
        return LK_ERR_OUT_OF_MEMORY;
    }
    ref_attention_args a = {.B = 1, .Hq = 2, .Hkv = 1, .Sq = CHECK_SEQ, .Sk = CHECK_SEQ, .D = key->head_dim,
                            .causal = key->flag, .rope = c->pb.ap.rope};
    const attn_problem *f = &c->pb.fwd;
    ref_attention_bwd(&a, f->host[0], f->host[1], f->host[2], c->pb.grad.host[0], c->ref[0], c->ref[1], c->ref[2]);
    return LK_OK;
}

lk_status bwd_check_run(bwd_check *c, const lk_params *p, double *rel_err)
{
    bwd_call call = {&c->pb, p};
    lk_status st = bwd_call_run(c->pb.fwd.ctx, &call);
    static const int tensor_of[3] = {3, 1, 2}; /* dq in grad's o, dk in its k, dv in its v */
    size_t n[3] = {(size_t)(2 * CHECK_SEQ * c->pb.fwd.D), (size_t)(CHECK_SEQ * c->pb.fwd.D),
                   (size_t)(CHECK_SEQ * c->pb.fwd.D)};
    *rel_err = 0.0;
    for (int t = 0; t < 3 && st == LK_OK; t++) {
        if ((st = attn_problem_read(&c->pb.grad, tensor_of[t], c->got)) != LK_OK)
            break;
        double rel = attn_rel_error(c->got, c->ref[t], n[t]);
        *rel_err = rel > *rel_err || isnan(rel) ? rel : *rel_err;
    }
    return st;
}

void bwd_check_free(bwd_check *c)
{
    bwd_problem_free(&c->pb);
    for (int t = 0; t < 3; t++)
        free(c->ref[t]);
    free(c->got);
    memset(c, 0, sizeof *c);
}
