/* Candidate correctness against ref/ (see check.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ref.h"

#define CHECK_SEQ 67
#define CHECK_SEED 12345

double attn_rel_error(const float *got, const double *ref, size_t n)
{
    double max_err = 0.0, max_ref = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - ref[i]);
        max_err = e > max_err || isnan(e) ? e : max_err;
        max_ref = fmax(max_ref, fabs(ref[i]));
    }
    return max_ref > 0.0 ? max_err / max_ref : max_err;
}

lk_status attn_check_init(lk_context *ctx, const lk_tune_key *key, attn_check *c)
{
    memset(c, 0, sizeof *c);
    c->rope = lk_rope_params_default();
    attn_params_for_key(key, &c->rope, &c->ap);
    c->tol = key->dtype == LK_F16 ? 2e-3 : 1e-5;
    lk_status st = attn_problem_create(ctx, key->dtype, 1, 2, 1, CHECK_SEQ, key->head_dim, CHECK_SEED, 1, &c->pb);
    if (st != LK_OK)
        return st;
    size_t n = (size_t)(2 * CHECK_SEQ * key->head_dim);
    c->ref = malloc(n * sizeof(double));
    c->got = malloc(n * sizeof(float));
    double *lse = malloc(2 * CHECK_SEQ * sizeof(double));
    if (!c->ref || !c->got || !lse) {
        free(lse);
        attn_check_free(c);
        return LK_ERR_OUT_OF_MEMORY;
    }
    ref_attention_args a = {.B = 1, .Hq = 2, .Hkv = 1, .Sq = CHECK_SEQ, .Sk = CHECK_SEQ, .D = key->head_dim,
                            .causal = key->flag, .rope = c->ap.rope};
    ref_attention_fwd(&a, c->pb.host[0], c->pb.host[1], c->pb.host[2], c->ref, lse);
    free(lse);
    return LK_OK;
}

lk_status attn_check_run(attn_check *c, const lk_params *p, double *rel_err)
{
    attn_call call = {&c->pb, c->ap, p};
    lk_status st = attn_call_run(c->pb.ctx, &call);
    if (st == LK_OK)
        st = attn_problem_read_o(&c->pb, c->got);
    if (st != LK_OK)
        return st;
    *rel_err = attn_rel_error(c->got, c->ref, (size_t)(2 * CHECK_SEQ * c->pb.D));
    return LK_OK;
}

void attn_check_free(attn_check *c)
{
    attn_problem_free(&c->pb);
    free(c->ref);
    free(c->got);
    memset(c, 0, sizeof *c);
}
