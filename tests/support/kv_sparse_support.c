/* Test support of the sparse KV cache (see kv_sparse_support.h). */
#include <stdlib.h>
#include <string.h>

#include "kv_sparse_support.h"
#include "kv_sparse_ref.h"
#include "ref.h"

void kvs_tokens(lkt_rng *r, float *x, int64_t H, int64_t L, int64_t D)
{
    lkt_fill(r, x, (size_t)(H * L * D));
    for (int64_t h = 0; h < H; h++)
        for (int64_t t = 0; t < L; t++) {
            float *row = x + (h * L + t) * D;
            if (t % 37 == 3)
                for (int64_t d = 0; d < D; d++)
                    row[d] = 0.5f;
            if (t % 5 == 1)
                for (int64_t d = 0; d < 8; d++)
                    row[d] = d % 2 ? -0.75f : 0.75f;
            row[5] = 1e-4f;
            for (int64_t d = 0; d < D; d++)
                row[d] = ref_h2f(ref_f2h(row[d]));
        }
}

void kvs_append(lk_context *ctx, lk_kv_sparse_cache *c, const lk_kv_sparse_config *cfg, const float *k,
                const float *v, int64_t L, int64_t from, int64_t to, lk_dtype dt)
{
    int64_t H = (int64_t)cfg->batch * cfg->kv_heads, D = cfg->head_dim, T = to - from;
    float *ck = malloc(sizeof(float) * (size_t)(H * T * D)), *cv = malloc(sizeof(float) * (size_t)(H * T * D));
    for (int64_t h = 0; h < H; h++) {
        memcpy(ck + h * T * D, k + (h * L + from) * D, sizeof(float) * (size_t)(T * D));
        memcpy(cv + h * T * D, v + (h * L + from) * D, sizeof(float) * (size_t)(T * D));
    }
    int64_t shape[4] = {cfg->batch, cfg->kv_heads, T, D};
    lkt_tensor tk = lkt_upload(ctx, dt, LKT_BSHD, shape, ck), tv = lkt_upload(ctx, dt, LKT_CONTIGUOUS, shape, cv);
    LKT_OK(ctx, lk_kv_sparse_append(ctx, c, &tk.t, &tv.t));
    lkt_free(&tk);
    lkt_free(&tv);
    free(ck);
    free(cv);
}

void kvs_append_chunks(lk_context *ctx, lk_kv_sparse_cache *c, const lk_kv_sparse_config *cfg, const float *k,
                       const float *v, int64_t L, const int *chunk, lk_dtype dt)
{
    int64_t at = 0;
    for (int i = 0; at < L; i += chunk[i + 1] != 0) {
        int64_t to = at + chunk[i] < L ? at + chunk[i] : L;
        kvs_append(ctx, c, cfg, k, v, L, at, to, dt);
        at = to;
    }
}

int64_t kvs_blocks(const lk_kv_sparse_config *cfg, int64_t L)
{
    int64_t spare = L - cfg->sinks - cfg->window;
    return spare > 0 ? spare / 64 : 0;
}

void kvs_restored(const lk_kv_sparse_config *cfg, const float *x, int64_t L, int is_key, float *out)
{
    int64_t H = (int64_t)cfg->batch * cfg->kv_heads, D = cfg->head_dim, nb = kvs_blocks(cfg, L);
    int bits = is_key ? cfg->key_bits : cfg->value_bits;
    memcpy(out, x, sizeof(float) * (size_t)(H * L * D));
    uint64_t *bm = malloc(sizeof(uint64_t) * (size_t)D);
    uint16_t *par = malloc(sizeof(uint16_t) * 2 * (size_t)D);
    uint32_t *words = malloc(sizeof(uint32_t) * (size_t)ref_sparse_block_words(cfg->keep, bits));
    for (int64_t h = 0; h < H; h++)
        for (int64_t i = 0; i < nb; i++) {
            int64_t row = h * L + cfg->sinks + 64 * i;
            ref_sparse_block(x + row * D, (int)D, cfg->keep, bits, is_key, bm, par, words, out + row * D);
        }
    free(bm);
    free(par);
    free(words);
}
