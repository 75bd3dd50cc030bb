/* lk_kivi_attention on every compiled backend against ref_attention_fwd run on the cache's
 * dequantized K and V (ref_kivi_quantize), so the only differences are fp32 accumulation.
 * Tolerance: relative error (harness.h) <= 1e-5 for f32 q/o, <= 2e-3 for f16. */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "kivi_support.h"
#include "ops/kivi_attention.h"
#include "ref.h"

typedef struct {
    int64_t B, Hq, Hkv, D, n;
    int k_bits, v_bits, G, R;
    lk_dtype dtype;
    int splits, block_n, wg, direct, kbuf; /* explicit tunables (splits 0: the database's) */
    lkt_backend backend;
} dec_case;

/* B Hq Hkv D n kb vb G R dtype splits block_n wg direct kbuf. The direct cases (cl/kivi_direct.h)
 * cover runs of TPI = 16 (QG 1), 8 (QG 2, 4-bit keys, D 256), 4 (QG 4; BLOCK_N 4 shorter than
 * the 16 codes of a word) and 2 tokens (QG 8 with 8-bit keys; QG 16), fewer work-items than
 * runs (WG 8), a cache
 * still inside its residual (n < R), the end of the quantized keys inside a tile (n 333, R 48,
 * BLOCK_N 64; n 261, R 96; n 700, R 128, BLOCK_N 256: the longest tile). The tensor-core cases
 * (DIRECT 2, cl/kivi_direct_mma.h, and 3, cl/kivi_tiles_mma.h; NVIDIA cc 8+ only, else skipped
 * with the reason; also run on host threads by test_kivi_mma_emu) cover one m-tile a warp, more
 * warps than m-tiles (warps without a token), more m-tiles than warps, QG 8 / 4 / 1, 2-, 4- and
 * 8-bit words, D 64 to 256, each inside the 48 KB of local memory NVIDIA devices give a
 * work-group (8-bit keys at D 128 fit BLOCK_N 64, not 128), DIRECT 3 with one buffer of words and
 * with two (KBUF 2: three to six tiles a split); QG 16 runs DIRECT 2's tiles with the direct
 * reads (DIRECT 1), on every device. */
#define CASES(X)                                                           \
    X(1, 2, 2, 64, 1, 2, 2, 32, 32, LK_F32, 0, 0, 0, 0, 1)                 \
    X(1, 4, 1, 64, 77, 2, 2, 32, 32, LK_F32, 3, 16, 64, 0, 1)              \
    X(2, 2, 2, 128, 301, 4, 2, 32, 64, LK_F16, 0, 0, 0, 0, 1)              \
    X(1, 6, 3, 64, 150, 8, 4, 16, 48, LK_F32, 7, 8, 64, 0, 1)              \
    X(1, 8, 1, 128, 1000, 2, 2, 32, 128, LK_F16, 5, 32, 64, 0, 1)          \
    X(1, 2, 1, 256, 200, 4, 4, 128, 128, LK_F32, 1, 16, 64, 0, 1)          \
    X(1, 4, 2, 64, 130, 2, 2, 32, 32, LK_F32, 4, 4, 64, 0, 1)              \
    X(1, 2, 2, 64, 20, 2, 2, 32, 32, LK_F32, 1, 16, 64, 1, 1)              \
    X(2, 8, 2, 128, 301, 2, 4, 32, 64, LK_F16, 3, 32, 128, 1, 1)           \
    X(1, 8, 1, 64, 333, 8, 2, 16, 48, LK_F32, 5, 64, 64, 1, 1)             \
    X(1, 4, 2, 64, 150, 2, 8, 32, 32, LK_F32, 2, 4, 64, 1, 1)              \
    X(1, 16, 1, 128, 261, 4, 4, 32, 96, LK_F32, 2, 64, 8, 1, 1)            \
    X(1, 2, 1, 256, 200, 4, 2, 64, 128, LK_F16, 1, 16, 64, 1, 1)           \
    X(1, 4, 1, 128, 700, 2, 2, 32, 128, LK_F16, 2, 256, 64, 1, 1)          \
    X(2, 8, 2, 128, 301, 2, 2, 32, 64, LK_F16, 3, 64, 128, 2, 1)           \
    X(1, 8, 1, 64, 333, 4, 8, 16, 48, LK_F16, 2, 32, 128, 2, 1)            \
    X(1, 2, 2, 256, 200, 2, 4, 32, 96, LK_F16, 1, 16, 64, 2, 1)            \
    X(1, 1, 1, 128, 700, 8, 2, 64, 128, LK_F16, 2, 64, 64, 2, 1)           \
    X(1, 16, 1, 64, 130, 2, 2, 32, 32, LK_F16, 2, 32, 64, 2, 1)            \
    X(2, 8, 2, 128, 301, 2, 2, 32, 64, LK_F16, 3, 64, 128, 3, 1)           \
    X(1, 8, 1, 64, 333, 4, 8, 16, 48, LK_F16, 2, 32, 64, 3, 1)             \
    X(1, 2, 2, 256, 200, 2, 4, 32, 96, LK_F16, 1, 16, 32, 3, 1)            \
    X(1, 1, 1, 128, 700, 8, 2, 64, 128, LK_F16, 2, 32, 64, 3, 1)           \
    X(1, 8, 1, 64, 333, 4, 8, 16, 48, LK_F16, 2, 32, 64, 3, 2)             \
    X(2, 8, 2, 128, 301, 8, 2, 32, 64, LK_F16, 3, 32, 64, 3, 2)

#define ROW(b, hq, hkv, d, n, kb, vb, g, r, dt, sp, bn, wg, dir, kbuf)                \
    {b, hq, hkv, d, n, kb, vb, g, r, dt, sp, bn, wg, dir, kbuf, LKT_OPENCL},           \
    {b, hq, hkv, d, n, kb, vb, g, r, dt, sp, bn, wg, dir, kbuf, LKT_CUDA},

ParameterizedTestParameters(kivi_attention, matches_reference)
{
    static dec_case cases[] = {CASES(ROW)};
    return cr_make_param_array(dec_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(dec_case *c, kivi_attention, matches_reference)
{
    lk_context *ctx = lkt_open(c->backend);
    const int direct = c->direct >= 2 && c->Hq / c->Hkv > 8 ? 1 : c->direct; /* what runs */
    if (direct >= 2)
        lkt_require_tensor_cores(ctx);
    lkt_rng rng = lkt_rng_make(lkt_seed(), (uint64_t)(c->n * 17 + c->Hq));
    size_t nkv = (size_t)(c->B * c->Hkv * c->n * c->D), nq = (size_t)(c->B * c->Hq * c->D);
    float *k = malloc(nkv * 4), *v = malloc(nkv * 4), *kh = malloc(nkv * 4), *vh = malloc(nkv * 4);
    float *q = malloc(nq * 4), *o = malloc(nq * 4);
    double *want = malloc(nq * 8), *lse = malloc((size_t)(c->B * c->Hq) * 8);
    kvt_fill(&rng, k, c->B * c->Hkv, c->n, c->D, 1);
    kvt_fill(&rng, v, c->B * c->Hkv, c->n, c->D, 0);
    lkt_fill(&rng, q, nq);

    lk_kivi_config cfg = {c->B, c->Hkv, c->D, c->k_bits, c->v_bits, c->G, c->R, c->n};
    lk_kivi_cache *cache;
    LKT_OK(ctx, lk_kivi_cache_create(ctx, &cfg, &cache));
    int pieces[] = {c->n > 40 ? 40 : 1, 1, 0};
    kvt_append(ctx, cache, c->B, c->Hkv, c->n, c->D, k, v, LK_F16, LKT_CONTIGUOUS, pieces);
    ref_kivi_shape s = kvt_shape(cache);
    ref_kivi_quantize(&s, c->n, k, v, NULL, NULL, NULL, NULL, kh, vh);

    int64_t qshape[4] = {c->B, c->Hq, 1, c->D};
    lkt_tensor tq = lkt_upload(ctx, c->dtype, LKT_CONTIGUOUS, qshape, q), to = lkt_zeros(ctx, c->dtype, 4, qshape);
    lk_decode_params p = lk_decode_params_default();
    lk_params tuned = kvt_decode_tunables(c->splits, c->block_n, c->wg, c->direct);
    lk_params_set(&tuned, "KBUF", c->kbuf);
    LKT_OK(ctx, lk_kivi_attention_run(ctx, cache, &tq.t, &to.t, NULL, &p, c->splits ? &tuned : NULL));
    lkt_download(ctx, &to, o);
    if (c->splits)
        kvt_expect_direct(ctx, direct);

    ref_attention_args ra = {c->B, c->Hq, c->Hkv, 1, c->n, c->D, 0, 0.0, NULL, NULL, NULL};
    ref_attention_fwd(&ra, q, kh, vh, want, lse);
    lkt_expect_close("o", o, want, nq, c->dtype == LK_F16 ? LKT_TOL_F16 : LKT_TOL_F32);

    lkt_free(&tq);
    lkt_free(&to);
    lk_kivi_cache_destroy(cache);
    void *all[] = {k, v, kh, vh, q, o, want, lse};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
    lk_context_destroy(ctx);
}

Test(kivi_attention, bad_arguments_are_rejected)
{
    lk_context *ctx = lkt_open(LKT_OPENCL);
    lk_kivi_config cfg = lk_kivi_config_default(1, 2, 64, 64);
    lk_kivi_cache *cache;
    LKT_OK(ctx, lk_kivi_cache_create(ctx, &cfg, &cache));
    int64_t qshape[4] = {1, 4, 1, 64}, bad_heads[4] = {1, 3, 1, 64};
    lkt_tensor q = lkt_zeros(ctx, LK_F32, 4, qshape), o = lkt_zeros(ctx, LK_F32, 4, qshape);
    lkt_tensor q3 = lkt_zeros(ctx, LK_F32, 4, bad_heads), o16 = lkt_zeros(ctx, LK_F16, 4, qshape);
    lk_decode_params p = lk_decode_params_default();
    cr_expect_eq(lk_kivi_attention(ctx, cache, &q.t, &o.t, NULL, &p), LK_ERR_INVALID_ARGUMENT, "empty cache");
    float kv[2 * 64];
    lkt_rng rng = lkt_rng_make(1, 1);
    lkt_fill(&rng, kv, 128);
    int one[] = {1, 0};
    kvt_append(ctx, cache, 1, 2, 1, 64, kv, kv, LK_F32, LKT_CONTIGUOUS, one);
    cr_expect_eq(lk_kivi_attention(ctx, cache, &q3.t, &o.t, NULL, &p), LK_ERR_SHAPE);
    cr_expect_eq(lk_kivi_attention(ctx, cache, &q.t, &o16.t, NULL, &p), LK_ERR_DTYPE);
    cr_expect_eq(lk_kivi_attention(ctx, cache, &q.t, &q.t, NULL, &p), LK_ERR_ALIAS);
    cr_expect_eq(lk_kivi_attention(ctx, NULL, &q.t, &o.t, NULL, &p), LK_ERR_NULL_POINTER);
    p.scale = -1;
    cr_expect_eq(lk_kivi_attention(ctx, cache, &q.t, &o.t, NULL, &p), LK_ERR_INVALID_ARGUMENT);
    cr_expect_str_empty(lk_last_launch(ctx));
    p.scale = 0;
    lk_params tiles = kvt_decode_tunables(1, 128, 64, 0), direct;
    cr_expect_eq(lk_kivi_attention_run(ctx, cache, &q.t, &o.t, NULL, &p, &tiles), LK_ERR_INVALID_ARGUMENT,
                 "BLOCK_N 128 needs DIRECT 1");
    direct = tiles;
    lk_params_set(&direct, "DIRECT", 4);
    cr_expect_eq(lk_kivi_attention_run(ctx, cache, &q.t, &o.t, NULL, &p, &direct), LK_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(lk_last_error(ctx), "DIRECT"), "%s", lk_last_error(ctx));
    lk_params_set(&direct, "BLOCK_N", 64);
    for (int v = 2; v <= 3; v++) {
        lk_params_set(&direct, "DIRECT", v);
        cr_expect_eq(lk_kivi_attention_run(ctx, cache, &q.t, &o.t, NULL, &p, &direct), LK_ERR_UNSUPPORTED,
                     "DIRECT %d, f32 q (and, on a CPU, no tensor cores): %s", v, lk_last_error(ctx));
    }
    lk_params_set(&direct, "KBUF", 3); /* DIRECT 3 from the loop */
    cr_expect_eq(lk_kivi_attention_run(ctx, cache, &q.t, &o.t, NULL, &p, &direct), LK_ERR_INVALID_ARGUMENT, "KBUF 3");
    cr_expect(strstr(lk_last_error(ctx), "KBUF"), "%s", lk_last_error(ctx));
    lk_params_set(&direct, "KBUF", 1);
    lk_params_set(&direct, "DIRECT", 1);
    lk_params_set(&direct, "BLOCK_N", 512);
    cr_expect_eq(lk_kivi_attention_run(ctx, cache, &q.t, &o.t, NULL, &p, &direct), LK_ERR_INVALID_ARGUMENT,
                 "BLOCK_N 512");
    LKT_OK(ctx, lk_kivi_attention(ctx, cache, &q.t, &o.t, NULL, &p));
    lkt_tensor *all[] = {&q, &o, &q3, &o16};
    for (int i = 0; i < 4; i++)
        lkt_free(all[i]);
    lk_kivi_cache_destroy(cache);
    lk_context_destroy(ctx);
}
