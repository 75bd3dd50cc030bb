/* Decode-attention problems for the tuner and lk-bench (see decode_problem.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "decode_problem.h"
#include "kv_sparse_ref.h"
#include "ops/attention_decode.h"
#include "ops/kv_sparse_decode.h"
#include "ref.h"

static uint64_t next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static float uniform(uint64_t *s) { return (float)((next(s) >> 40) * (2.0 / 16777216.0) - 1.0); }

/* Fills n elements of buf with values in [-1, 1] (as dtype), written in pieces; host copy optional. */
static lk_status fill(lk_context *ctx, lk_buffer *buf, lk_dtype dtype, size_t n, uint64_t seed, float *host)
{
    const size_t piece = (size_t)1 << 22;
    size_t es = lk_dtype_size(dtype);
    unsigned char *tmp = malloc(piece * es);
    if (!tmp)
        return LK_ERR_OUT_OF_MEMORY;
    uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 1;
    lk_status st = LK_OK;
    for (size_t at = 0; at < n && st == LK_OK; at += piece) {
        size_t m = n - at < piece ? n - at : piece;
        for (size_t i = 0; i < m; i++) {
            float x = uniform(&s);
            if (dtype == LK_F16) {
                uint16_t h = ref_f2h(x);
                memcpy(tmp + i * 2, &h, 2);
                x = ref_h2f(h);
            } else {
                memcpy(tmp + i * 4, &x, 4);
            }
            if (host)
                host[at + i] = x;
        }
        st = lk_buffer_write(ctx, buf, at * es, tmp, m * es);
    }
    free(tmp);
    return st;
}

int decode_problem_fits(lk_context *ctx, lk_dtype dtype, int B, int Hkv, int64_t L, int D)
{
    double dense = 2.0 * B * Hkv * (double)L * D * lk_dtype_size(dtype);
    double need = dense + dense * 2.0 / lk_dtype_size(dtype) + dense; /* + staging (fp16) + the cache */
    if (need <= 0.6 * (double)lk_context_device(ctx)->global_mem_bytes)
        return 1;
    fprintf(stderr, "L %lld, B %d: skipped, needs %.1f GB of device memory\n", (long long)L, B, need / 1e9);
    return 0;
}

void decode_problem_free(decode_problem *p)
{
    lk_buffer_free(p->bq);
    lk_buffer_free(p->bo);
    lk_buffer_free(p->bk);
    lk_buffer_free(p->bv);
    memset(p, 0, sizeof *p);
}

static lk_status make(decode_problem *p, uint64_t seed, float *hq, float *hk, float *hv)
{
    lk_context *ctx = p->ctx;
    size_t es = lk_dtype_size(p->dtype), nq = (size_t)p->B * p->Hq * p->D, nk = (size_t)p->B * p->Hkv * p->L * p->D;
    lk_status st;
    if ((st = lk_buffer_alloc(ctx, nq * es, &p->bq)) || (st = lk_buffer_alloc(ctx, nq * es, &p->bo)) ||
        (st = lk_buffer_alloc(ctx, nk * es, &p->bk)) || (st = lk_buffer_alloc(ctx, nk * es, &p->bv)) ||
        (st = fill(ctx, p->bq, p->dtype, nq, seed, hq)) || (st = fill(ctx, p->bk, p->dtype, nk, seed + 1, hk)) ||
        (st = fill(ctx, p->bv, p->dtype, nk, seed + 2, hv)))
        return st;
    int64_t qs[3] = {p->B, p->Hq, p->D};
    p->q = lk_tensor_make(p->bq, p->dtype, 3, qs);
    p->o = lk_tensor_make(p->bo, p->dtype, 3, qs);
    p->k = lk_tensor_bhsd(p->bk, p->dtype, p->B, p->Hkv, p->L, p->D);
    p->v = lk_tensor_bhsd(p->bv, p->dtype, p->B, p->Hkv, p->L, p->D);
    return LK_OK;
}

lk_status decode_problem_create(lk_context *ctx, lk_dtype dtype, int B, int Hq, int Hkv, int64_t L, int D,
                                uint64_t seed, decode_problem *out)
{
    memset(out, 0, sizeof *out);
    *out = (decode_problem){.ctx = ctx, .dtype = dtype, .B = B, .Hq = Hq, .Hkv = Hkv, .D = D, .L = L};
    lk_status st = make(out, seed, NULL, NULL, NULL);
    if (st != LK_OK)
        decode_problem_free(out);
    return st;
}

const char *sparse_kind_name(sparse_kind kind)
{
    static const char *names[] = {"mustafar-fp16", "sparse-2bit", "rotatekv-2bit"};
    return kind >= 0 && kind < SPARSE_CONFIGS ? names[kind] : "?";
}

lk_kv_sparse_config sparse_config(sparse_kind kind, int B, int Hkv, int D, int64_t capacity, double sparsity,
                                  const lk_rope_params *rope)
{
    lk_kv_sparse_config c = lk_kv_sparse_config_default();
    c.batch = B;
    c.kv_heads = Hkv;
    c.head_dim = D;
    c.keep = lk_kv_sparse_keep(sparsity, D);
    c.capacity = capacity;
    c.window = 64;
    if (kind != SPARSE_PLAIN)
        c.key_bits = c.value_bits = 2;
    if (kind == SPARSE_ROTATE) {
        c.rotate_group = Hkv < 4 ? Hkv : 4;
        c.rope = rope;
        c.sinks = 4;
    }
    return c;
}

lk_status decode_problem_sparse(decode_problem *p, sparse_kind kind, lk_kv_sparse_cache **out)
{
    lk_rope_params rope = lk_rope_params_default();
    lk_kv_sparse_config cfg = sparse_config(kind, p->B, p->Hkv, p->D, p->L, 0.7, &rope);
    lk_status st = lk_kv_sparse_create(p->ctx, &cfg, out);
    if (st == LK_OK && (st = lk_kv_sparse_append(p->ctx, *out, &p->k, &p->v)) != LK_OK) {
        lk_kv_sparse_destroy(*out);
        *out = NULL;
    }
    return st;
}

lk_status decode_call_run(lk_context *ctx, void *call)
{
    decode_call *c = call;
    lk_decode_params dp = lk_decode_params_default();
    if (c->cache)
        return lk_attention_decode_sparse_run(ctx, &c->pb->q, c->cache, &c->pb->o, NULL, &dp, c->tuned);
    return lk_attention_decode_run(ctx, &c->pb->q, &c->pb->k, &c->pb->v, &c->pb->o, NULL, &dp, c->tuned);
}

/* ---- the tuner's check ---------------------------------------------------------------------- */

lk_status decode_check_init(lk_context *ctx, const lk_tune_key *key, int sparse, sparse_kind kind, decode_check *c)
{
    memset(c, 0, sizeof *c);
    const int B = 1, Hkv = 4, Hq = 8, D = key->head_dim;
    const int64_t L = 300;
    size_t nq = (size_t)B * Hq * D, nk = (size_t)B * Hkv * L * D;
    float *q = malloc(nq * 4), *k = malloc(nk * 4), *v = malloc(nk * 4);
    c->ref = malloc(nq * sizeof(double));
    c->got = malloc(nq * 4);
    c->tol = key->dtype == LK_F16 ? 2e-3 : 1e-4;
    c->pb = (decode_problem){.ctx = ctx, .dtype = key->dtype, .B = B, .Hq = Hq, .Hkv = Hkv, .D = D, .L = L};
    lk_status st = q && k && v && c->ref && c->got ? make(&c->pb, 42, q, k, v) : LK_ERR_OUT_OF_MEMORY;
    lk_rope_params rope = lk_rope_params_default();
    lk_kv_sparse_config cfg = sparse_config(kind, B, Hkv, D, L, 0.7, &rope);
    if (st == LK_OK && sparse) {
        lk_buffer *bk = NULL, *bv = NULL;
        lk_tensor tk = {0}, tv = {0};
        if ((st = decode_problem_sparse(&c->pb, kind, &c->cache)) || (st = lk_buffer_alloc(ctx, nk * 4, &bk)) ||
            (st = lk_buffer_alloc(ctx, nk * 4, &bv)))
            goto done;
        tk = lk_tensor_bhsd(bk, LK_F32, B, Hkv, L, D);
        tv = lk_tensor_bhsd(bv, LK_F32, B, Hkv, L, D);
        if ((st = lk_kv_sparse_decompress(ctx, c->cache, &tk, &tv)) || (st = lk_buffer_read(ctx, bk, 0, k, nk * 4)) ||
            (st = lk_buffer_read(ctx, bv, 0, v, nk * 4)))
            goto done;
        if (cfg.rotate_group > 0) {
            double *kd = malloc(nk * sizeof(double)), *kr = malloc(nk * sizeof(double));
            for (size_t i = 0; kd && kr && i < nk; i++)
                kd[i] = k[i];
            if (kd && kr)
                ref_hadamard(kd, kr, B, Hkv, L, D, cfg.rotate_group, NULL, 1);
            for (size_t i = 0; kd && kr && i < nk; i++)
                k[i] = (float)kr[i];
            st = kd && kr ? LK_OK : LK_ERR_OUT_OF_MEMORY;
            free(kd);
            free(kr);
        }
    done:
        lk_buffer_free(bk);
        lk_buffer_free(bv);
    }
    if (st == LK_OK) {
        ref_attention_args ra = {B, Hq, Hkv, 1, L, D, 0, 0.0, sparse && cfg.rope ? &rope : NULL, NULL, NULL};
        ref_attention_fwd(&ra, q, k, v, c->ref, NULL);
    }
    free(q);
    free(k);
    free(v);
    if (st != LK_OK)
        decode_check_free(c);
    return st;
}

lk_status decode_check_run(decode_check *c, const lk_params *p, double *rel_err)
{
    decode_call call = {&c->pb, c->cache, p};
    lk_status st = decode_call_run(c->pb.ctx, &call);
    size_t n = (size_t)c->pb.B * c->pb.Hq * c->pb.D;
    if (st == LK_OK && (st = lk_sync(c->pb.ctx)) == LK_OK &&
        (st = lk_buffer_read(c->pb.ctx, c->pb.bo, 0, c->got, n * lk_dtype_size(c->pb.dtype))) == LK_OK) {
        if (c->pb.dtype == LK_F16)
            for (size_t i = n; i-- > 0;) {
                uint16_t h;
                memcpy(&h, (unsigned char *)c->got + i * 2, 2);
                c->got[i] = ref_h2f(h);
            }
        *rel_err = attn_rel_error(c->got, c->ref, n);
    }
    return st;
}

void decode_check_free(decode_check *c)
{
    lk_kv_sparse_destroy(c->cache);
    decode_problem_free(&c->pb);
    free(c->ref);
    free(c->got);
    memset(c, 0, sizeof *c);
}
