/* The quantized-cache decode ops as tunable ops (see op.h):
 *   kivi_decode     lk_kivi_attention: DIRECT (dequantized tiles, direct reads, tensor cores from
 *                   the words or from f16 tiles; with f16 tiles KBUF, 1 or 2 buffers of words)
 *                   x SPLITS x BLOCK_N x WG by context length;
 *                   family k<b>v<b> (bits of K and V), flag G (group); cache R = 128
 *   lowrank_decode  lk_lowrank_attention: DIRECT (tiles, the two tensor-core forms; KBUF as
 *                   above) x the same tiles; family k<b>v<b> of the latents, flag the rank (latents G = 32,
 *                   R = 128, one kv head per group, RoPE)
 * Timed problem: B=1 (--batch), Hkv = 8 on GPUs and 4 on CPUs (--heads), Hq = 4 Hkv, D = the
 * key's head_dim, L = the key's length; inputs of kivi_problem.c, each candidate checked
 * against ref/ first. Table: lk-bench --op kivi (bench_kivi.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_kivi.h"
#include "internal.h"
#include "kivi_problem.h"
#include "ops/decode_split.h"
#include "ops/kivi_attention.h"
#include "ops/lowrank_attention.h"
#include "ops/op_params_check.h"
#include "op_decode.h"

#define RESIDUAL 128
#define LATENT_GROUP 32

typedef struct kivi_state {
    decode_problem timed;      /* kivi_decode */
    lk_kivi_cache *cache;
    lowrank_problem lowrank;   /* lowrank_decode */
    kivi_check check;
} kivi_state;

static int is_lowrank(const lk_tune_key *key) { return !strcmp(key->op, "lowrank_decode"); }

/* Channels of the decode kernel's tiles: head_dim, or max(head_dim, rank) for the latents. */
static int tile_dim(const lk_tune_key *key)
{
    return is_lowrank(key) && key->flag > key->head_dim ? key->flag : key->head_dim;
}

static int fits_device(const lk_params *p, const void *user, char *why, size_t n)
{
    const tune_space_user *u = user;
    const lk_tune_key *key = u->key;
    lk_kivi_config cfg = {0, 0, key->head_dim, 0, 0, key->flag, RESIDUAL, 0};
    lk_status st;
    if (kivi_family_bits(key->family, &cfg.k_bits, &cfg.v_bits)) {
        st = lk_decode_check_tunables(u->ctx, key->op, p, LK_DEC_TILE_BLOCK_N_MAX,
                                      lk_decode_local_bytes(tile_dim(key), 4, 1, lk_params_get(p, "BLOCK_N", 32)));
    } else if (is_lowrank(key)) { /* the latents: G = 32, head_dim = the rank */
        lk_lowrank_config lr = {.head_dim = key->head_dim, .rank = key->flag, .kivi = cfg};
        lr.kivi.head_dim = key->flag;
        lr.kivi.group = LATENT_GROUP;
        st = lk_lowrank_attention_check_tunables(u->ctx, p, &lr, 4, key->dtype);
    } else {
        st = lk_kivi_attention_check_tunables(u->ctx, p, &cfg, 4, key->dtype);
    }
    if (st == LK_OK)
        return 1;
    snprintf(why, n, "%s", lk_last_error(u->ctx));
    return 0;
}

/* A second buffer of words (KBUF 2) is DIRECT 3's alone (cl/kivi_tiles_mma.h). */
static int kbuf_with_tiles(const lk_params *p, const void *user, char *why, size_t n)
{
    (void)user;
    if (lk_params_get(p, "KBUF", 1) == 1 || lk_params_get(p, "DIRECT", 0) == 3)
        return 1;
    snprintf(why, n, "KBUF 2 needs DIRECT 3");
    return 0;
}

static void kivi_space(const tune_space_user *u, space *s)
{
    static const int kbufs[] = {1, 2};
    memset(s, 0, sizeof *s);
    s->user = u;
    const int mma = decode_space_direct(u, s, !is_lowrank(u->key));
    if (mma) {
        space_add_list(s, "KBUF", 2, kbufs);
        space_add_constraint(s, "kbuf_with_tiles", kbuf_with_tiles);
    }
    /* the low-rank decode's tiles stop at 64 tokens, unless on tensor cores */
    decode_space_tiles(u, s, !is_lowrank(u->key) || mma);
    space_add_constraint(s, "fits_device", fits_device);
}

static void defaults(const lk_device_info *dev, const lk_tune_key *key, lk_params *out)
{
    lk_kivi_attention_defaults(dev, key->head_dim, out);
}

static int fits(lk_context *ctx, const lk_tune_key *key, const tune_shape *shape)
{
    int B = tune_batch(shape), hkv = decode_kv_heads(ctx, shape);
    return is_lowrank(key) ? lowrank_problem_fits(ctx, B, hkv, key->length, key->flag)
                           : decode_problem_fits(ctx, key->dtype, B, hkv, key->length, key->head_dim);
}

static void teardown(void *state)
{
    kivi_state *s = state;
    if (!s)
        return;
    lk_kivi_cache_destroy(s->cache);
    decode_problem_free(&s->timed);
    lowrank_problem_free(&s->lowrank);
    kivi_check_free(&s->check);
    free(s);
}

static lk_status setup(lk_context *ctx, const lk_tune_key *key, const tune_shape *shape, void **state)
{
    kivi_state *s = calloc(1, sizeof *s);
    if (!s)
        return LK_ERR_OUT_OF_MEMORY;
    int kb, vb, B = tune_batch(shape), hkv = decode_kv_heads(ctx, shape);
    lk_status st = kivi_family_bits(key->family, &kb, &vb) ? LK_ERR_INVALID_ARGUMENT : LK_OK;
    if (st == LK_OK && is_lowrank(key)) {
        lk_kivi_config kivi = {0, 0, 0, kb, vb, LATENT_GROUP, RESIDUAL, key->length};
        st = lowrank_problem_create(ctx, key->dtype, B, 4 * hkv, hkv, key->head_dim, key->flag, key->length, &kivi, 1,
                                    NULL, &s->lowrank);
    } else if (st == LK_OK &&
               (st = decode_problem_create(ctx, key->dtype, B, 4 * hkv, hkv, key->length, key->head_dim, 1,
                                           &s->timed)) == LK_OK) {
        st = kivi_problem_cache(&s->timed, kb, vb, key->flag, RESIDUAL, &s->cache);
    }
    if (st == LK_OK)
        st = kivi_check_init(ctx, key, &s->check);
    if (st != LK_OK) {
        teardown(s);
        return st;
    }
    *state = s;
    return LK_OK;
}

static lk_status check(void *state, const lk_params *p, double *rel_err, double *tol)
{
    kivi_state *s = state;
    *tol = s->check.tol;
    return kivi_check_run(&s->check, p, rel_err);
}

static lk_status run(void *state, const lk_params *p)
{
    kivi_state *s = state;
    decode_call call = {.pb = &s->timed, .tuned = p, .kivi = s->cache,
                        .lowrank = s->lowrank.cache ? &s->lowrank : NULL};
    return decode_call_run(s->lowrank.cache ? s->lowrank.ctx : s->timed.ctx, &call);
}

/* What the KIVI and low-rank descriptors share (one table, lk-bench --op kivi). */
#define KIVI_OP_FIELDS                                                                              \
    .bench_name = "kivi", .nfamilies = 3, .families = {"k2v2", "k4v4", "k8v8"}, .space = kivi_space, \
    .bench = bench_kivi, DECODE_OP_COMMON

const tune_op tune_op_kivi_decode = {
    .name = "kivi_decode",
    .flag_name = "group",
    .flags = "32",
    .flag_choices = {32, 64},
    KIVI_OP_FIELDS
};

const tune_op tune_op_lowrank_decode = {
    .name = "lowrank_decode",
    .flag_name = "rank",
    .flags = "64",
    .flag_choices = {64, 128},
    KIVI_OP_FIELDS
};
