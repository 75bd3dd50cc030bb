/* The sparse KV cache format on every compiled backend: streaming compression against the host
 * reference bit for bit (bitmaps, fp16 parameters, packed words: 2-bit packs 16 codes per word,
 * so any lost write between lanes shows), exactly `keep` survivors per token row, decompression
 * equal to the pruned/dequantized tokens, the validator, and argument errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kv_sparse_ref.h"
#include "kv_sparse_support.h"
#include "ref.h"

typedef struct {
    int B, Hkv, D, keep, kbits, vbits, sinks, window;
    int64_t L;
    int chunk[4];
    lk_dtype dtype;
    lkt_backend backend;
} fmt_case;

/* B Hkv D keep kbits vbits sinks window L dtype chunks... */
#define CASES(X)                                                                  \
    X(1, 2, 128, 39, 16, 16, 0, 0, 200, LK_F32, 200)    /* prefill, no window */    \
    X(1, 1, 64, 64, 2, 2, 4, 16, 150, LK_F16, 1)         /* token by token, full */  \
    X(2, 1, 128, 1, 4, 8, 0, 64, 260, LK_F32, 100, 7, 1) /* empty tiles */         \
    X(1, 2, 256, 77, 8, 2, 3, 5, 270, LK_F16, 64, 1)                                \
    X(1, 1, 128, 39, 2, 4, 0, 32, 96, LK_F32, 95, 1)

#define ROW(b, h, d, k, kb, vb, s, w, l, dt, ...) {b, h, d, k, kb, vb, s, w, l, {__VA_ARGS__}, dt, LKT_OPENCL}, \
    {b, h, d, k, kb, vb, s, w, l, {__VA_ARGS__}, dt, LKT_CUDA},

static lk_kv_sparse_config config_of(const fmt_case *c)
{
    lk_kv_sparse_config cfg = lk_kv_sparse_config_default();
    cfg.batch = c->B;
    cfg.kv_heads = c->Hkv;
    cfg.head_dim = c->D;
    cfg.keep = c->keep;
    cfg.key_bits = c->kbits;
    cfg.value_bits = c->vbits;
    cfg.sinks = c->sinks;
    cfg.window = c->window;
    cfg.capacity = c->L + 10;
    return cfg;
}

/* Image arrays sized for cache c. */
static void image_alloc(const lk_kv_sparse_cache *c, lk_kv_sparse_image *img)
{
    memset(img, 0, sizeof *img);
    lk_kv_sparse_stream_image *s[2] = {&img->k, &img->v};
    for (int i = 0; i < 2; i++) {
        lk_kv_sparse_image_counts n;
        cr_assert_eq(lk_kv_sparse_image_counts_of(c, i == 0, &n), LK_OK);
        s[i]->bitmap = calloc(n.bitmap, 8);
        s[i]->params = n.params ? calloc(n.params, 2) : NULL;
        s[i]->words = calloc(n.words, 4);
        s[i]->offsets = calloc(n.offsets, 4);
        s[i]->dense = calloc(n.dense, 2);
    }
}

static void image_free(lk_kv_sparse_image *img)
{
    lk_kv_sparse_stream_image *s[2] = {&img->k, &img->v};
    for (int i = 0; i < 2; i++) {
        free(s[i]->bitmap);
        free(s[i]->params);
        free(s[i]->words);
        free(s[i]->offsets);
        free(s[i]->dense);
    }
}

/* The stream's compressed blocks against ref_sparse_block, exactly. */
static void expect_stream(const lk_kv_sparse_config *cfg, const lk_kv_sparse_cache *cache,
                          const lk_kv_sparse_stream_image *im, const float *x, int64_t L, int is_key)
{
    int64_t H = (int64_t)cfg->batch * cfg->kv_heads, D = cfg->head_dim, nb = kvs_blocks(cfg, L);
    int bits = is_key ? cfg->key_bits : cfg->value_bits;
    int64_t bw = ref_sparse_block_words(cfg->keep, bits);
    lk_kv_sparse_image_counts n;
    lk_kv_sparse_image_counts_of(cache, is_key, &n);
    int64_t nb_cap = (int64_t)n.offsets / H - 1, head_words = (int64_t)n.words / H;
    uint64_t *bm = malloc(8 * (size_t)D);
    uint16_t *par = malloc(4 * (size_t)D);
    uint32_t *words = malloc(4 * (size_t)bw);
    float *restored = malloc(sizeof(float) * 64 * (size_t)D);
    const char *name = is_key ? "keys" : "values";
    for (int64_t h = 0; h < H; h++) {
        cr_expect_eq(im->offsets[h * (nb_cap + 1)], 0u, "%s head %lld offsets[0]", name, (long long)h);
        for (int64_t i = 0; i < nb; i++) {
            ref_sparse_block(x + (h * L + cfg->sinks + 64 * i) * D, (int)D, cfg->keep, bits, is_key, bm, par, words,
                             restored);
            const uint64_t *gb = im->bitmap + (h * nb_cap + i) * D;
            cr_expect_eq(im->offsets[h * (nb_cap + 1) + i + 1], (uint32_t)((i + 1) * bw), "%s offsets", name);
            for (int64_t t = 0; t < D; t++) {
                cr_expect_eq(gb[t], bm[t], "%s head %lld block %lld tile %lld bitmap %016llx, want %016llx", name,
                             (long long)h, (long long)i, (long long)t, (unsigned long long)gb[t],
                             (unsigned long long)bm[t]);
                if (bits < 16)
                    cr_expect(im->params[2 * ((h * nb_cap + i) * D + t)] == par[2 * t] &&
                                  im->params[2 * ((h * nb_cap + i) * D + t) + 1] == par[2 * t + 1],
                              "%s head %lld block %lld tile %lld params %04x %04x, want %04x %04x", name, (long long)h,
                              (long long)i, (long long)t, im->params[2 * ((h * nb_cap + i) * D + t)],
                              im->params[2 * ((h * nb_cap + i) * D + t) + 1], par[2 * t], par[2 * t + 1]);
            }
            const uint32_t *gw = im->words + h * head_words + i * bw;
            for (int64_t w = 0; w < bw; w++)
                cr_expect_eq(gw[w], words[w], "%s head %lld block %lld word %lld: %08x, want %08x", name, (long long)h,
                             (long long)i, (long long)w, gw[w], words[w]);
            for (int r = 0; r < 64; r++) { /* exactly `keep` survivors in every token row */
                int kept = 0;
                for (int64_t ch = 0; ch < D; ch++)
                    kept += is_key ? (int)((gb[ch] >> r) & 1) : (int)((gb[r * (D / 64) + ch / 64] >> (ch % 64)) & 1);
                cr_expect_eq(kept, cfg->keep, "%s head %lld block %lld token %d keeps %d", name, (long long)h,
                             (long long)i, r, kept);
            }
        }
    }
    free(bm);
    free(par);
    free(words);
    free(restored);
}

ParameterizedTestParameters(kv_sparse, format_matches_reference)
{
    static fmt_case cases[] = {CASES(ROW)};
    return cr_make_param_array(fmt_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(fmt_case *c, kv_sparse, format_matches_reference)
{
    lk_context *ctx = lkt_open(c->backend);
    lkt_rng rng = lkt_rng_make(lkt_seed(), (uint64_t)(c->L * 13 + c->D + c->keep));
    lk_kv_sparse_config cfg = config_of(c);
    int64_t H = (int64_t)c->B * c->Hkv, n = H * c->L * c->D;
    float *k = malloc(sizeof(float) * (size_t)n), *v = malloc(sizeof(float) * (size_t)n);
    kvs_tokens(&rng, k, H, c->L, c->D);
    kvs_tokens(&rng, v, H, c->L, c->D);
    lk_kv_sparse_cache *cache;
    LKT_OK(ctx, lk_kv_sparse_create(ctx, &cfg, &cache));
    kvs_append_chunks(ctx, cache, &cfg, k, v, c->L, c->chunk, c->dtype);
    cr_assert_eq(lk_kv_sparse_length(cache), c->L);

    lk_kv_sparse_image img;
    image_alloc(cache, &img);
    LKT_OK(ctx, lk_kv_sparse_export(ctx, cache, &img));
    expect_stream(&cfg, cache, &img.k, k, c->L, 1);
    expect_stream(&cfg, cache, &img.v, v, c->L, 0);
    LKT_OK(ctx, lk_kv_sparse_validate(ctx, cache));

    /* decompression gives exactly the pruned / dequantized tokens, and no NaN */
    int64_t shape[4] = {c->B, c->Hkv, c->L, c->D};
    lkt_tensor tk = lkt_zeros(ctx, LK_F32, 4, shape), tv = lkt_zeros(ctx, LK_F32, 4, shape);
    LKT_OK(ctx, lk_kv_sparse_decompress(ctx, cache, &tk.t, &tv.t));
    float *got = malloc(sizeof(float) * (size_t)n), *want = malloc(sizeof(float) * (size_t)n);
    for (int s = 0; s < 2; s++) {
        lkt_download(ctx, s ? &tv : &tk, got);
        kvs_restored(&cfg, s ? v : k, c->L, !s, want);
        int64_t bad = 0, first = -1;
        for (int64_t i = 0; i < n; i++)
            if (got[i] != want[i] || isnan(got[i])) {
                bad++;
                first = first < 0 ? i : first;
            }
        cr_expect_eq(bad, 0, "%s: %lld elements differ, first %lld: got %.9g want %.9g", s ? "values" : "keys",
                     (long long)bad, (long long)first, first >= 0 ? got[first] : 0.0, first >= 0 ? want[first] : 0.0);
    }

    lk_kv_sparse_bytes mem;
    cr_assert_eq(lk_kv_sparse_memory(cache, &mem), LK_OK);
    cr_expect_eq(mem.compressed_tokens, 64 * kvs_blocks(&cfg, c->L));
    cr_expect_eq(mem.fp16_bytes, (size_t)(2 * n * 2));

    image_free(&img);
    free(k); free(v); free(got); free(want);
    lkt_free(&tk); lkt_free(&tv);
    lk_kv_sparse_destroy(cache);
    lk_context_destroy(ctx);
}

/* Corrupted images are refused with LK_ERR_CORRUPT_DATA and leave the cache as it was. */
LKT_EACH_BACKEND(b, kv_sparse, validator_rejects_corruption)
{
    lk_context *ctx = lkt_open(*b);
    fmt_case fc = {1, 2, 64, 20, 2, 4, 2, 8, 200, {200}, LK_F32, *b};
    lk_kv_sparse_config cfg = config_of(&fc);
    lkt_rng rng = lkt_rng_make(lkt_seed(), 5);
    int64_t H = 2, n = H * fc.L * fc.D;
    float *k = malloc(sizeof(float) * (size_t)n), *v = malloc(sizeof(float) * (size_t)n);
    kvs_tokens(&rng, k, H, fc.L, fc.D);
    kvs_tokens(&rng, v, H, fc.L, fc.D);
    lk_kv_sparse_cache *cache;
    LKT_OK(ctx, lk_kv_sparse_create(ctx, &cfg, &cache));
    kvs_append_chunks(ctx, cache, &cfg, k, v, fc.L, fc.chunk, fc.dtype);
    lk_kv_sparse_image good, bad;
    image_alloc(cache, &good);
    image_alloc(cache, &bad);
    LKT_OK(ctx, lk_kv_sparse_export(ctx, cache, &good));
    lk_kv_sparse_image_counts nk, nv;
    lk_kv_sparse_image_counts_of(cache, 1, &nk);
    lk_kv_sparse_image_counts_of(cache, 0, &nv);
    int64_t nb_cap = (int64_t)nk.offsets / H - 1;

    enum { OFF0, OFF_MONO, OFF_RANGE, OFF_COUNT, BIT_FLIP, BIT_MOVE, SCALE_NAN, SCALE_NEG, LENGTH, NCORRUPT };
    for (int kind = 0; kind < NCORRUPT; kind++) {
        lk_kv_sparse_stream_image *s[2] = {&bad.k, &bad.v}, *g[2] = {&good.k, &good.v};
        lk_kv_sparse_image_counts *cnt[2] = {&nk, &nv};
        for (int i = 0; i < 2; i++) {
            memcpy(s[i]->bitmap, g[i]->bitmap, cnt[i]->bitmap * 8);
            memcpy(s[i]->params, g[i]->params, cnt[i]->params * 2);
            memcpy(s[i]->words, g[i]->words, cnt[i]->words * 4);
            memcpy(s[i]->offsets, g[i]->offsets, cnt[i]->offsets * 4);
            memcpy(s[i]->dense, g[i]->dense, cnt[i]->dense * 2);
        }
        bad.length = good.length;
        uint32_t *off = bad.v.offsets + (nb_cap + 1); /* head 1 of the values */
        switch (kind) {
        case OFF0: bad.k.offsets[0] = 4; break;
        case OFF_MONO: off[2] = off[1] - 1; break;
        case OFF_RANGE: off[2] = 0xfffffff0u; break;
        case OFF_COUNT: off[1] += 1; off[2] += 1; break;
        case BIT_FLIP: bad.k.bitmap[1 * 64 + 7] ^= 1ull << 9; break;          /* token 9 of block 1 keeps one more */
        case BIT_MOVE: bad.v.bitmap[64 + 5] ^= 3ull << 1; break;              /* token 2's survivors move */
        case SCALE_NAN: bad.k.params[2 * 70 + 1] = 0x7e00; break;
        case SCALE_NEG: bad.v.params[2 * 3 + 1] = 0xbc00; break;
        case LENGTH: bad.length = cfg.capacity + 1; break;
        }
        lk_status st = lk_kv_sparse_import(ctx, cache, &bad);
        cr_expect_eq(st, LK_ERR_CORRUPT_DATA, "corruption %d: got %s (%s)", kind, lk_status_str(st), lk_last_error(ctx));
        cr_log_info("corruption %d: %s", kind, lk_last_error(ctx));
    }
    /* the cache still holds the good data */
    LKT_OK(ctx, lk_kv_sparse_validate(ctx, cache));
    LKT_OK(ctx, lk_kv_sparse_export(ctx, cache, &bad));
    cr_expect(memcmp(bad.k.words, good.k.words, nk.words * 4) == 0 && bad.length == good.length);
    LKT_OK(ctx, lk_kv_sparse_import(ctx, cache, &good));
    image_free(&good);
    image_free(&bad);
    free(k);
    free(v);
    lk_kv_sparse_destroy(cache);
    lk_context_destroy(ctx);
}

LKT_EACH_BACKEND(b, kv_sparse, rejects_bad_arguments)
{
    lk_context *ctx = lkt_open(*b);
    lk_kv_sparse_cache *cache = NULL;
    lk_kv_sparse_config cfg = lk_kv_sparse_config_default(), bad;
    int32_t perm[128];
    for (int i = 0; i < 128; i++)
        perm[i] = i;
    perm[7] = 3; /* not a permutation */
    struct { int field; lk_status want; } cases[] = {{0, LK_ERR_UNSUPPORTED}, {1, LK_ERR_INVALID_ARGUMENT},
                                                    {2, LK_ERR_INVALID_ARGUMENT}, {3, LK_ERR_INVALID_ARGUMENT},
                                                    {4, LK_ERR_INVALID_ARGUMENT}, {5, LK_ERR_INVALID_ARGUMENT}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bad = cfg;
        switch (cases[i].field) {
        case 0: bad.head_dim = 96; break;
        case 1: bad.keep = 0; break;
        case 2: bad.key_bits = 3; break;
        case 3: bad.rotate_group = 1; bad.rotate_perm = perm; break;
        case 4: bad.rotate_perm = perm; break;
        case 5: bad.capacity = 0; break;
        }
        lk_status st = lk_kv_sparse_create(ctx, &bad, &cache);
        cr_expect_eq(st, cases[i].want, "config %d: got %s (%s)", cases[i].field, lk_status_str(st), lk_last_error(ctx));
        cr_expect_null(cache);
    }
    cfg.capacity = 10;
    cfg.head_dim = 64;
    LKT_OK(ctx, lk_kv_sparse_create(ctx, &cfg, &cache));
    int64_t s11[4] = {1, 1, 11, 64}, s2[4] = {1, 2, 4, 64};
    lkt_tensor t11 = lkt_zeros(ctx, LK_F32, 4, s11), t2 = lkt_zeros(ctx, LK_F32, 4, s2);
    cr_expect_eq(lk_kv_sparse_append(ctx, cache, &t11.t, &t11.t), LK_ERR_CAPACITY);
    cr_expect_eq(lk_kv_sparse_append(ctx, cache, &t2.t, &t2.t), LK_ERR_SHAPE);
    cr_expect_eq(lk_kv_sparse_length(cache), 0);
    int64_t q[3] = {1, 1, 64};
    lkt_tensor tq = lkt_zeros(ctx, LK_F32, 3, q), to = lkt_zeros(ctx, LK_F32, 3, q);
    lk_decode_params p = lk_decode_params_default();
    cr_expect_eq(lk_attention_decode_sparse(ctx, &tq.t, cache, &to.t, NULL, &p), LK_ERR_INVALID_ARGUMENT, "empty cache");
    cr_expect_eq(lk_attention_decode_sparse(ctx, &tq.t, NULL, &to.t, NULL, &p), LK_ERR_NULL_POINTER);
    cr_expect_str_empty(lk_last_launch(ctx));
    lkt_free(&t11); lkt_free(&t2); lkt_free(&tq); lkt_free(&to);
    lk_kv_sparse_destroy(cache);
    lk_context_destroy(ctx);
}
