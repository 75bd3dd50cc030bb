/* Test helpers of the quantized caches (see kivi_support.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kivi_support.h"
#include "ops/kivi_cache.h"
#include "ref.h"

void kvt_fill(lkt_rng *rng, float *x, int64_t BH, int64_t n, int64_t D, int is_key)
{
    size_t i = 0;
    for (int64_t bh = 0; bh < BH; bh++)
        for (int64_t t = 0; t < n; t++)
            for (int64_t d = 0; d < D; d++, i++) {
                float u = lkt_uniform(rng);
                if (i % 7 == 0)
                    u = (float)(int)(u * 8.0f) / 8.0f;
                if ((is_key && d == 1) || (!is_key && t == 2))
                    u = 0.375f;
                x[i] = u;
            }
}

/* Rows [t0, t0 + S) of x [BH, n, D]. */
static float *slice(const float *x, int64_t BH, int64_t n, int64_t D, int64_t t0, int64_t S)
{
    float *out = malloc((size_t)(BH * S * D) * sizeof *out);
    for (int64_t bh = 0; bh < BH; bh++)
        memcpy(out + bh * S * D, x + (bh * n + t0) * D, (size_t)(S * D) * sizeof *out);
    return out;
}

void kvt_append(lk_context *ctx, lk_kivi_cache *cache, int64_t B, int64_t H, int64_t n, int64_t D, const float *k,
                const float *v, lk_dtype dtype, lkt_layout layout, const int *pieces)
{
    int64_t t0 = 0;
    for (int p = 0; t0 < n; p += pieces[p + 1] != 0) {
        int64_t S = pieces[p] < n - t0 ? pieces[p] : n - t0;
        float *ks = slice(k, B * H, n, D, t0, S), *vs = slice(v, B * H, n, D, t0, S);
        int64_t shape[4] = {B, H, S, D};
        lkt_tensor tk = lkt_upload(ctx, dtype, layout, shape, ks), tv = lkt_upload(ctx, dtype, layout, shape, vs);
        LKT_OK(ctx, lk_kivi_cache_append(ctx, cache, &tk.t, &tv.t));
        lkt_free(&tk);
        lkt_free(&tv);
        free(ks);
        free(vs);
        t0 += S;
    }
    cr_assert_eq(lk_kivi_cache_length(cache), n);
}

ref_kivi_shape kvt_shape(const lk_kivi_cache *c)
{
    ref_kivi_shape s = {c->cfg.batch * c->cfg.kv_heads, c->cfg.head_dim, c->cap, c->cfg.group, c->cfg.residual,
                        c->cfg.k_bits, c->cfg.v_bits};
    return s;
}

static void *read_all(lk_context *ctx, const lk_buffer *buf)
{
    void *host = malloc(lk_buffer_size(buf));
    LKT_OK(ctx, lk_buffer_read(ctx, buf, 0, host, lk_buffer_size(buf)));
    return host;
}

/* Counts mismatches of a packed-code region and of a (scale, min) region. */
static int64_t diff_words(const uint32_t *got, const uint32_t *want, int64_t n)
{
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++)
        bad += got[i] != want[i];
    return bad;
}

static int64_t diff_params(const uint16_t *got, const float *want, int64_t pairs)
{
    int64_t bad = 0;
    for (int64_t i = 0; i < 2 * pairs; i++)
        bad += ref_h2f(got[i]) != want[i];
    return bad;
}

void kvt_expect_state(lk_context *ctx, const lk_kivi_cache *c, const float *k, const float *v)
{
    ref_kivi_shape s = kvt_shape(c);
    int64_t n = c->length, D = s.D, G = s.G, R = s.R;
    int64_t nk = ref_kivi_quantized_keys(&s, n), nv = ref_kivi_quantized_values(&s, n);
    int64_t kw = lk_kivi_k_words(c) / D, vw = D / (32 / s.v_bits);
    uint32_t *kc = calloc((size_t)(s.BH * D * kw), 4), *vc = calloc((size_t)(s.BH * s.cap * vw), 4);
    float *kp = calloc((size_t)(s.BH * D * (s.cap / G) * 2), 4), *vp = calloc((size_t)(s.BH * s.cap * (D / G) * 2), 4);
    ref_kivi_quantize(&s, n, k, v, kc, kp, vc, vp, NULL, NULL);
    uint32_t *gkc = read_all(ctx, c->k_codes), *gvc = read_all(ctx, c->v_codes);
    uint16_t *gkp = read_all(ctx, c->k_params), *gvp = read_all(ctx, c->v_params);
    uint16_t *gkr = read_all(ctx, c->k_res), *gvr = read_all(ctx, c->v_res);
    int64_t bad_codes = 0, bad_params = 0, bad_res = 0;
    for (int64_t bh = 0; bh < s.BH; bh++) {
        for (int64_t d = 0; d < D; d++) {
            int64_t row = bh * D + d;
            bad_codes += diff_words(gkc + row * kw, kc + row * kw, nk / (32 / s.k_bits));
            bad_params += diff_params(gkp + row * (s.cap / G) * 2, kp + row * (s.cap / G) * 2, nk / G);
        }
        bad_codes += diff_words(gvc + bh * s.cap * vw, vc + bh * s.cap * vw, nv * vw);
        bad_params += diff_params(gvp + bh * s.cap * (D / G) * 2, vp + bh * s.cap * (D / G) * 2, nv * (D / G));
        for (int64_t t = nk < nv ? nk : nv; t < n; t++)
            for (int64_t d = 0; d < D; d++) {
                float want_k = ref_h2f(ref_f2h(k[(bh * n + t) * D + d]));
                float want_v = ref_h2f(ref_f2h(v[(bh * n + t) * D + d]));
                size_t slot = (size_t)((bh * R + t % R) * D + d);
                bad_res += (t >= nk && ref_h2f(gkr[slot]) != want_k) + (t >= nv && ref_h2f(gvr[slot]) != want_v);
            }
    }
    cr_expect_eq(bad_codes, 0, "%lld packed code words differ (n %lld, seed %llu)", (long long)bad_codes,
                 (long long)n, (unsigned long long)lkt_seed());
    cr_expect_eq(bad_params, 0, "%lld scale/min values differ", (long long)bad_params);
    cr_expect_eq(bad_res, 0, "%lld residual values differ", (long long)bad_res);
    void *all[] = {kc, vc, kp, vp, gkc, gvc, gkp, gvp, gkr, gvr};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
}

lk_params kvt_decode_tunables(int splits, int block_n, int wg, int direct)
{
    lk_params p = {0};
    lk_params_set(&p, "SPLITS", splits);
    lk_params_set(&p, "BLOCK_N", block_n);
    lk_params_set(&p, "WG", wg);
    lk_params_set(&p, "DIRECT", direct);
    return p;
}

void kvt_expect_direct(lk_context *ctx, int direct)
{
    char want[16];
    snprintf(want, sizeof want, "DIRECT=%d", direct);
    cr_expect(strstr(lk_last_launch(ctx), want), "launched: %s (want %s)", lk_last_launch(ctx), want);
}
