/* lk_rope against ref_rope on every compiled backend: layouts, scalings, offsets and position
 * ids, in place and out of place, awkward strides, and angles at position ~1M.
 * Tolerance: relative error (harness.h) <= 1e-5 f32 (2e-6 for the 1M-position case, i.e. fp32
 * rounding of the angle), <= 2e-3 f16. */
#include <stdlib.h>

#include "harness.h"
#include "ref.h"

typedef struct {
    int64_t B, H, S, D;
    lk_dtype dtype;
    lk_rope_layout layout;
    lk_rope_scaling scaling;
    double theta;
    int64_t offset;
    int ids;       /* explicit [B, S] position ids */
    int in_place;
    lkt_layout mem;
    double tol;
    lkt_backend backend;
} rope_case;

#define CASES(X)                                                                                                 \
    X(1, 1, 1, 64, LK_F32, LK_ROPE_HALF_SPLIT, LK_ROPE_SCALING_NONE, 10000, 0, 0, 0, LKT_CONTIGUOUS, 1e-5)        \
    X(2, 3, 17, 64, LK_F32, LK_ROPE_INTERLEAVED, LK_ROPE_SCALING_NONE, 10000, 7, 0, 1, LKT_BSHD, 1e-5)            \
    X(1, 4, 113, 128, LK_F16, LK_ROPE_HALF_SPLIT, LK_ROPE_SCALING_LINEAR, 10000, 0, 0, 0, LKT_PADDED, 2e-3)       \
    X(1, 2, 1000, 128, LK_F32, LK_ROPE_HALF_SPLIT, LK_ROPE_SCALING_LLAMA3, 500000, 3, 0, 1, LKT_CONTIGUOUS, 1e-5) \
    X(2, 2, 64, 256, LK_F16, LK_ROPE_INTERLEAVED, LK_ROPE_SCALING_NONE, 10000, 0, 1, 0, LKT_BSHD, 2e-3)           \
    X(1, 2, 8, 128, LK_F32, LK_ROPE_HALF_SPLIT, LK_ROPE_SCALING_NONE, 10000, 1048570, 0, 0, LKT_CONTIGUOUS, 2e-6) \
    X(1, 2, 8, 128, LK_F32, LK_ROPE_INTERLEAVED, LK_ROPE_SCALING_NONE, 500000, 1048570, 0, 1, LKT_CONTIGUOUS, 2e-6) \
    X(2, 1, 9, 64, LK_F32, LK_ROPE_HALF_SPLIT, LK_ROPE_SCALING_LLAMA3, 500000, 0, 1, 0, LKT_PADDED, 1e-5)

#define ROW(b, h, s, d, dt, lay, sc, th, off, ids, inp, mem, tol)                  \
    {b, h, s, d, dt, lay, sc, th, off, ids, inp, mem, tol, LKT_OPENCL},              \
        {b, h, s, d, dt, lay, sc, th, off, ids, inp, mem, tol, LKT_CUDA},

ParameterizedTestParameters(rope, matches_reference)
{
    static rope_case cases[] = {CASES(ROW)};
    return cr_make_param_array(rope_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(rope_case *c, rope, matches_reference)
{
    lk_context *ctx = lkt_open(c->backend);
    lkt_rng rng = lkt_rng_make(lkt_seed(), (uint64_t)(c->S * 31 + c->D));
    int64_t shape[4] = {c->B, c->H, c->S, c->D};
    size_t n = (size_t)(c->B * c->H * c->S * c->D);
    float *x = malloc(n * 4), *got = malloc(n * 4);
    double *want = malloc(n * sizeof(double));
    lkt_fill(&rng, x, n);
    lkt_tensor tx = lkt_upload(ctx, c->dtype, c->mem, shape, x);
    lkt_tensor tout = c->in_place ? tx : lkt_zeros(ctx, c->dtype, 4, shape);

    lk_rope_params r = lk_rope_params_default();
    r.layout = c->layout;
    r.scaling = c->scaling;
    r.theta = c->theta;
    r.factor = 8.0;
    r.original_max_position = 256;
    r.position_offset = c->offset;
    int32_t *pos = NULL;
    lkt_tensor tpos = {0};
    if (c->ids) {
        pos = malloc(sizeof(int32_t) * (size_t)(c->B * c->S));
        for (int64_t i = 0; i < c->B * c->S; i++)
            pos[i] = (int32_t)((i * 7919) % 5000); /* scrambled, large */
        int64_t ps[2] = {c->B, c->S};
        tpos = lkt_zeros(ctx, LK_I32, 2, ps);
        LKT_OK(ctx, lk_buffer_write(ctx, tpos.buf, 0, pos, sizeof(int32_t) * (size_t)(c->B * c->S)));
        r.position_ids = &tpos.t;
    }
    LKT_OK(ctx, lk_rope(ctx, &tx.t, &tout.t, &r));
    lkt_download(ctx, &tout, got);
    ref_rope(x, want, c->B, c->H, c->S, c->D, &r, pos, c->offset);
    lkt_expect_close(c->in_place ? "rope in place" : "rope", got, want, n, c->tol);

    free(x); free(got); free(want); free(pos);
    if (!c->in_place)
        lkt_free(&tout);
    lkt_free(&tx);
    lkt_free(&tpos);
    lk_context_destroy(ctx);
}
