/* lk_hadamard against ref_hadamard (a dense Sylvester matrix, fp64) on every compiled backend,
 * forward and inverse, with and without a channel permutation; the inverse undoes the forward;
 * bad arguments. Tolerance: relative error (harness.h) <= 1e-5 f32, <= 2e-3 f16. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kv_sparse_ref.h"

typedef struct {
    int64_t B, H, S, D;
    int G, perm, inverse;
    lk_dtype dtype;
    lkt_layout mem;
    lkt_backend backend;
} had_case;

/* B H S D G perm inverse dtype layout */
#define CASES(X)                                                       \
    X(1, 1, 3, 64, 1, 0, 0, LK_F32, LKT_CONTIGUOUS)                     \
    X(2, 4, 5, 128, 4, 1, 0, LK_F32, LKT_BSHD)                          \
    X(1, 8, 7, 128, 4, 1, 1, LK_F32, LKT_PADDED)                        \
    X(1, 2, 17, 256, 2, 0, 1, LK_F16, LKT_CONTIGUOUS)                   \
    X(1, 8, 3, 64, 8, 1, 0, LK_F16, LKT_BSHD)

#define ROW(b, h, s, d, g, p, inv, dt, mem) {b, h, s, d, g, p, inv, dt, mem, LKT_OPENCL}, \
    {b, h, s, d, g, p, inv, dt, mem, LKT_CUDA},

ParameterizedTestParameters(hadamard, matches_reference)
{
    static had_case cases[] = {CASES(ROW)};
    return cr_make_param_array(had_case, cases, sizeof cases / sizeof cases[0]);
}

/* A fixed pseudo-random permutation of n (a multiplicative walk). */
static void make_perm(int32_t *perm, int n)
{
    for (int i = 0; i < n; i++)
        perm[i] = (int32_t)(((int64_t)i * 37 + 11) % n);
}

ParameterizedTest(had_case *c, hadamard, matches_reference)
{
    lk_context *ctx = lkt_open(c->backend);
    lkt_rng rng = lkt_rng_make(lkt_seed(), (uint64_t)(c->D * 7 + c->G + c->S));
    int64_t shape[4] = {c->B, c->H, c->S, c->D};
    size_t n = (size_t)(c->B * c->H * c->S * c->D);
    float *x = malloc(n * 4), *got = malloc(n * 4), *back = malloc(n * 4);
    double *xd = malloc(n * sizeof(double)), *ref = malloc(n * sizeof(double));
    lkt_fill(&rng, x, n);
    int32_t *perm = malloc(sizeof(int32_t) * (size_t)(c->G * c->D));
    make_perm(perm, (int)(c->G * c->D));
    lkt_tensor tx = lkt_upload(ctx, c->dtype, c->mem, shape, x), to = lkt_upload(ctx, c->dtype, c->mem, shape, got);
    lk_hadamard_params p = lk_hadamard_params_default();
    p.group = c->G;
    p.perm = c->perm ? perm : NULL;
    p.inverse = c->inverse;
    LKT_OK(ctx, lk_hadamard(ctx, &tx.t, &to.t, &p));
    lkt_download(ctx, &to, got);
    for (size_t i = 0; i < n; i++)
        xd[i] = x[i];
    ref_hadamard(xd, ref, c->B, c->H, c->S, c->D, c->G, p.perm, c->inverse);
    double tol = c->dtype == LK_F16 ? LKT_TOL_F16 : LKT_TOL_F32;
    lkt_expect_close("rotated", got, ref, n, tol);

    /* the other direction, in place, gives x back */
    p.inverse = !c->inverse;
    LKT_OK(ctx, lk_hadamard(ctx, &to.t, &to.t, &p));
    lkt_download(ctx, &to, back);
    lkt_expect_close("round trip", back, xd, n, c->dtype == LK_F16 ? 2 * LKT_TOL_F16 : LKT_TOL_F32);

    free(x); free(got); free(back); free(xd); free(ref); free(perm);
    lkt_free(&tx); lkt_free(&to);
    lk_context_destroy(ctx);
}

LKT_EACH_BACKEND(b, hadamard, rejects_bad_input)
{
    lk_context *ctx = lkt_open(*b);
    int64_t shape[4] = {1, 6, 2, 64}, other[4] = {1, 6, 3, 64};
    lkt_tensor x = lkt_zeros(ctx, LK_F32, 4, shape), y = lkt_zeros(ctx, LK_F32, 4, other);
    lk_hadamard_params p = lk_hadamard_params_default();
    int32_t perm[128];
    for (int i = 0; i < 128; i++)
        perm[i] = i;
    perm[100] = 0;
    p.group = 4; /* does not divide 6 */
    cr_expect_eq(lk_hadamard(ctx, &x.t, &x.t, &p), LK_ERR_INVALID_ARGUMENT);
    p.group = 3; /* 192 channels: not a power of two */
    cr_expect_eq(lk_hadamard(ctx, &x.t, &x.t, &p), LK_ERR_UNSUPPORTED);
    p.group = 2;
    p.perm = perm; /* repeats 0 */
    cr_expect_eq(lk_hadamard(ctx, &x.t, &x.t, &p), LK_ERR_INVALID_ARGUMENT);
    p.perm = NULL;
    cr_expect_eq(lk_hadamard(ctx, &x.t, &y.t, &p), LK_ERR_SHAPE);
    cr_expect_eq(lk_hadamard(ctx, &x.t, &x.t, NULL), LK_ERR_NULL_POINTER);
    cr_expect_str_empty(lk_last_launch(ctx));
    lkt_free(&x);
    lkt_free(&y);
    lk_context_destroy(ctx);
}
