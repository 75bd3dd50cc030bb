/* Quantized-cache decode problems for the tuner and lk-bench (see kivi_problem.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kivi_problem.h"
#include "kivi_ref.h"
#include "lowrank_ref.h"
#include "ops/lowrank_cache.h"
#include "ref.h"

#define HIDDEN 64
#define CHUNK 4096 /* tokens per append of the low-rank problem */

int kivi_family_bits(const char *family, int *k_bits, int *v_bits)
{
    char end;
    return sscanf(family, "k%dv%d%c", k_bits, v_bits, &end) == 2 ? 0 : 1;
}

lk_status kivi_problem_cache(decode_problem *pb, int k_bits, int v_bits, int G, int R, lk_kivi_cache **out)
{
    lk_kivi_config cfg = {pb->B, pb->Hkv, pb->D, k_bits, v_bits, G, R, pb->L};
    lk_status st = lk_kivi_cache_create(pb->ctx, &cfg, out);
    if (st == LK_OK && (st = lk_kivi_cache_append(pb->ctx, *out, &pb->k, &pb->v)) != LK_OK) {
        lk_kivi_cache_destroy(*out);
        *out = NULL;
    }
    return st;
}

/* ---- low-rank problem ------------------------------------------------------------------------ */

int lowrank_problem_fits(lk_context *ctx, int B, int Hkv, int64_t L, int r)
{
    /* the latent cache at 8 bits (~9 bits per latent with parameters, K and V), one x chunk and
     * the latents' scratch in f32 */
    double need = 2.0 * B * Hkv * (double)L * r * 9.0 / 8.0 + 3.0 * B * CHUNK * (double)Hkv * r * 4;
    if (need <= 0.6 * (double)lk_context_device(ctx)->global_mem_bytes)
        return 1;
    fprintf(stderr, "L %lld, B %d: low rank skipped, needs %.1f GB of device memory\n", (long long)L, B, need / 1e9);
    return 0;
}

/* n values on a grid of `step` in [-1, 1]. */
static void grid(uint64_t *s, float *x, size_t n, float step)
{
    for (size_t i = 0; i < n; i++)
        x[i] = step * roundf(decode_uniform(s) / step);
}

/* A new buffer holding host (n values as dtype; exact: grid values are representable in half). */
static lk_status upload(lk_context *ctx, lk_dtype dtype, const float *host, size_t n, lk_buffer **out)
{
    size_t es = lk_dtype_size(dtype);
    lk_status st = lk_buffer_alloc(ctx, n * es, out);
    if (st != LK_OK)
        return st;
    if (dtype == LK_F32)
        return lk_buffer_write(ctx, *out, 0, host, n * 4);
    uint16_t *h = malloc(n * 2);
    if (!h)
        return LK_ERR_OUT_OF_MEMORY;
    for (size_t i = 0; i < n; i++)
        h[i] = ref_f2h(host[i]);
    st = lk_buffer_write(ctx, *out, 0, h, n * 2);
    free(h);
    return st;
}

/* Appends the problem's L tokens in chunks of x on the grid (copied into keep_x [B, L, HIDDEN]). */
static lk_status append_tokens(lowrank_problem *p, uint64_t *s, const lk_tensor *dk, const lk_tensor *dv,
                               float *keep_x)
{
    int64_t S = p->L < CHUNK ? p->L : CHUNK;
    size_t n = (size_t)p->B * S * HIDDEN;
    float *x = malloc(n * 4);
    lk_buffer *bx = NULL;
    lk_status st = x ? LK_OK : LK_ERR_OUT_OF_MEMORY;
    for (int64_t t0 = 0; st == LK_OK && t0 < p->L; t0 += S) {
        int64_t m = p->L - t0 < S ? p->L - t0 : S;
        grid(s, x, (size_t)p->B * m * HIDDEN, 0.25f);
        for (int64_t b = 0; keep_x && b < p->B; b++)
            memcpy(keep_x + (b * p->L + t0) * HIDDEN, x + b * m * HIDDEN, (size_t)m * HIDDEN * 4);
        lk_buffer_free(bx);
        bx = NULL;
        if ((st = upload(p->ctx, p->dtype, x, (size_t)p->B * m * HIDDEN, &bx)) != LK_OK)
            break;
        int64_t shape[3] = {p->B, m, HIDDEN};
        lk_tensor tx = lk_tensor_make(bx, p->dtype, 3, shape);
        st = lk_lowrank_cache_append(p->ctx, p->cache, &tx, dk, dv);
    }
    if (st == LK_OK)
        st = lk_sync(p->ctx);
    lk_buffer_free(bx);
    free(x);
    return st;
}

void lowrank_host_free(lowrank_host *h)
{
    float *all[] = {h->x, h->down_k, h->down_v, h->up_k, h->up_v, h->q};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
    memset(h, 0, sizeof *h);
}

lk_status lowrank_problem_create(lk_context *ctx, lk_dtype dtype, int B, int Hq, int Hkv, int HD, int r, int64_t L,
                                 const lk_kivi_config *kivi, uint64_t seed, lowrank_host *keep, lowrank_problem *out)
{
    lowrank_problem *p = out;
    *p = (lowrank_problem){.ctx = ctx, .dtype = dtype, .B = B, .Hq = Hq, .Hkv = Hkv, .HD = HD, .r = r,
                           .hidden = HIDDEN, .L = L, .rope = lk_rope_params_default()};
    size_t nw = (size_t)HIDDEN * Hkv * r, nu = (size_t)Hkv * r * HD, nq = (size_t)B * Hq * HD;
    float *w[5] = {malloc(nw * 4), malloc(nw * 4), malloc(nu * 4), malloc(nu * 4), malloc(nq * 4)};
    lk_buffer *bdk = NULL, *bdv = NULL;
    lk_status st = w[0] && w[1] && w[2] && w[3] && w[4] ? LK_OK : LK_ERR_OUT_OF_MEMORY;
    uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (int i = 0; st == LK_OK && i < 5; i++)
        grid(&s, w[i], i < 2 ? nw : i < 4 ? nu : nq, 0.125f);
    lk_lowrank_config cfg = {.batch = B, .kv_heads = Hkv, .head_dim = HD, .hidden = HIDDEN, .heads_per_group = 1,
                             .rank = r, .kivi = *kivi};
    cfg.kivi.capacity = L;
    int64_t ws[2] = {HIDDEN, (int64_t)Hkv * r}, us[3] = {Hkv, r, HD}, qs[3] = {B, Hq, HD};
    if (st == LK_OK && keep && !(keep->x = malloc((size_t)B * L * HIDDEN * 4)))
        st = LK_ERR_OUT_OF_MEMORY;
    if (st == LK_OK && !(st = upload(ctx, dtype, w[0], nw, &bdk)) && !(st = upload(ctx, dtype, w[1], nw, &bdv)) &&
        !(st = upload(ctx, dtype, w[2], nu, &p->bupk)) && !(st = upload(ctx, dtype, w[3], nu, &p->bupv)) &&
        !(st = upload(ctx, dtype, w[4], nq, &p->bq)) && !(st = lk_buffer_alloc(ctx, nq * lk_dtype_size(dtype), &p->bo)) &&
        !(st = lk_lowrank_cache_create(ctx, &cfg, &p->cache))) {
        lk_tensor dk = lk_tensor_make(bdk, dtype, 2, ws), dv = lk_tensor_make(bdv, dtype, 2, ws);
        p->up_k = lk_tensor_make(p->bupk, dtype, 3, us);
        p->up_v = lk_tensor_make(p->bupv, dtype, 3, us);
        p->q = lk_tensor_make(p->bq, dtype, 3, qs);
        p->o = lk_tensor_make(p->bo, dtype, 3, qs);
        st = append_tokens(p, &s, &dk, &dv, keep ? keep->x : NULL);
    }
    lk_buffer_free(bdk);
    lk_buffer_free(bdv);
    if (st == LK_OK && keep) {
        keep->down_k = w[0], keep->down_v = w[1], keep->up_k = w[2], keep->up_v = w[3], keep->q = w[4];
    } else {
        for (int i = 0; i < 5; i++)
            free(w[i]);
        if (keep && st != LK_OK)
            lowrank_host_free(keep);
    }
    if (st != LK_OK)
        lowrank_problem_free(p);
    return st;
}

void lowrank_problem_free(lowrank_problem *p)
{
    lk_lowrank_cache_destroy(p->cache);
    lk_buffer *all[] = {p->bq, p->bo, p->bupk, p->bupv};
    for (int i = 0; i < 4; i++)
        lk_buffer_free(all[i]);
    memset(p, 0, sizeof *p);
}

/* ---- the tuner's checks ---------------------------------------------------------------------- */

#define CHECK_L 300

static int is_lowrank(const lk_tune_key *key) { return !strcmp(key->op, "lowrank_decode"); }

/* KIVI: the cache's dequantized K and V (ref_kivi_quantize of the stored tokens) into ref. */
static lk_status kivi_init(lk_context *ctx, const lk_tune_key *key, int kb, int vb, kivi_check *c)
{
    const int B = 1, Hkv = 4, Hq = 8, D = key->head_dim;
    size_t nq = (size_t)B * Hq * D, nk = (size_t)B * Hkv * CHECK_L * D;
    float *q = malloc(nq * 4), *k = malloc(nk * 4), *v = malloc(nk * 4), *kh = malloc(nk * 4), *vh = malloc(nk * 4);
    lk_status st = q && k && v && kh && vh ? LK_OK : LK_ERR_OUT_OF_MEMORY;
    if (st == LK_OK &&
        !(st = decode_problem_create_host(ctx, key->dtype, B, Hq, Hkv, CHECK_L, D, 42, q, k, v, &c->pb)) &&
        !(st = kivi_problem_cache(&c->pb, kb, vb, key->flag, 128, &c->kivi))) {
        ref_kivi_shape s = {B * Hkv, D, c->kivi->cap, key->flag, 128, kb, vb};
        ref_kivi_quantize(&s, CHECK_L, k, v, NULL, NULL, NULL, NULL, kh, vh);
        ref_attention_args ra = {B, Hq, Hkv, 1, CHECK_L, D, 0, 0.0, NULL, NULL, NULL};
        ref_attention_fwd(&ra, q, kh, vh, c->ref, NULL);
    }
    void *all[] = {q, k, v, kh, vh};
    for (int i = 0; i < 5; i++)
        free(all[i]);
    return st;
}

/* Low rank: latents by ref_lowrank_project, quantized by ref_kivi_quantize, keys and values rebuilt
 * by ref_lowrank_rebuild (keys with RoPE). */
static lk_status lowrank_init(lk_context *ctx, const lk_tune_key *key, int kb, int vb, kivi_check *c)
{
    const int B = 1, Hkv = 2, Hq = 4, HD = key->head_dim, r = key->flag;
    lk_kivi_config kivi = {0, 0, 0, kb, vb, 32, 128, CHECK_L};
    lowrank_host h = {0};
    lk_status st = lowrank_problem_create(ctx, key->dtype, B, Hq, Hkv, HD, r, CHECK_L, &kivi, 42, &h, &c->lr);
    if (st != LK_OK)
        return st;
    size_t nl = (size_t)B * Hkv * CHECK_L * r, nk = (size_t)B * Hkv * CHECK_L * HD;
    float *lk = malloc(nl * 4), *lv = malloc(nl * 4), *kh = malloc(nl * 4), *vh = malloc(nl * 4);
    float *K = malloc(nk * 4), *V = malloc(nk * 4);
    if (lk && lv && kh && vh && K && V) {
        ref_lowrank_project(h.x, h.down_k, B, CHECK_L, HIDDEN, Hkv, r, lk);
        ref_lowrank_project(h.x, h.down_v, B, CHECK_L, HIDDEN, Hkv, r, lv);
        ref_kivi_shape s = {B * Hkv, r, c->lr.cache->latents->cap, 32, 128, kb, vb};
        ref_kivi_quantize(&s, CHECK_L, lk, lv, NULL, NULL, NULL, NULL, kh, vh);
        ref_lowrank_rebuild(kh, h.up_k, B, Hkv, 1, CHECK_L, r, HD, &c->lr.rope, K);
        ref_lowrank_rebuild(vh, h.up_v, B, Hkv, 1, CHECK_L, r, HD, NULL, V);
        ref_attention_args ra = {B, Hq, Hkv, 1, CHECK_L, HD, 0, 0.0, NULL, NULL, NULL};
        ref_attention_fwd(&ra, h.q, K, V, c->ref, NULL);
    } else {
        st = LK_ERR_OUT_OF_MEMORY;
    }
    void *all[] = {lk, lv, kh, vh, K, V};
    for (int i = 0; i < 6; i++)
        free(all[i]);
    lowrank_host_free(&h);
    return st;
}

lk_status kivi_check_init(lk_context *ctx, const lk_tune_key *key, kivi_check *c)
{
    memset(c, 0, sizeof *c);
    int kb, vb;
    if (kivi_family_bits(key->family, &kb, &vb))
        return LK_ERR_INVALID_ARGUMENT;
    size_t nq = 8 * (size_t)key->head_dim; /* B * Hq * head_dim of both checks */
    c->ref = malloc(nq * sizeof(double));
    c->got = malloc(nq * 4);
    c->tol = key->dtype == LK_F16 ? 2e-3 : 1e-4;
    lk_status st = !c->ref || !c->got ? LK_ERR_OUT_OF_MEMORY
                   : is_lowrank(key)  ? lowrank_init(ctx, key, kb, vb, c)
                                      : kivi_init(ctx, key, kb, vb, c);
    if (st != LK_OK)
        kivi_check_free(c);
    return st;
}

lk_status kivi_check_run(kivi_check *c, const lk_params *p, double *rel_err)
{
    decode_call call = {.pb = &c->pb, .tuned = p, .kivi = c->kivi, .lowrank = c->lr.cache ? &c->lr : NULL};
    const lk_tensor *o = call.lowrank ? &c->lr.o : &c->pb.o;
    lk_context *ctx = call.lowrank ? c->lr.ctx : c->pb.ctx;
    lk_status st = decode_call_run(ctx, &call);
    if (st == LK_OK && (st = decode_read_output(ctx, o, c->got)) == LK_OK)
        *rel_err = attn_rel_error(c->got, c->ref, (size_t)(o->shape[0] * o->shape[1] * o->shape[2]));
    return st;
}

void kivi_check_free(kivi_check *c)
{
    lk_kivi_cache_destroy(c->kivi);
    decode_problem_free(&c->pb);
    lowrank_problem_free(&c->lr);
    free(c->ref);
    free(c->got);
    memset(c, 0, sizeof *c);
}
