/* The low-rank latent cache on every compiled backend.
 *  - latents_match_dense_gemm: random inputs, fewer tokens than R so every latent sits in the
 *    fp16 residual; against ref_lowrank_project (fp64), tolerance 2e-3 (one fp16 rounding).
 *  - decode_matches_reference: inputs on a grid (x multiples of 1/4, weights of 1/8) so the
 *    GEMM's latents are exact in fp32 and fp16, hence the device's quantized latents equal
 *    ref_kivi_quantize's; keys and values rebuilt by ref_lowrank_rebuild (RoPE by ref_rope),
 *    attention by ref_attention_fwd. Tolerance 1e-4 (fp32 rebuild and accumulation), 2e-3 f16.
 *    The tensor-core cases (DIRECT 2 and 3, cl/lowrank_mma.h; NVIDIA cc 8+ only, else skipped with
 *    the reason; also run on host threads by test_lowrank_mma_emu) cover both RoPE layouts and none,
 *    rank below, equal to half and above head_dim (records wider than the latents), QG 8 / 4 / 2,
 *    two kv heads per latent and the end of the quantized latents inside a tile; QG 16 runs
 *    DIRECT 2's tiles as DIRECT 0, on every device.
 *  - bad_arguments_are_rejected: error codes for bad configurations, shapes, dtypes, capacity,
 *    aliasing and tunables; a refused append stores nothing.
 * F16 needs fp16 GEMMs: skipped where the device has none (PoCL). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kivi_support.h"
#include "lowrank_ref.h"
#include "ops/lowrank_attention.h"
#include "ops/lowrank_cache.h"
#include "ref.h"

typedef struct {
    int64_t B, Hkv, hpg, Hq, HD, r, hidden, n;
    int k_bits, v_bits, G, R, rope;
    lk_dtype dtype;
    int splits, block_n, wg, direct; /* tunables (splits 0: the database's) */
    lkt_backend backend;
} lr_case;

static lk_lowrank_config config_of(const lr_case *c)
{
    lk_lowrank_config f;
    memset(&f, 0, sizeof f);
    f.batch = c->B;
    f.kv_heads = c->Hkv;
    f.head_dim = c->HD;
    f.hidden = c->hidden;
    f.heads_per_group = c->hpg;
    f.rank = c->r;
    f.kivi = (lk_kivi_config){0, 0, 0, c->k_bits, c->v_bits, c->G, c->R, c->n + 3};
    return f;
}

/* A device tensor of any rank over host values (contiguous), rounded to fp16 in place for F16. */
static lkt_tensor upload(lk_context *ctx, lk_dtype dtype, int ndim, const int64_t *shape, float *host)
{
    lkt_tensor t = lkt_zeros(ctx, dtype, ndim, shape);
    if (dtype == LK_F16) {
        uint16_t *h = malloc(t.count * 2);
        for (size_t i = 0; i < t.count; i++) {
            h[i] = ref_f2h(host[i]);
            host[i] = ref_h2f(h[i]);
        }
        LKT_OK(ctx, lk_buffer_write(ctx, t.buf, 0, h, t.count * 2));
        free(h);
    } else {
        LKT_OK(ctx, lk_buffer_write(ctx, t.buf, 0, host, t.count * 4));
    }
    return t;
}

static void fill_grid(lkt_rng *rng, float *x, size_t n, float step, float range)
{
    for (size_t i = 0; i < n; i++)
        x[i] = step * roundf(lkt_uniform(rng) * range / step);
}

/* Appends x in two pieces (a prefill and the rest one token at a time, capped for speed). */
static lk_status append_all(lk_context *ctx, lk_lowrank_cache *cache, const lr_case *c, float *x, lkt_tensor *dk,
                            lkt_tensor *dv)
{
    int64_t t0 = 0;
    while (t0 < c->n) {
        int64_t S = t0 == 0 ? (c->n > 9 ? c->n - 9 : 1) : 1;
        float *part = malloc((size_t)(c->B * S * c->hidden) * 4);
        for (int64_t b = 0; b < c->B; b++)
            memcpy(part + b * S * c->hidden, x + (b * c->n + t0) * c->hidden, (size_t)(S * c->hidden) * 4);
        int64_t shape[3] = {c->B, S, c->hidden};
        lkt_tensor tx = upload(ctx, c->dtype, 3, shape, part);
        for (int64_t b = 0; b < c->B; b++) /* the rounded values back into x */
            memcpy(x + (b * c->n + t0) * c->hidden, part + b * S * c->hidden, (size_t)(S * c->hidden) * 4);
        lk_status st = lk_lowrank_cache_append(ctx, cache, &tx.t, &dk->t, &dv->t);
        lkt_free(&tx);
        free(part);
        if (st != LK_OK)
            return st;
        t0 += S;
    }
    return LK_OK;
}

/* Skips when the backend cannot run the GEMM in this dtype (no fp16 on PoCL). */
static void skip_if_unsupported(lk_context *ctx, lk_status st)
{
    if (st == LK_ERR_UNSUPPORTED)
        cr_skip_test("%s", lk_last_error(ctx));
    LKT_OK(ctx, st);
}

/* B Hkv hpg Hq HD r hidden n kb vb G R rope(1 half-split, 2 interleaved) dtype splits block_n wg direct */
#define CASES(X)                                                                      \
    X(1, 2, 2, 4, 64, 32, 64, 77, 2, 2, 16, 32, 1, LK_F32, 0, 0, 0, 0)                \
    X(2, 4, 4, 8, 128, 64, 96, 150, 4, 2, 32, 64, 2, LK_F32, 0, 0, 0, 0)              \
    X(1, 1, 1, 2, 64, 128, 64, 40, 8, 8, 32, 32, 0, LK_F32, 0, 0, 0, 0)               \
    X(1, 2, 1, 4, 128, 64, 64, 100, 2, 4, 32, 32, 1, LK_F16, 0, 0, 0, 0)              \
    X(1, 2, 1, 8, 128, 64, 64, 300, 2, 2, 32, 128, 1, LK_F16, 3, 64, 128, 2)          \
    X(2, 4, 2, 8, 64, 128, 96, 150, 4, 8, 16, 32, 2, LK_F16, 2, 32, 128, 2)           \
    X(1, 1, 1, 8, 128, 32, 64, 200, 8, 2, 32, 64, 0, LK_F16, 1, 128, 64, 2)           \
    X(1, 1, 1, 16, 64, 32, 64, 90, 2, 2, 16, 32, 1, LK_F32, 2, 32, 64, 2)              \
    X(1, 2, 1, 8, 128, 64, 64, 300, 2, 2, 32, 128, 1, LK_F16, 3, 64, 128, 3)          \
    X(2, 4, 2, 8, 64, 128, 96, 150, 4, 8, 16, 32, 2, LK_F16, 2, 32, 64, 3)            \
    X(1, 1, 1, 8, 128, 32, 64, 200, 8, 2, 32, 64, 0, LK_F16, 1, 64, 64, 3)

#define ROW(b, hkv, hpg, hq, hd, r, hid, n, kb, vb, g, rr, rope, dt, sp, bn, wg, dir)                           \
    {b, hkv, hpg, hq, hd, r, hid, n, kb, vb, g, rr, rope, dt, sp, bn, wg, dir, LKT_OPENCL},                      \
        {b, hkv, hpg, hq, hd, r, hid, n, kb, vb, g, rr, rope, dt, sp, bn, wg, dir, LKT_CUDA},

ParameterizedTestParameters(lowrank, decode_matches_reference)
{
    static lr_case cases[] = {CASES(ROW)};
    return cr_make_param_array(lr_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(lr_case *c, lowrank, decode_matches_reference)
{
    lk_context *ctx = lkt_open(c->backend);
    const int direct = c->direct >= 2 && c->Hq / c->Hkv > 8 ? 0 : c->direct; /* what runs */
    if (direct >= 2)
        lkt_require_tensor_cores(ctx);
    lkt_rng rng = lkt_rng_make(lkt_seed(), (uint64_t)(c->n * 13 + c->r));
    int64_t groups = c->Hkv / c->hpg, cols = groups * c->r;
    size_t nx = (size_t)(c->B * c->n * c->hidden), nw = (size_t)(c->hidden * cols);
    size_t nup = (size_t)(c->Hkv * c->r * c->HD), nq = (size_t)(c->B * c->Hq * c->HD);
    size_t nlat = (size_t)(c->B * groups * c->n * c->r), nkv = (size_t)(c->B * c->Hkv * c->n * c->HD);
    float *x = malloc(nx * 4), *wk = malloc(nw * 4), *wv = malloc(nw * 4), *uk = malloc(nup * 4), *uv = malloc(nup * 4);
    float *q = malloc(nq * 4), *o = malloc(nq * 4), *lk_ = malloc(nlat * 4), *lv = malloc(nlat * 4);
    float *kh = malloc(nlat * 4), *vh = malloc(nlat * 4), *K = malloc(nkv * 4), *V = malloc(nkv * 4);
    double *want = malloc(nq * 8), *lse = malloc((size_t)(c->B * c->Hq) * 8);
    fill_grid(&rng, x, nx, 0.25f, 1.0f);
    fill_grid(&rng, wk, nw, 0.125f, 0.5f);
    fill_grid(&rng, wv, nw, 0.125f, 0.5f);
    lkt_fill(&rng, uk, nup);
    lkt_fill(&rng, uv, nup);
    lkt_fill(&rng, q, nq);
    for (size_t i = 0; i < nup; i++) { /* keep the rebuilt keys near unit scale */
        uk[i] *= 0.25f;
        uv[i] *= 0.25f;
    }

    lk_lowrank_config cfg = config_of(c);
    lk_lowrank_cache *cache;
    LKT_OK(ctx, lk_lowrank_cache_create(ctx, &cfg, &cache));
    int64_t wshape[2] = {c->hidden, cols}, ushape[3] = {c->Hkv, c->r, c->HD}, qshape[3] = {c->B, c->Hq, c->HD};
    lkt_tensor tdk = upload(ctx, c->dtype, 2, wshape, wk), tdv = upload(ctx, c->dtype, 2, wshape, wv);
    lkt_tensor tuk = upload(ctx, c->dtype, 3, ushape, uk), tuv = upload(ctx, c->dtype, 3, ushape, uv);
    lkt_tensor tq = upload(ctx, c->dtype, 3, qshape, q), to = lkt_zeros(ctx, c->dtype, 3, qshape);
    skip_if_unsupported(ctx, append_all(ctx, cache, c, x, &tdk, &tdv));

    lk_rope_params rope = lk_rope_params_default();
    rope.layout = c->rope == 2 ? LK_ROPE_INTERLEAVED : LK_ROPE_HALF_SPLIT;
    rope.position_offset = 5;
    lk_decode_params p = lk_decode_params_default();
    lk_params tuned = kvt_decode_tunables(c->splits, c->block_n, c->wg, c->direct);
    LKT_OK(ctx, lk_lowrank_attention_run(ctx, cache, &tq.t, &tuk.t, &tuv.t, c->rope ? &rope : NULL, &to.t, &p,
                                         c->splits ? &tuned : NULL));
    lkt_download(ctx, &to, o);
    if (c->splits)
        kvt_expect_direct(ctx, direct);

    ref_lowrank_project(x, wk, c->B, c->n, c->hidden, groups, c->r, lk_);
    ref_lowrank_project(x, wv, c->B, c->n, c->hidden, groups, c->r, lv);
    ref_kivi_shape s = kvt_shape(cache->latents);
    ref_kivi_quantize(&s, c->n, lk_, lv, NULL, NULL, NULL, NULL, kh, vh);
    ref_lowrank_rebuild(kh, uk, c->B, c->Hkv, c->hpg, c->n, c->r, c->HD, c->rope ? &rope : NULL, K);
    ref_lowrank_rebuild(vh, uv, c->B, c->Hkv, c->hpg, c->n, c->r, c->HD, NULL, V);
    ref_attention_args ra = {c->B, c->Hq, c->Hkv, 1, c->n, c->HD, 0, 0.0, NULL, NULL, NULL};
    ref_attention_fwd(&ra, q, K, V, want, lse);
    lkt_expect_close("o", o, want, nq, c->dtype == LK_F16 ? LKT_TOL_F16 : 1e-4);

    lk_kivi_memory mem;
    LKT_OK(ctx, lk_lowrank_cache_memory(cache, &mem));
    cr_expect_eq(mem.fp16_bytes, (size_t)(2 * c->B * c->Hkv * c->n * c->HD * 2));
    lkt_tensor *all_t[] = {&tdk, &tdv, &tuk, &tuv, &tq, &to};
    for (int i = 0; i < 6; i++)
        lkt_free(all_t[i]);
    lk_lowrank_cache_destroy(cache);
    void *all[] = {x, wk, wv, uk, uv, q, o, lk_, lv, kh, vh, K, V, want, lse};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
    lk_context_destroy(ctx);
}

ParameterizedTestParameters(lowrank, latents_match_dense_gemm)
{
    static lr_case cases[] = {
        {2, 4, 2, 4, 128, 64, 100, 29, 2, 2, 32, 32, 0, LK_F32, 0, 0, 0, 0, LKT_OPENCL},
        {2, 4, 2, 4, 128, 64, 100, 29, 2, 2, 32, 32, 0, LK_F32, 0, 0, 0, 0, LKT_CUDA},
        {1, 2, 2, 2, 64, 48, 72, 31, 4, 4, 16, 32, 0, LK_F16, 0, 0, 0, 0, LKT_OPENCL},
        {1, 2, 2, 2, 64, 48, 72, 31, 4, 4, 16, 32, 0, LK_F16, 0, 0, 0, 0, LKT_CUDA},
    };
    return cr_make_param_array(lr_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(lr_case *c, lowrank, latents_match_dense_gemm)
{
    lk_context *ctx = lkt_open(c->backend);
    lkt_rng rng = lkt_rng_make(lkt_seed(), (uint64_t)(c->hidden + c->r));
    int64_t groups = c->Hkv / c->hpg, cols = groups * c->r;
    size_t nx = (size_t)(c->B * c->n * c->hidden), nw = (size_t)(c->hidden * cols), nlat = (size_t)(c->B * groups * c->n * c->r);
    float *x = malloc(nx * 4), *wk = malloc(nw * 4), *wv = malloc(nw * 4), *lat = malloc(nlat * 4), *got = malloc(nlat * 4);
    double *want = malloc(nlat * 8);
    lkt_fill(&rng, x, nx);
    lkt_fill(&rng, wk, nw);
    lkt_fill(&rng, wv, nw);
    lk_lowrank_config cfg = config_of(c);
    lk_lowrank_cache *cache;
    LKT_OK(ctx, lk_lowrank_cache_create(ctx, &cfg, &cache));
    int64_t wshape[2] = {c->hidden, cols};
    lkt_tensor tdk = upload(ctx, c->dtype, 2, wshape, wk), tdv = upload(ctx, c->dtype, 2, wshape, wv);
    skip_if_unsupported(ctx, append_all(ctx, cache, c, x, &tdk, &tdv));
    const lk_kivi_cache *kc = cache->latents;
    uint16_t *res = malloc(lk_buffer_size(kc->k_res));
    for (int side = 0; side < 2; side++) {
        ref_lowrank_project(x, side ? wv : wk, c->B, c->n, c->hidden, groups, c->r, lat);
        LKT_OK(ctx, lk_buffer_read(ctx, side ? kc->v_res : kc->k_res, 0, res, lk_buffer_size(kc->k_res)));
        for (int64_t bh = 0; bh < c->B * groups; bh++)
            for (int64_t t = 0; t < c->n; t++)
                for (int64_t d = 0; d < c->r; d++) {
                    size_t i = (size_t)((bh * c->n + t) * c->r + d);
                    got[i] = ref_h2f(res[(bh * c->R + t % c->R) * c->r + d]);
                    want[i] = lat[i];
                }
        lkt_expect_close(side ? "value latents" : "key latents", got, want, nlat, 2e-3);
    }
    lkt_free(&tdk);
    lkt_free(&tdv);
    lk_lowrank_cache_destroy(cache);
    void *all[] = {x, wk, wv, lat, got, want, res};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
    lk_context_destroy(ctx);
}

Test(lowrank, bad_arguments_are_rejected)
{
    lk_context *ctx = lkt_open(LKT_OPENCL);
    lr_case c = {1, 2, 1, 4, 64, 32, 64, 1, 2, 2, 16, 32, 0, LK_F32, 0, 0, 0, 0, LKT_OPENCL};
    lk_lowrank_config cfg = config_of(&c);
    lk_lowrank_cache *cache;
    LKT_OK(ctx, lk_lowrank_cache_create(ctx, &cfg, &cache));
    int64_t qshape[3] = {1, 4, 64}, bad_heads[3] = {1, 3, 64}, ushape[3] = {2, 32, 64}, bad_rank[3] = {2, 16, 64};
    int64_t wshape[2] = {64, 64}, xshape[3] = {1, 1, 64};
    lkt_tensor q = lkt_zeros(ctx, LK_F32, 3, qshape), o = lkt_zeros(ctx, LK_F32, 3, qshape);
    lkt_tensor q3 = lkt_zeros(ctx, LK_F32, 3, bad_heads), o16 = lkt_zeros(ctx, LK_F16, 3, qshape);
    lkt_tensor up = lkt_zeros(ctx, LK_F32, 3, ushape), up_bad = lkt_zeros(ctx, LK_F32, 3, bad_rank);
    lkt_tensor w = lkt_zeros(ctx, LK_F32, 2, wshape), x = lkt_zeros(ctx, LK_F32, 3, xshape);
    lk_decode_params p = lk_decode_params_default();
    cr_expect_eq(lk_lowrank_attention(ctx, cache, &q.t, &up.t, &up.t, NULL, &o.t, &p), LK_ERR_INVALID_ARGUMENT,
                 "empty cache");
    lk_lowrank_cache *bad;
    lk_lowrank_config odd = cfg;
    odd.heads_per_group = 3;
    cr_expect_eq(lk_lowrank_cache_create(ctx, &odd, &bad), LK_ERR_INVALID_ARGUMENT, "3 heads per group of 2");
    odd = cfg;
    odd.head_dim = 96;
    cr_expect_eq(lk_lowrank_cache_create(ctx, &odd, &bad), LK_ERR_UNSUPPORTED, "head_dim 96");
    int64_t wide_x[3] = {1, 1, 80}, long_x[3] = {1, 4, 64};
    lkt_tensor xw = lkt_zeros(ctx, LK_F32, 3, wide_x), xl = lkt_zeros(ctx, LK_F32, 3, long_x);
    lkt_tensor w16 = lkt_zeros(ctx, LK_F16, 2, wshape);
    cr_expect_eq(lk_lowrank_cache_append(ctx, cache, &xw.t, &w.t, &w.t), LK_ERR_SHAPE, "hidden 80");
    cr_expect_eq(lk_lowrank_cache_append(ctx, cache, &x.t, &up.t, &w.t), LK_ERR_SHAPE, "3-d down_k");
    cr_expect_eq(lk_lowrank_cache_append(ctx, cache, &x.t, &w16.t, &w.t), LK_ERR_DTYPE);
    skip_if_unsupported(ctx, lk_lowrank_cache_append(ctx, cache, &x.t, &w.t, &w.t));
    cr_expect_eq(lk_lowrank_cache_append(ctx, cache, &xl.t, &w.t, &w.t), LK_ERR_CAPACITY, "4 tokens, 3 left");
    cr_expect_eq(lk_lowrank_cache_length(cache), 1);
    cr_expect_eq(lk_lowrank_attention(ctx, cache, &q3.t, &up.t, &up.t, NULL, &o.t, &p), LK_ERR_SHAPE);
    cr_expect_eq(lk_lowrank_attention(ctx, cache, &q.t, &up_bad.t, &up.t, NULL, &o.t, &p), LK_ERR_SHAPE);
    cr_expect_eq(lk_lowrank_attention(ctx, cache, &q.t, &up.t, &up.t, NULL, &o16.t, &p), LK_ERR_DTYPE);
    cr_expect_eq(lk_lowrank_attention(ctx, cache, &q.t, &up.t, &up.t, NULL, &q.t, &p), LK_ERR_ALIAS);
    cr_expect_eq(lk_lowrank_attention(ctx, NULL, &q.t, &up.t, &up.t, NULL, &o.t, &p), LK_ERR_NULL_POINTER);
    lk_params tuned = kvt_decode_tunables(1, 128, 64, 0);
    cr_expect_eq(lk_lowrank_attention_run(ctx, cache, &q.t, &up.t, &up.t, NULL, &o.t, &p, &tuned),
                 LK_ERR_INVALID_ARGUMENT, "BLOCK_N 128 with the tiles");
    lk_params_set(&tuned, "BLOCK_N", 32);
    for (int direct = 1; direct <= 4; direct += 3) {
        lk_params_set(&tuned, "DIRECT", direct);
        cr_expect_eq(lk_lowrank_attention_run(ctx, cache, &q.t, &up.t, &up.t, NULL, &o.t, &p, &tuned),
                     LK_ERR_INVALID_ARGUMENT, "DIRECT %d", direct);
        cr_expect(strstr(lk_last_error(ctx), "DIRECT"), "%s", lk_last_error(ctx));
    }
    for (int direct = 2; direct <= 3; direct++) {
        lk_params_set(&tuned, "DIRECT", direct);
        cr_expect_eq(lk_lowrank_attention_run(ctx, cache, &q.t, &up.t, &up.t, NULL, &o.t, &p, &tuned),
                     LK_ERR_UNSUPPORTED, "DIRECT %d, f32 q (and, on a CPU, no tensor cores): %s", direct,
                     lk_last_error(ctx));
    }
    cr_expect_str_empty(lk_last_launch(ctx));
    LKT_OK(ctx, lk_lowrank_attention(ctx, cache, &q.t, &up.t, &up.t, NULL, &o.t, &p));
    lkt_tensor *all[] = {&q, &o, &q3, &o16, &up, &up_bad, &w, &x, &xw, &xl, &w16};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        lkt_free(all[i]);
    lk_lowrank_cache_destroy(cache);
    lk_context_destroy(ctx);
}
