/* lk_attention_decode against ref_attention_fwd (Sq = 1, not causal) on every compiled backend.
 *
 * Table-driven: awkward context lengths (1, 17, 1000, 4099), GQA, strided layouts, fp16 and
 * fp32, and forced split counts (1, more splits than tiles, one tile per split) so the combine
 * sees empty splits. Tolerance: relative error (harness.h) <= 1e-5 f32, <= 2e-3 f16, o and lse. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ref.h"

typedef struct {
    int64_t B, Hq, Hkv, S, D;
    lk_dtype dtype;
    lkt_layout mem;
    char tunables[48]; /* "": the database / defaults (an array: Criterion copies parameters) */
    lkt_backend backend;
} dec_case;

/* B Hq Hkv S D dtype mem tunables */
#define CASES(X)                                                                    \
    X(1, 1, 1, 1, 64, LK_F32, LKT_CONTIGUOUS, "")                                 \
    X(2, 4, 1, 17, 64, LK_F32, LKT_BSHD, "SPLITS=8,BLOCK_N=4,WG=32")                \
    X(1, 8, 2, 1000, 128, LK_F32, LKT_PADDED, "SPLITS=3,BLOCK_N=16,WG=64")          \
    X(2, 4, 4, 1000, 128, LK_F16, LKT_CONTIGUOUS, "")                             \
    X(1, 16, 2, 4099, 128, LK_F16, LKT_BSHD, "SPLITS=64,BLOCK_N=64,WG=128")         \
    X(1, 2, 1, 113, 256, LK_F32, LKT_CONTIGUOUS, "SPLITS=1,BLOCK_N=8,WG=100")       \
    X(3, 6, 3, 77, 64, LK_F16, LKT_PADDED, "SPLITS=5,BLOCK_N=1,WG=64")

#define ROW(b, hq, hkv, s, d, dt, mem, tun) {b, hq, hkv, s, d, dt, mem, tun, LKT_OPENCL}, {b, hq, hkv, s, d, dt, mem, tun, LKT_CUDA},

ParameterizedTestParameters(attention_decode, matches_reference)
{
    static dec_case cases[] = {CASES(ROW)};
    return cr_make_param_array(dec_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(dec_case *c, attention_decode, matches_reference)
{
    lk_context *ctx = lkt_open(c->backend);
    lkt_rng rng = lkt_rng_make(lkt_seed(), (uint64_t)(c->S * 31 + c->Hq * 7 + c->D));
    int64_t qs[4] = {c->B, c->Hq, 1, c->D}, ks[4] = {c->B, c->Hkv, c->S, c->D};
    size_t nq = (size_t)(c->B * c->Hq * c->D), nk = (size_t)(c->B * c->Hkv * c->S * c->D), nl = (size_t)(c->B * c->Hq);
    float *q = malloc(nq * 4), *k = malloc(nk * 4), *v = malloc(nk * 4), *o = malloc(nq * 4), *lse = malloc(nl * 4);
    lkt_fill(&rng, q, nq);
    lkt_fill(&rng, k, nk);
    lkt_fill(&rng, v, nk);
    lkt_tensor tq = lkt_upload(ctx, c->dtype, c->mem, qs, q), tk = lkt_upload(ctx, c->dtype, c->mem, ks, k);
    lkt_tensor tv = lkt_upload(ctx, c->dtype, c->mem, ks, v);
    for (size_t i = 0; i < nq; i++)
        o[i] = 7.0f; /* poison: every element must be written */
    lkt_tensor to = lkt_upload(ctx, c->dtype, c->mem, qs, o);
    int64_t ls[2] = {c->B, c->Hq};
    lkt_tensor tl = lkt_zeros(ctx, LK_F32, 2, ls);
    if (c->tunables[0])
        LKT_OK(ctx, lk_tuning_override(ctx, "attention_decode", c->dtype, (int)c->D, 0, 0, c->tunables));

    lk_decode_params p = lk_decode_params_default();
    LKT_OK(ctx, lk_attention_decode(ctx, &tq.t, &tk.t, &tv.t, &to.t, &tl.t, &p));
    cr_log_info("%s: %s", lkt_backend_name(c->backend), lk_last_launch(ctx));
    if (c->tunables[0])
        cr_expect(strstr(lk_last_launch(ctx), "source=override") != NULL, "override did not reach the launch: %s",
                  lk_last_launch(ctx));
    lkt_download(ctx, &to, o);
    lkt_download(ctx, &tl, lse);

    double *ro = malloc(nq * sizeof(double)), *rl = malloc(nl * sizeof(double));
    ref_attention_args ra = {c->B, c->Hq, c->Hkv, 1, c->S, c->D, 0, 0.0, NULL, NULL, NULL};
    ref_attention_fwd(&ra, q, k, v, ro, rl);
    double tol = c->dtype == LK_F16 ? LKT_TOL_F16 : LKT_TOL_F32;
    lkt_expect_close("o", o, ro, nq, tol);
    lkt_expect_close("lse", lse, rl, nl, tol);

    free(q); free(k); free(v); free(o); free(lse); free(ro); free(rl);
    lkt_free(&tq); lkt_free(&tk); lkt_free(&tv); lkt_free(&to); lkt_free(&tl);
    lk_context_destroy(ctx);
}

/* Bad input: a status and a message, nothing launched. */
LKT_EACH_BACKEND(b, attention_decode, rejects_bad_input)
{
    lk_context *ctx = lkt_open(*b);
    int64_t qs[3] = {1, 4, 64}, q2[4] = {1, 4, 2, 64}, ks[4] = {1, 2, 8, 64}, k3[4] = {1, 3, 8, 64};
    int64_t d96[4] = {1, 2, 8, 96}, q96[3] = {1, 4, 96}, ls[2] = {1, 3};
    lkt_tensor q = lkt_zeros(ctx, LK_F32, 3, qs), o = lkt_zeros(ctx, LK_F32, 3, qs), k = lkt_zeros(ctx, LK_F32, 4, ks);
    lkt_tensor v = lkt_zeros(ctx, LK_F32, 4, ks), kh = lkt_zeros(ctx, LK_F16, 4, ks), q_two = lkt_zeros(ctx, LK_F32, 4, q2);
    lkt_tensor kbad = lkt_zeros(ctx, LK_F32, 4, k3), k96 = lkt_zeros(ctx, LK_F32, 4, d96);
    lkt_tensor qd = lkt_zeros(ctx, LK_F32, 3, q96), od = lkt_zeros(ctx, LK_F32, 3, q96), lbad = lkt_zeros(ctx, LK_F32, 2, ls);
    lk_decode_params p = lk_decode_params_default(), neg = p;
    neg.scale = -1.0;
    struct { lk_status got, want; const char *what; } cases[] = {
        {lk_attention_decode(ctx, NULL, &k.t, &v.t, &o.t, NULL, &p), LK_ERR_NULL_POINTER, "q NULL"},
        {lk_attention_decode(ctx, &q.t, &k.t, &v.t, &o.t, NULL, NULL), LK_ERR_NULL_POINTER, "params NULL"},
        {lk_attention_decode(ctx, &q_two.t, &k.t, &v.t, &o.t, NULL, &p), LK_ERR_SHAPE, "two query tokens"},
        {lk_attention_decode(ctx, &q.t, &kh.t, &v.t, &o.t, NULL, &p), LK_ERR_DTYPE, "mixed dtypes"},
        {lk_attention_decode(ctx, &q.t, &kbad.t, &v.t, &o.t, NULL, &p), LK_ERR_SHAPE, "k and v disagree"},
        {lk_attention_decode(ctx, &qd.t, &k96.t, &k96.t, &od.t, NULL, &p), LK_ERR_UNSUPPORTED, "head_dim 96"},
        {lk_attention_decode(ctx, &q.t, &k.t, &v.t, &q.t, NULL, &p), LK_ERR_ALIAS, "o is q"},
        {lk_attention_decode(ctx, &q.t, &k.t, &v.t, &o.t, &lbad.t, &p), LK_ERR_SHAPE, "lse shape"},
        {lk_attention_decode(ctx, &q.t, &k.t, &v.t, &o.t, NULL, &neg), LK_ERR_INVALID_ARGUMENT, "negative scale"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_expect_eq(cases[i].got, cases[i].want, "%s: got %s, want %s", cases[i].what, lk_status_str(cases[i].got),
                     lk_status_str(cases[i].want));
    }
    /* the last call failed before launching: no launch text, a message */
    cr_expect_str_empty(lk_last_launch(ctx));
    cr_expect(strlen(lk_last_error(ctx)) > 0);
    LKT_OK(ctx, lk_tuning_override(ctx, "attention_decode", LK_F32, 64, 0, 0, "SPLITS=4,BLOCK_N=3,WG=64"));
    cr_expect_eq(lk_attention_decode(ctx, &q.t, &k.t, &v.t, &o.t, NULL, &p), LK_ERR_INVALID_ARGUMENT,
                 "BLOCK_N 3 does not divide 64: %s", lk_last_error(ctx));
    lkt_tensor *all[] = {&q, &o, &k, &v, &kh, &q_two, &kbad, &k96, &qd, &od, &lbad};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        lkt_free(all[i]);
    lk_context_destroy(ctx);
}
