/* Decode-attention problems for the tuner and lk-bench (see decode_problem.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "decode_problem.h"
#include "kivi_problem.h"
#include "kv_sparse_ref.h"
#include "ops/attention_decode.h"
#include "ops/kivi_attention.h"
#include "ops/kv_sparse_decode.h"
#include "ops/lowrank_attention.h"
#include "ref.h"

static uint64_t next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

float decode_uniform(uint64_t *s) { return (float)((next(s) >> 40) * (2.0 / 16777216.0) - 1.0); }

lk_status decode_fill(lk_context *ctx, lk_buffer *buf, lk_dtype dtype, size_t n, uint64_t seed, float *host)
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
            float x = decode_uniform(&s);
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

lk_status decode_problem_create_host(lk_context *ctx, lk_dtype dtype, int B, int Hq, int Hkv, int64_t L, int D,
                                     uint64_t seed, float *hq, float *hk, float *hv, decode_problem *p)
{
    *p = (decode_problem){.ctx = ctx, .dtype = dtype, .B = B, .Hq = Hq, .Hkv = Hkv, .D = D, .L = L};
    size_t es = lk_dtype_size(dtype), nq = (size_t)B * Hq * D, nk = (size_t)B * Hkv * L * D;
    lk_status st;
    if ((st = lk_buffer_alloc(ctx, nq * es, &p->bq)) || (st = lk_buffer_alloc(ctx, nq * es, &p->bo)) ||
        (st = lk_buffer_alloc(ctx, nk * es, &p->bk)) || (st = lk_buffer_alloc(ctx, nk * es, &p->bv)) ||
        (st = decode_fill(ctx, p->bq, dtype, nq, seed, hq)) || (st = decode_fill(ctx, p->bk, dtype, nk, seed + 1, hk)) ||
        (st = decode_fill(ctx, p->bv, dtype, nk, seed + 2, hv))) {
        decode_problem_free(p);
        return st;
    }
    int64_t qs[3] = {B, Hq, D};
    p->q = lk_tensor_make(p->bq, dtype, 3, qs);
    p->o = lk_tensor_make(p->bo, dtype, 3, qs);
    p->k = lk_tensor_bhsd(p->bk, dtype, B, Hkv, L, D);
    p->v = lk_tensor_bhsd(p->bv, dtype, B, Hkv, L, D);
    return LK_OK;
}

lk_status decode_problem_create(lk_context *ctx, lk_dtype dtype, int B, int Hq, int Hkv, int64_t L, int D,
                                uint64_t seed, decode_problem *out)
{
    return decode_problem_create_host(ctx, dtype, B, Hq, Hkv, L, D, seed, NULL, NULL, NULL, out);
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
    lowrank_problem *lr = c->lowrank;
    if (lr)
        return lk_lowrank_attention_run(ctx, lr->cache, &lr->q, &lr->up_k, &lr->up_v, &lr->rope, &lr->o, &dp,
                                        c->tuned);
    if (c->kivi)
        return lk_kivi_attention_run(ctx, c->kivi, &c->pb->q, &c->pb->o, NULL, &dp, c->tuned);
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
    lk_status st = q && k && v && c->ref && c->got
                       ? decode_problem_create_host(ctx, key->dtype, B, Hq, Hkv, L, D, 42, q, k, v, &c->pb)
                       : LK_ERR_OUT_OF_MEMORY;
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

lk_status decode_read_output(lk_context *ctx, const lk_tensor *o, float *host)
{
    size_t n = (size_t)(o->shape[0] * o->shape[1] * o->shape[2]);
    lk_status st = lk_sync(ctx);
    if (st == LK_OK)
        st = lk_buffer_read(ctx, o->buffer, (size_t)o->offset * lk_dtype_size(o->dtype), host,
                            n * lk_dtype_size(o->dtype));
    if (st == LK_OK && o->dtype == LK_F16)
        for (size_t i = n; i-- > 0;) {
            uint16_t h;
            memcpy(&h, (unsigned char *)host + i * 2, 2);
            host[i] = ref_h2f(h);
        }
    return st;
}

lk_status decode_check_run(decode_check *c, const lk_params *p, double *rel_err)
{
    decode_call call = {.pb = &c->pb, .cache = c->cache, .tuned = p};
    lk_status st = decode_call_run(c->pb.ctx, &call);
    if (st == LK_OK && (st = decode_read_output(c->pb.ctx, &c->pb.o, c->got)) == LK_OK)
        *rel_err = attn_rel_error(c->got, c->ref, (size_t)c->pb.B * c->pb.Hq * c->pb.D);
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
