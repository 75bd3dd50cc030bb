/* Device inputs for the tuner and the benchmark (see problem.h). Large tensors are generated
 * and uploaded in chunks so the host never holds a whole copy unless asked to. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/attention_fwd.h"
#include "problem.h"
#include "ref.h"

#define CHUNK ((size_t)1 << 20)

static float uniform(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    uint64_t r = *s * 2685821657736338717ULL;
    return (float)((double)(r >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

size_t attn_problem_bytes(lk_dtype dtype, int64_t B, int64_t Hq, int64_t Hkv, int64_t S, int64_t D)
{
    return (size_t)(2 * B * Hq * S * D + 2 * B * Hkv * S * D) * lk_dtype_size(dtype);
}

int attn_problem_fits(lk_context *ctx, lk_dtype dtype, int64_t B, int64_t Hq, int64_t Hkv, int64_t S, int64_t D)
{
    size_t bytes = attn_problem_bytes(dtype, B, Hq, Hkv, S, D), mem = lk_context_device(ctx)->global_mem_bytes;
    if (bytes <= mem / 2)
        return 1;
    fprintf(stderr, "note: skipping %s hd%lld len=%lld: %zu MiB of tensors > half of %zu MiB of device memory\n",
            lk_dtype_name(dtype), (long long)D, (long long)S, bytes >> 20, mem >> 20);
    return 0;
}

/* Fills buffer buf with n random values (chunk by chunk), keeping them in host if not NULL. */
static lk_status fill(attn_problem *p, lk_buffer *buf, size_t n, uint64_t *seed, float *host)
{
    size_t es = lk_dtype_size(p->dtype);
    float *f = malloc(CHUNK * sizeof(float));
    uint16_t *h = malloc(CHUNK * sizeof(uint16_t));
    lk_status st = f && h ? LK_OK : LK_ERR_OUT_OF_MEMORY;
    for (size_t off = 0; st == LK_OK && off < n; off += CHUNK) {
        size_t m = n - off < CHUNK ? n - off : CHUNK;
        for (size_t i = 0; i < m; i++) {
            f[i] = uniform(seed);
            if (p->dtype == LK_F16) {
                h[i] = ref_f2h(f[i]);
                f[i] = ref_h2f(h[i]);
            }
        }
        if (host)
            memcpy(host + off, f, m * sizeof(float));
        st = lk_buffer_write(p->ctx, buf, off * es, p->dtype == LK_F16 ? (void *)h : (void *)f, m * es);
    }
    free(f);
    free(h);
    return st;
}

lk_status attn_problem_create(lk_context *ctx, lk_dtype dtype, int64_t B, int64_t Hq, int64_t Hkv, int64_t S,
                              int64_t D, uint64_t seed, int keep_host, attn_problem *out)
{
    *out = (attn_problem){.ctx = ctx, .dtype = dtype, .B = B, .Hq = Hq, .Hkv = Hkv, .S = S, .D = D};
    int64_t heads[4] = {Hq, Hkv, Hkv, Hq};
    lk_tensor *t[4] = {&out->q, &out->k, &out->v, &out->o};
    uint64_t state = seed * 0x9E3779B97F4A7C15ULL + 1;
    lk_status st = LK_OK;
    for (int i = 0; i < 4 && st == LK_OK; i++) {
        size_t n = (size_t)(B * heads[i] * S * D);
        if ((st = lk_buffer_alloc(ctx, n * lk_dtype_size(dtype), &out->buf[i])) != LK_OK)
            break;
        *t[i] = lk_tensor_bhsd(out->buf[i], dtype, B, heads[i], S, D);
        if (i == 3)
            break;
        if (keep_host && !(out->host[i] = malloc(n * sizeof(float)))) {
            st = LK_ERR_OUT_OF_MEMORY;
            break;
        }
        st = fill(out, out->buf[i], n, &state, out->host[i]);
    }
    if (st != LK_OK)
        attn_problem_free(out);
    return st;
}

void attn_problem_free(attn_problem *p)
{
    for (int i = 0; i < 4; i++)
        lk_buffer_free(p->buf[i]);
    for (int i = 0; i < 3; i++)
        free(p->host[i]);
    memset(p, 0, sizeof *p);
}

lk_status attn_problem_read(attn_problem *p, int i, float *out)
{
    size_t n = (size_t)(p->B * (i == 1 || i == 2 ? p->Hkv : p->Hq) * p->S * p->D);
    if (p->dtype == LK_F32)
        return lk_buffer_read(p->ctx, p->buf[i], 0, out, n * sizeof(float));
    uint16_t *h = malloc(n * sizeof(uint16_t));
    if (!h)
        return LK_ERR_OUT_OF_MEMORY;
    lk_status st = lk_buffer_read(p->ctx, p->buf[i], 0, h, n * sizeof(uint16_t));
    for (size_t j = 0; st == LK_OK && j < n; j++)
        out[j] = ref_h2f(h[j]);
    free(h);
    return st;
}

lk_status attn_problem_read_o(attn_problem *p, float *out)
{
    return attn_problem_read(p, 3, out);
}

lk_status attn_call_run(lk_context *ctx, void *call)
{
    attn_call *c = call;
    attn_problem *p = c->pb;
    if (c->tuned)
        return lk_attention_fwd_run(ctx, &p->q, &p->k, &p->v, &p->o, NULL, &c->ap, c->tuned);
    return lk_attention_fwd(ctx, &p->q, &p->k, &p->v, &p->o, NULL, &c->ap);
}

void attn_params_for_key(const lk_tune_key *key, const lk_rope_params *rope, lk_attention_params *out)
{
    *out = lk_attention_params_default();
    out->causal = key->flag;
    out->rope = strcmp(key->family, "rope") ? NULL : rope;
}
