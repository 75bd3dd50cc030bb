/* The decode-attention ops as tunable ops (see op.h):
 *   attention_decode  dense lk_attention_decode: SPLITS x BLOCK_N x WG
 *   kv_sparse         lk_attention_decode_sparse: the same plus LOADER, and VARIANT (fused /
 *                     two-stage key path) for family "rotate" or DIRECT (tiles / direct reads)
 *                     for family "plain"; family "plain" times the Mustafar fp16 cache
 * by context length. Timed problem: B=1 (--batch), Hkv = 8 on GPUs and 4 on CPUs (--heads sets
 * Hkv), Hq = 4 Hkv, D = the key's head_dim, L = the key's length; inputs of decode_problem.c,
 * checked against ref/ by decode_check. Tables: bench_decode.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_decode.h"
#include "decode_problem.h"
#include "internal.h"
#include "ops/attention_decode.h"
#include "ops/decode_split.h"
#include "ops/kv_sparse_decode.h"
#include "ops/op_params_check.h"
#include "op_decode.h"

typedef struct dec_state {
    decode_problem timed;
    lk_kv_sparse_cache *cache; /* NULL for the dense op */
    decode_check check;
} dec_state;

int decode_kv_heads(lk_context *ctx, const tune_shape *shape)
{
    return shape->heads > 0 ? shape->heads : ctx->info.type == LK_DEVICE_CPU ? 4 : 8;
}

static int is_sparse(const lk_tune_key *key) { return !strcmp(key->op, "kv_sparse"); }

static sparse_kind kind_of(const lk_tune_key *key) { return strcmp(key->family, "rotate") ? SPARSE_PLAIN : SPARSE_ROTATE; }

/* Tiles that fit the device for the timed problem's group sizes. */
static int fits_device(const lk_params *p, const void *user, char *why, size_t n)
{
    const tune_space_user *u = user;
    int D = u->key->head_dim, G = kind_of(u->key) == SPARSE_ROTATE ? 4 : 1;
    lk_status st = is_sparse(u->key) ? lk_kv_sparse_decode_check_params(u->ctx, p, D, G, 4, u->key->dtype)
                                     : lk_decode_check_tunables(u->ctx, "attention_decode", p, LK_DEC_TILE_BLOCK_N_MAX,
                                                                lk_decode_local_bytes(D, 4, 1, lk_params_get(p, "BLOCK_N", 16)));
    if (st == LK_OK)
        return 1;
    snprintf(why, n, "%s", lk_last_error(u->ctx));
    return 0;
}

void decode_space_tiles(const tune_space_user *u, space *s, int long_tiles)
{
    static const int splits_gpu[] = {0, 32, 64, 128, 256}, splits_cpu[] = {1, 2, 4, 8};
    static const int bn_gpu[] = {4, 8, 16, 32, 64, 128, 256}, bn_cpu[] = {8, 16, 32, 64, 128, 256};
    static const int wg_gpu[] = {64, 128, 256}, wg_cpu[] = {32, 64};
    int cpu = u->ctx->info.type == LK_DEVICE_CPU;
    space_add_list(s, "SPLITS", cpu ? 4 : 5, cpu ? splits_cpu : splits_gpu);
    space_add_list(s, "BLOCK_N", 4 + (long_tiles ? cpu ? 2 : 3 : 0), cpu ? bn_cpu : bn_gpu);
    space_add_list(s, "WG", cpu ? 2 : 3, cpu ? wg_cpu : wg_gpu);
}

static int tensor_cores_for(const tune_space_user *u)
{
    return lk_device_tensor_cores(&u->ctx->info) && u->key->dtype == LK_F16;
}

/* DIRECT 2 and 3 (cl/decode_mma.h) give each warp its own 16-token m-tiles of a tile: a warp
 * without one would only wait. */
static int mma_warps_busy(const lk_params *p, const void *user, char *why, size_t n)
{
    (void)user;
    int bn = lk_params_get(p, "BLOCK_N", 16), warps = lk_params_get(p, "WG", 64) / 32;
    int direct = lk_params_get(p, "DIRECT", 0);
    if (direct < 2 || bn >= 16 * warps)
        return 1;
    snprintf(why, n, "DIRECT %d: %d warps for %d m-tiles", direct, warps, bn / 16);
    return 0;
}

int decode_space_direct(const tune_space_user *u, space *s, int direct_reads)
{
    static const int with_reads[] = {0, 1, 2, 3}, tiles_only[] = {0, 2, 3};
    const int mma = tensor_cores_for(u);
    if (direct_reads)
        space_add_list(s, "DIRECT", mma ? 4 : 2, with_reads);
    else if (mma)
        space_add_list(s, "DIRECT", 3, tiles_only);
    if (mma)
        space_add_constraint(s, "mma_warps_busy", mma_warps_busy);
    return mma;
}

/* The direct variants (1, 2) have no tile loader: LOADER stays 0 with them. */
static int one_reader(const lk_params *p, const void *user, char *why, size_t n)
{
    (void)user;
    int direct = lk_params_get(p, "DIRECT", 0);
    if (direct == 0 || direct == 3 || !lk_params_get(p, "LOADER", 0))
        return 1;
    snprintf(why, n, "DIRECT %d has no tile loader", direct);
    return 0;
}

static void decode_space(const tune_space_user *u, space *s)
{
    static const int two[] = {0, 1};
    const int plain = is_sparse(u->key) && kind_of(u->key) == SPARSE_PLAIN;
    memset(s, 0, sizeof *s);
    s->user = u;
    if (is_sparse(u->key) && kind_of(u->key) == SPARSE_ROTATE)
        space_add_list(s, "VARIANT", 2, two);
    if (plain)
        decode_space_direct(u, s, 1);
    if (is_sparse(u->key))
        space_add_list(s, "LOADER", 2, two);
    decode_space_tiles(u, s, 0); /* every form of both ops keeps BLOCK_N <= 64 (LK_DEC_TILE_BLOCK_N_MAX) */
    space_add_constraint(s, "fits_device", fits_device);
    if (plain)
        space_add_constraint(s, "one_reader", one_reader);
}

static void defaults(const lk_device_info *dev, const lk_tune_key *key, lk_params *out)
{
    if (is_sparse(key))
        lk_kv_sparse_decode_defaults(dev, key->head_dim, kind_of(key) == SPARSE_ROTATE ? 4 : 1, 4, out);
    else
        lk_attention_decode_defaults(dev, key->head_dim, out);
}

static int fits(lk_context *ctx, const lk_tune_key *key, const tune_shape *shape)
{
    return decode_problem_fits(ctx, key->dtype, tune_batch(shape), decode_kv_heads(ctx, shape), key->length,
                               key->head_dim);
}

static void teardown(void *state)
{
    dec_state *s = state;
    if (!s)
        return;
    lk_kv_sparse_destroy(s->cache);
    decode_problem_free(&s->timed);
    decode_check_free(&s->check);
    free(s);
}

static lk_status setup(lk_context *ctx, const lk_tune_key *key, const tune_shape *shape, void **state)
{
    dec_state *s = calloc(1, sizeof *s);
    if (!s)
        return LK_ERR_OUT_OF_MEMORY;
    int hkv = decode_kv_heads(ctx, shape);
    lk_status st = decode_problem_create(ctx, key->dtype, tune_batch(shape), 4 * hkv, hkv, key->length, key->head_dim,
                                         1, &s->timed);
    if (st == LK_OK && is_sparse(key))
        st = decode_problem_sparse(&s->timed, kind_of(key), &s->cache);
    if (st == LK_OK)
        st = decode_check_init(ctx, key, is_sparse(key), kind_of(key), &s->check);
    if (st != LK_OK) {
        teardown(s);
        return st;
    }
    *state = s;
    return LK_OK;
}

static lk_status check(void *state, const lk_params *p, double *rel_err, double *tol)
{
    dec_state *s = state;
    *tol = s->check.tol;
    return decode_check_run(&s->check, p, rel_err);
}

static lk_status run(void *state, const lk_params *p)
{
    dec_state *s = state;
    decode_call call = {.pb = &s->timed, .cache = s->cache, .tuned = p};
    return decode_call_run(s->timed.ctx, &call);
}

/* What both decode descriptors share: the space and the common decode fields. */
#define DECODE_OP_FIELDS .flag_name = NULL, .space = decode_space, DECODE_OP_COMMON

const tune_op tune_op_attention_decode = {
    .name = "attention_decode",
    .nfamilies = 1,
    .families = {""},
    .bench = bench_attention_decode,
    DECODE_OP_FIELDS
};

const tune_op tune_op_kv_sparse = {
    .name = "kv_sparse",
    .nfamilies = 2,
    .families = {"plain", "rotate"},
    .bench = bench_kv_sparse,
    DECODE_OP_FIELDS
};
