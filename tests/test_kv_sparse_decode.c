/* lk_attention_decode_sparse against ref_attention_fwd (Sq = 1) on the tokens the cache
 * restores, on every compiled backend: GQA, sinks, the dense window, contexts that are not a
 * multiple of 64, 16/8/4/2-bit survivors, the RotateKV key path (stored rotated keys ->
 * inverse Hadamard -> RoPE) both fused and two-stage, both tile loaders (LOADER 0 walks a
 * tile's bitmap, 1 ranks each element) and the direct reads of plain caches (DIRECT 1: runs of
 * 4, 8 and 2 tokens against QG 4, 1 and 8; fewer work-items than runs (WG 8); D 256's four
 * value tiles per row; full tiles, keep = D) and on tensor cores (DIRECT 2, and 3 on the tiles
 * of either loader: NVIDIA cc 8+ only, else skipped with the reason; also run on host threads by
 * test_kv_sparse_mma_emu; QG 16 runs DIRECT 2's tiles with DIRECT 1 on every device). The
 * reference takes the cache's own decompression (checked bit-exact in test_kv_sparse.c), rotates keys back with ref_hadamard
 * and lets ref_attention_fwd apply RoPE. Tolerance (harness.h's relative error): 1e-5 f32
 * (1e-4 with rotation: a 512-term fp32 transform), 2e-3 f16. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv_sparse_ref.h"
#include "kv_sparse_support.h"
#include "ref.h"

typedef struct {
    int B, Hkv, QG, D, keep, kbits, vbits, sinks, window;
    int64_t L;
    int G, perm, rope, variant; /* variant -1: the database / defaults */
    lk_dtype dtype;
    char tunables[64];
    lkt_backend backend;
} dec_case;

/* B Hkv QG D keep kbits vbits sinks window L G perm rope variant dtype tunables */
#define CASES(X)                                                                                          \
    X(1, 2, 4, 128, 39, 16, 16, 0, 32, 300, 0, 0, 0, -1, LK_F32, "")                                        \
    X(2, 1, 1, 64, 20, 2, 2, 3, 0, 200, 0, 0, 0, -1, LK_F16, "SPLITS=7,BLOCK_N=8,WG=32,LOADER=1")           \
    X(1, 4, 2, 128, 60, 8, 4, 5, 16, 157, 0, 0, 1, 0, LK_F32, "SPLITS=3,BLOCK_N=16,WG=64")                  \
    X(1, 4, 2, 128, 39, 16, 2, 2, 8, 222, 4, 1, 1, 0, LK_F32, "SPLITS=5,BLOCK_N=4,WG=64,LOADER=1")          \
    X(1, 4, 2, 128, 39, 16, 2, 2, 8, 222, 4, 1, 1, 1, LK_F32, "SPLITS=5,BLOCK_N=16,WG=64,LOADER=1")         \
    X(1, 2, 8, 256, 100, 4, 16, 0, 64, 140, 2, 0, 0, 0, LK_F16, "SPLITS=2,BLOCK_N=2,WG=128,LOADER=1")       \
    X(1, 2, 3, 64, 64, 2, 8, 1, 1, 70, 2, 1, 1, 1, LK_F16, "")                                             \
    X(1, 2, 4, 128, 39, 16, 16, 0, 32, 300, 0, 0, 0, -1, LK_F16, "SPLITS=3,BLOCK_N=64,WG=128,DIRECT=1")     \
    X(2, 1, 1, 64, 20, 2, 2, 3, 0, 200, 0, 0, 0, -1, LK_F32, "SPLITS=7,BLOCK_N=8,WG=32,DIRECT=1")           \
    X(1, 2, 8, 256, 100, 4, 8, 5, 16, 157, 0, 0, 0, -1, LK_F32, "SPLITS=2,BLOCK_N=32,WG=8,DIRECT=1")        \
    X(1, 4, 3, 64, 64, 8, 2, 1, 1, 70, 0, 0, 0, -1, LK_F16, "SPLITS=1,BLOCK_N=16,WG=64,DIRECT=1")         \
    X(1, 2, 4, 128, 39, 16, 16, 0, 32, 300, 0, 0, 0, -1, LK_F16, "SPLITS=3,BLOCK_N=64,WG=128,DIRECT=2")     \
    X(2, 1, 8, 64, 20, 2, 2, 3, 0, 200, 0, 0, 0, -1, LK_F16, "SPLITS=7,BLOCK_N=32,WG=128,DIRECT=2")         \
    X(1, 2, 2, 256, 100, 4, 8, 5, 16, 157, 0, 0, 0, -1, LK_F16, "SPLITS=2,BLOCK_N=16,WG=64,DIRECT=2")       \
    X(1, 1, 16, 64, 30, 16, 2, 1, 1, 70, 0, 0, 0, -1, LK_F16, "SPLITS=1,BLOCK_N=16,WG=64,DIRECT=2")         \
    X(1, 2, 4, 128, 39, 16, 16, 0, 32, 300, 0, 0, 0, -1, LK_F16, "SPLITS=3,BLOCK_N=32,WG=64,DIRECT=3")      \
    X(2, 1, 8, 64, 20, 2, 2, 3, 0, 200, 0, 0, 0, -1, LK_F16, "SPLITS=7,BLOCK_N=32,WG=64,DIRECT=3,LOADER=1") \
    X(1, 2, 2, 256, 100, 4, 8, 5, 16, 157, 0, 0, 0, -1, LK_F16, "SPLITS=2,BLOCK_N=16,WG=32,DIRECT=3")

#define ROW(b, h, qg, d, k, kb, vb, s, w, l, g, pm, rp, var, dt, tun)                                    \
    {b, h, qg, d, k, kb, vb, s, w, l, g, pm, rp, var, dt, tun, LKT_OPENCL},                              \
        {b, h, qg, d, k, kb, vb, s, w, l, g, pm, rp, var, dt, tun, LKT_CUDA},

ParameterizedTestParameters(kv_sparse_decode, matches_reference)
{
    static dec_case cases[] = {CASES(ROW)};
    return cr_make_param_array(dec_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(dec_case *c, kv_sparse_decode, matches_reference)
{
    lk_context *ctx = lkt_open(c->backend);
    const char *asked = strstr(c->tunables, "DIRECT=");
    const int direct = !asked ? 0 : asked[7] >= '2' && c->QG > 8 ? 1 : asked[7] - '0'; /* what runs */
    if (direct >= 2)
        lkt_require_tensor_cores(ctx);
    lkt_rng rng = lkt_rng_make(lkt_seed(), (uint64_t)(c->L * 3 + c->D + c->G * 11 + c->variant));
    int64_t H = (int64_t)c->B * c->Hkv, Hq = (int64_t)c->Hkv * c->QG, n = H * c->L * c->D;
    int32_t perm[1024];
    for (int i = 0; i < c->G * c->D; i++)
        perm[i] = (int32_t)(((int64_t)i * 301 + 7) % (c->G * c->D));
    lk_rope_params rope = lk_rope_params_default();
    rope.position_offset = 3;
    lk_kv_sparse_config cfg = lk_kv_sparse_config_default();
    cfg.batch = c->B;
    cfg.kv_heads = c->Hkv;
    cfg.head_dim = c->D;
    cfg.keep = c->keep;
    cfg.key_bits = c->kbits;
    cfg.value_bits = c->vbits;
    cfg.sinks = c->sinks;
    cfg.window = c->window;
    cfg.capacity = c->L;
    cfg.rotate_group = c->G;
    cfg.rotate_perm = c->perm ? perm : NULL;
    cfg.rope = c->rope ? &rope : NULL;

    float *k = malloc(sizeof(float) * (size_t)n), *v = malloc(sizeof(float) * (size_t)n);
    kvs_tokens(&rng, k, H, c->L, c->D);
    kvs_tokens(&rng, v, H, c->L, c->D);
    lk_kv_sparse_cache *cache;
    LKT_OK(ctx, lk_kv_sparse_create(ctx, &cfg, &cache));
    static const int chunks[] = {97, 1, 0};
    kvs_append_chunks(ctx, cache, &cfg, k, v, c->L, chunks, c->dtype);

    size_t nq = (size_t)(c->B * Hq * c->D), nl = (size_t)(c->B * Hq);
    float *q = malloc(nq * 4), *o = malloc(nq * 4), *lse = malloc(nl * 4);
    lkt_fill(&rng, q, nq);
    int64_t qs[4] = {c->B, Hq, 1, c->D}, ls[2] = {c->B, Hq};
    lkt_tensor tq = lkt_upload(ctx, c->dtype, LKT_PADDED, qs, q), to = lkt_upload(ctx, c->dtype, LKT_BSHD, qs, o);
    lkt_tensor tl = lkt_zeros(ctx, LK_F32, 2, ls);
    if (c->tunables[0] || c->variant >= 0) {
        char over[96];
        snprintf(over, sizeof over, "%s%sVARIANT=%d", c->tunables, c->tunables[0] ? "," : "", c->variant < 0 ? 0 : c->variant);
        LKT_OK(ctx, lk_tuning_override(ctx, "kv_sparse", c->dtype, c->D, 0, 0, over));
    }
    lk_decode_params p = lk_decode_params_default();
    LKT_OK(ctx, lk_attention_decode_sparse(ctx, &tq.t, cache, &to.t, &tl.t, &p));
    cr_log_info("%s: %s", lkt_backend_name(c->backend), lk_last_launch(ctx));
    if (c->variant >= 0) {
        char want[24];
        snprintf(want, sizeof want, "VARIANT=%d", c->G > 0 || c->rope ? c->variant : 0);
        cr_expect(strstr(lk_last_launch(ctx), want) != NULL, "override did not reach the launch: %s", lk_last_launch(ctx));
    }
    const char *loader = strstr(c->tunables, "LOADER=1") ? "LOADER=1" : "LOADER=0";
    char want_direct[16];
    snprintf(want_direct, sizeof want_direct, "DIRECT=%d", direct);
    cr_expect(strstr(lk_last_launch(ctx), loader) != NULL, "%s did not reach the launch: %s", loader, lk_last_launch(ctx));
    cr_expect(strstr(lk_last_launch(ctx), want_direct) != NULL, "%s did not reach the launch: %s", want_direct,
              lk_last_launch(ctx));
    lkt_download(ctx, &to, o);
    lkt_download(ctx, &tl, lse);

    /* reference on the cache's own restoration */
    int64_t shape[4] = {c->B, c->Hkv, c->L, c->D};
    lkt_tensor tk = lkt_zeros(ctx, LK_F32, 4, shape), tv = lkt_zeros(ctx, LK_F32, 4, shape);
    LKT_OK(ctx, lk_kv_sparse_decompress(ctx, cache, &tk.t, &tv.t));
    lkt_download(ctx, &tk, k);
    lkt_download(ctx, &tv, v);
    if (c->G > 0) {
        double *kd = malloc(sizeof(double) * (size_t)n), *kr = malloc(sizeof(double) * (size_t)n);
        for (int64_t i = 0; i < n; i++)
            kd[i] = k[i];
        ref_hadamard(kd, kr, c->B, c->Hkv, c->L, c->D, c->G, cfg.rotate_perm, 1);
        for (int64_t i = 0; i < n; i++)
            k[i] = (float)kr[i];
        free(kd);
        free(kr);
    }
    double *ro = malloc(nq * sizeof(double)), *rl = malloc(nl * sizeof(double));
    ref_attention_args ra = {c->B, Hq, c->Hkv, 1, c->L, c->D, 0, 0.0, c->rope ? &rope : NULL, NULL, NULL};
    ref_attention_fwd(&ra, q, k, v, ro, rl);
    double tol = c->dtype == LK_F16 ? LKT_TOL_F16 : c->G > 0 ? 1e-4 : LKT_TOL_F32;
    lkt_expect_close("o", o, ro, nq, tol);
    lkt_expect_close("lse", lse, rl, nl, tol);

    free(k); free(v); free(q); free(o); free(lse); free(ro); free(rl);
    lkt_free(&tq); lkt_free(&to); lkt_free(&tl); lkt_free(&tk); lkt_free(&tv);
    lk_kv_sparse_destroy(cache);
    lk_context_destroy(ctx);
}

/* DIRECT reads plain caches only, and takes 0, 1, 2 or 3. */
Test(kv_sparse_decode, direct_needs_a_plain_cache)
{
    lk_context *ctx = lkt_open(LKT_OPENCL);
    lkt_rng rng = lkt_rng_make(lkt_seed(), 5);
    lk_kv_sparse_config cfg = lk_kv_sparse_config_default();
    cfg.kv_heads = 2;
    cfg.head_dim = 64;
    cfg.keep = 20;
    cfg.capacity = 70;
    cfg.rotate_group = 2;
    float k[2 * 70 * 64], v[2 * 70 * 64];
    kvs_tokens(&rng, k, 2, 70, 64);
    kvs_tokens(&rng, v, 2, 70, 64);
    lk_kv_sparse_cache *cache;
    LKT_OK(ctx, lk_kv_sparse_create(ctx, &cfg, &cache));
    static const int chunks[] = {70, 0};
    kvs_append_chunks(ctx, cache, &cfg, k, v, 70, chunks, LK_F32);
    int64_t qs[3] = {1, 2, 64};
    lkt_tensor q = lkt_zeros(ctx, LK_F32, 3, qs), o = lkt_zeros(ctx, LK_F32, 3, qs);
    lk_decode_params p = lk_decode_params_default();
    LKT_OK(ctx, lk_tuning_override(ctx, "kv_sparse", LK_F32, 64, 0, 0, "SPLITS=1,BLOCK_N=16,WG=64,DIRECT=1"));
    cr_expect_eq(lk_attention_decode_sparse(ctx, &q.t, cache, &o.t, NULL, &p), LK_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(lk_last_error(ctx), "DIRECT") != NULL, "%s", lk_last_error(ctx));
    LKT_OK(ctx, lk_tuning_override(ctx, "kv_sparse", LK_F32, 64, 0, 0, "SPLITS=1,BLOCK_N=16,WG=64,DIRECT=2"));
    cr_expect_eq(lk_attention_decode_sparse(ctx, &q.t, cache, &o.t, NULL, &p), LK_ERR_INVALID_ARGUMENT);
    LKT_OK(ctx, lk_tuning_override(ctx, "kv_sparse", LK_F32, 64, 0, 0, "SPLITS=1,BLOCK_N=16,WG=64,DIRECT=3"));
    cr_expect_eq(lk_attention_decode_sparse(ctx, &q.t, cache, &o.t, NULL, &p), LK_ERR_INVALID_ARGUMENT);
    LKT_OK(ctx, lk_tuning_override(ctx, "kv_sparse", LK_F32, 64, 0, 0, "SPLITS=1,BLOCK_N=16,WG=64,DIRECT=4"));
    cr_expect_eq(lk_attention_decode_sparse(ctx, &q.t, cache, &o.t, NULL, &p), LK_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(lk_last_error(ctx), "DIRECT 4") != NULL, "%s", lk_last_error(ctx));
    LKT_OK(ctx, lk_tuning_override(ctx, "kv_sparse", LK_F32, 64, 0, 0, "SPLITS=1,BLOCK_N=16,WG=64,DIRECT=0"));
    LKT_OK(ctx, lk_attention_decode_sparse(ctx, &q.t, cache, &o.t, NULL, &p));
    lkt_free(&q);
    lkt_free(&o);
    lk_kv_sparse_destroy(cache);
    lk_context_destroy(ctx);
}
