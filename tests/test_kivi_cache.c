/* The KIVI cache object on every compiled backend: after appends in any schedule the cache
 * holds exactly the codes, fp16 parameters and residual tokens of ref_kivi_quantize (so a
 * streaming cache equals a one-shot one), constant groups give finite values, odd lengths work,
 * and appending past the capacity is an error that changes nothing. */
#include <math.h>
#include <stdlib.h>

#include "kivi_support.h"

typedef struct {
    int64_t B, H, D, n;
    int k_bits, v_bits, G, R;
    lk_dtype dtype;
    lkt_layout layout;
    int pieces[6]; /* append lengths, the last repeated */
    lkt_backend backend;
} cache_case;

/* B H D n kb vb G R dtype layout pieces */
#define CASES(X)                                                                                 \
    X(1, 2, 64, 77, 2, 2, 32, 32, LK_F32, LKT_CONTIGUOUS, ONE_SHOT_)                              \
    X(1, 2, 64, 77, 2, 2, 32, 32, LK_F32, LKT_BSHD, STREAM_A)                                     \
    X(2, 1, 128, 301, 4, 2, 32, 64, LK_F16, LKT_PADDED, STREAM_B)                                 \
    X(1, 3, 64, 150, 8, 4, 16, 48, LK_F32, LKT_CONTIGUOUS, STREAM_C)                              \
    X(1, 1, 128, 19, 2, 8, 32, 32, LK_F16, LKT_CONTIGUOUS, STREAM_A) /* shorter than R */         \
    X(1, 2, 256, 200, 2, 2, 128, 128, LK_F32, LKT_BSHD, STREAM_C)

#define ONE_SHOT_ {1 << 30}
#define STREAM_A {13, 1}              /* a prefill, then decode steps */
#define STREAM_B {100, 1, 1, 1, 37, 5}
#define STREAM_C {1, 63, 2, 1}

#define ROW(b, h, d, n, kb, vb, g, r, dt, lay, pc)                                                           \
    {b, h, d, n, kb, vb, g, r, dt, lay, pc, LKT_OPENCL}, {b, h, d, n, kb, vb, g, r, dt, lay, pc, LKT_CUDA},

ParameterizedTestParameters(kivi_cache, matches_reference)
{
    static cache_case cases[] = {CASES(ROW)};
    return cr_make_param_array(cache_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(cache_case *c, kivi_cache, matches_reference)
{
    lk_context *ctx = lkt_open(c->backend);
    lkt_rng rng = lkt_rng_make(lkt_seed(), (uint64_t)(c->n * 31 + c->D + c->G));
    size_t count = (size_t)(c->B * c->H * c->n * c->D);
    float *k = malloc(count * 4), *v = malloc(count * 4);
    kvt_fill(&rng, k, c->B * c->H, c->n, c->D, 1);
    kvt_fill(&rng, v, c->B * c->H, c->n, c->D, 0);
    lk_kivi_config cfg = {c->B, c->H, c->D, c->k_bits, c->v_bits, c->G, c->R, c->n + 5};
    lk_kivi_cache *cache;
    LKT_OK(ctx, lk_kivi_cache_create(ctx, &cfg, &cache));
    kvt_append(ctx, cache, c->B, c->H, c->n, c->D, k, v, c->dtype, c->layout, c->pieces);
    kvt_expect_state(ctx, cache, k, v);

    lk_kivi_memory mem;
    LKT_OK(ctx, lk_kivi_cache_memory(cache, &mem));
    cr_expect_eq(mem.length, c->n);
    cr_expect(mem.bits_per_element > 0 && isfinite(mem.bits_per_element));
    lk_kivi_cache_destroy(cache);
    free(k);
    free(v);
    lk_context_destroy(ctx);
}

/* Constant groups (scale 0) dequantize to their value, not NaN; checked through the ref model,
 * which the device state equals bit for bit (test above). */
Test(kivi_cache, constant_groups_are_finite)
{
    ref_kivi_shape s = {1, 64, 128, 32, 32, 2, 2};
    int64_t n = 100;
    float *k = calloc((size_t)(n * 64), 4), *v = calloc((size_t)(n * 64), 4), *kh = malloc((size_t)(n * 64) * 4),
          *vh = malloc((size_t)(n * 64) * 4);
    for (int64_t i = 0; i < n * 64; i++)
        k[i] = v[i] = 0.75f;
    ref_kivi_quantize(&s, n, k, v, NULL, NULL, NULL, NULL, kh, vh);
    for (int64_t i = 0; i < n * 64; i++) {
        cr_assert(kh[i] == 0.75f && vh[i] == 0.75f, "element %lld: %g %g", (long long)i, kh[i], vh[i]);
    }
    free(k);
    free(v);
    free(kh);
    free(vh);
}

LKT_EACH_BACKEND(b, kivi_cache, capacity_overflow_is_an_error)
{
    lk_context *ctx = lkt_open(*b);
    lk_kivi_config cfg = lk_kivi_config_default(1, 2, 64, 40);
    cfg.residual = 32;
    lk_kivi_cache *cache;
    LKT_OK(ctx, lk_kivi_cache_create(ctx, &cfg, &cache));
    lkt_rng rng = lkt_rng_make(lkt_seed(), 5);
    float k[2 * 41 * 64], v[2 * 41 * 64];
    lkt_fill(&rng, k, sizeof k / 4);
    lkt_fill(&rng, v, sizeof v / 4);
    int fill[] = {38, 0};
    kvt_append(ctx, cache, 1, 2, 38, 64, k, v, LK_F32, LKT_CONTIGUOUS, fill);
    int64_t shape[4] = {1, 2, 3, 64};
    lkt_tensor tk = lkt_upload(ctx, LK_F32, LKT_CONTIGUOUS, shape, k), tv = lkt_upload(ctx, LK_F32, LKT_CONTIGUOUS, shape, v);
    cr_expect_eq(lk_kivi_cache_append(ctx, cache, &tk.t, &tv.t), LK_ERR_CAPACITY, "%s", lk_last_error(ctx));
    cr_expect_eq(lk_kivi_cache_length(cache), 38);
    cr_expect_str_empty(lk_last_launch(ctx));
    lkt_free(&tk);
    lkt_free(&tv);
    lk_kivi_cache_destroy(cache);
    lk_context_destroy(ctx);
}

Test(kivi_cache, bad_configs_are_rejected)
{
    lk_context *ctx = lkt_open(LKT_OPENCL);
    lk_kivi_cache *cache = (lk_kivi_cache *)1;
    lk_kivi_config good = lk_kivi_config_default(1, 2, 128, 100), cfg;
    struct { int field, value; lk_status want; } bad[] = {
        {0, 3, LK_ERR_INVALID_ARGUMENT},  /* k_bits 3 */
        {1, 8, LK_ERR_INVALID_ARGUMENT},  /* group 8 < 16 codes per 2-bit word */
        {1, 24, LK_ERR_INVALID_ARGUMENT}, /* group not a multiple of 16 */
        {1, 256, LK_ERR_UNSUPPORTED},     /* group does not divide head_dim */
        {2, 40, LK_ERR_INVALID_ARGUMENT}, /* residual not a multiple of group */
        {3, 0, LK_ERR_INVALID_ARGUMENT},  /* capacity 0 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cfg = good;
        int *f[] = {&cfg.k_bits, &cfg.group, &cfg.residual, NULL};
        if (bad[i].field == 3)
            cfg.capacity = bad[i].value;
        else
            *f[bad[i].field] = bad[i].value;
        cr_expect_eq(lk_kivi_cache_create(ctx, &cfg, &cache), bad[i].want, "case %zu: %s", i, lk_last_error(ctx));
        cr_expect_null(cache);
    }
    cr_expect_eq(lk_kivi_cache_create(ctx, NULL, &cache), LK_ERR_NULL_POINTER);
    lk_context_destroy(ctx);
}

/* The memory report per K, per V and for the quantized part: 2-bit, G = R = 32, D = 64, 320
 * tokens (keys: 320 quantized; values: 288 quantized + 32 in the window; both residual buffers
 * of 32 tokens counted in full). */
Test(kivi_cache, memory_report_splits_k_and_v)
{
    lk_context *ctx = lkt_open(LKT_OPENCL);
    const int64_t n = 320, D = 64;
    lk_kivi_config cfg = {1, 1, D, 2, 2, 32, 32, n};
    lk_kivi_cache *cache;
    LKT_OK(ctx, lk_kivi_cache_create(ctx, &cfg, &cache));
    float *zeros = calloc((size_t)(n * D), 4);
    int64_t shape[4] = {1, 1, n, D};
    lkt_tensor t = lkt_upload(ctx, LK_F32, LKT_CONTIGUOUS, shape, zeros);
    LKT_OK(ctx, lk_kivi_cache_append(ctx, cache, &t.t, &t.t));
    lk_kivi_memory m;
    LKT_OK(ctx, lk_kivi_cache_memory(cache, &m));
    cr_expect_float_eq(m.quantized_key_bits, 3.0, 1e-12);
    cr_expect_float_eq(m.quantized_value_bits, 3.0, 1e-12);
    cr_expect_float_eq(m.key_bits, (320 * 3.0 + 32 * 16.0) / 320, 1e-12);
    cr_expect_float_eq(m.value_bits, (288 * 3.0 + 32 * 16.0) / 320, 1e-12);
    cr_expect_float_eq(m.bits_per_element, (m.key_bits + m.value_bits) / 2, 1e-12);
    lkt_free(&t);
    free(zeros);
    lk_kivi_cache_destroy(cache);
    lk_context_destroy(ctx);
}
