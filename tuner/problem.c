/* Device inputs for the tuner and the benchmark (see problem.h). Large tensors are generated
 * and uploaded in chunks so the host never holds a whole copy unless asked to. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/attention_fwd.h"
#include "problem.h"
#include "ref.h"

#define CHUNK ((size_t)1 << 20)

/* Inputs are random values on the grid k/1024, k in [-1024, 1024): exact in fp16 and fp32, so
 * neither the device copy nor the host copy needs rounding, and one 64-bit draw gives four of them
 * through a table (a 128K-token problem has 805M values: converting each one took 20 s a key). */
#define GRID 2048

static uint64_t next_draw(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static float grid_value(unsigned k) { return ((float)k - GRID / 2) / (GRID / 2); }

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
    void *chunk = malloc(CHUNK * es);
    uint16_t code[GRID];
    for (unsigned k = 0; k < GRID; k++)
        code[k] = ref_f2h(grid_value(k));
    lk_status st = chunk ? LK_OK : LK_ERR_OUT_OF_MEMORY;
    for (size_t off = 0; st == LK_OK && off < n; off += CHUNK) {
        size_t m = n - off < CHUNK ? n - off : CHUNK;
        uint64_t r = 0;
        for (size_t i = 0; i < m; i++, r >>= 16) {
            if (i % 4 == 0)
                r = next_draw(seed);
            unsigned k = (unsigned)(r & (GRID - 1));
            if (p->dtype == LK_F16)
                ((uint16_t *)chunk)[i] = code[k];
            else
                ((float *)chunk)[i] = grid_value(k);
            if (host)
                host[off + i] = grid_value(k);
        }
        st = lk_buffer_write(p->ctx, buf, off * es, chunk, m * es);
    }
    free(chunk);
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
