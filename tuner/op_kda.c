/* kda_fwd as a tunable op (see op.h): CHUNK x SUB x BV x WG x OBV x MMA x SMMA x CMMA x SCR16 x FUSEOUT, inputs and check of kda_problem.c, the
 * table of bench_kda.c. Timed problem: B=1 (--batch), H = HV heads (--heads; 16 on GPUs, 2 on
 * CPUs), K = V = the key's head_dim, T = the key's length, L2 norm in the kernel, initial and
 * final state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_kda.h"
#include "internal.h"
#include "kda_problem.h"
#include "ops/kda.h"
#include "op.h"

typedef struct kda_state {
    kda_problem timed;
    kda_check check;
} kda_state;

int kda_heads(lk_context *ctx, const tune_shape *shape)
{
    return shape->heads > 0 ? shape->heads : ctx->info.type == LK_DEVICE_CPU ? 2 : 16;
}

static int wg_multiple_of_bv(const lk_params *p, const void *user, char *why, size_t n)
{
    int bv = lk_params_get(p, "BV", 1), wg = lk_params_get(p, "WG", 1);
    if (wg >= bv && wg % bv == 0)
        return 1;
    snprintf(why, n, "WG %d is not a multiple of BV %d", wg, bv);
    return 0;
}

/* The parameters the key's call would run with candidate p (CHUNK and BV capped, K tiles derived),
 * K = V = the key's head_dim. */
static void key_effective(const tune_space_user *u, const lk_params *p, lk_params *eff)
{
    lk_kda_effective(p, u->key->head_dim, u->key->head_dim, u->key->length, u->ctx->info.local_mem_bytes, eff);
}

/* The parameters the key's call would run fit the device. */
static int fits_device(const lk_params *p, const void *user, char *why, size_t n)
{
    const tune_space_user *u = user;
    lk_params eff;
    int64_t K = u->key->head_dim;
    key_effective(u, p, &eff);
    if (lk_kda_check_params(u->ctx, &eff, K) == LK_OK)
        return 1;
    snprintf(why, n, "%s", lk_last_error(u->ctx));
    return 0;
}

/* MMA, SMMA and CMMA = 1 only where their tensor-core kernels run (else they would time the
 * scalar kernel again), CMMA with SUB 16 (its sub-chunks are 16 rows whatever SUB). */
static int mma_kernels_apply(const lk_params *p, const void *user, char *why, size_t n)
{
    const tune_space_user *u = user;
    int smma = lk_params_get(p, "SMMA", 0), cmma = lk_params_get(p, "CMMA", 0), omma = lk_params_get(p, "MMA", 0);
    if (!smma && !cmma && !omma)
        return 1;
    lk_params eff;
    int64_t K = u->key->head_dim;
    key_effective(u, p, &eff);
    if (omma && !lk_kda_out_mma_ok(&u->ctx->info, u->key->dtype, &eff)) {
        snprintf(why, n, "MMA: kda_out_mma.cl does not apply (f16 scratch, CHUNK >= 16, OBV a multiple of 16)");
        return 0;
    }
    if (smma && !lk_kda_state_mma_ok(&u->ctx->info, u->key->dtype, &eff, K, K)) {
        snprintf(why, n, "SMMA: kda_state_mma.cl does not apply (f16 scratch, CHUNK >= 16, BV a multiple of 8, K <= 128 and even, state tiles a lane, local memory)");
        return 0;
    }
    if (cmma && !(lk_kda_chunk_mma_ok(&u->ctx->info, u->key->dtype, &eff) && lk_params_get(&eff, "SUB", 16) == 16)) {
        snprintf(why, n, "CMMA: kda_chunk_mma.cl does not apply (f16 scratch, CHUNK >= 16, SUB 16, local memory)");
        return 0;
    }
    return 1;
}

/* With the tensor-core chunk and state kernels both running, no kernel is sized by WG (kda_out's
 * work-groups come from CHUNK and OBV): tune such candidates once, at WG 128. */
static int wg_in_use(const lk_params *p, const void *user, char *why, size_t n)
{
    const tune_space_user *u = user;
    int wg = lk_params_get(p, "WG", 128);
    if (wg == 128)
        return 1;
    lk_params eff;
    key_effective(u, p, &eff);
    if (!lk_kda_state_mma_ok(&u->ctx->info, u->key->dtype, &eff, u->key->head_dim, u->key->head_dim) ||
        !lk_kda_chunk_mma_ok(&u->ctx->info, u->key->dtype, &eff))
        return 1;
    snprintf(why, n, "WG %d sizes no kernel with CMMA and SMMA (tuned at WG 128)", wg);
    return 0;
}

/* FUSEOUT = 1 only where the state pass fuses the output (lk_kda_state_mma_sets), and then once
 * per state tile: kda_out, which MMA and OBV size, does not run (tuned at MMA 1, OBV 64). */
static int fuseout_applies(const lk_params *p, const void *user, char *why, size_t n)
{
    const tune_space_user *u = user;
    if (!lk_params_get(p, "FUSEOUT", 0))
        return 1;
    lk_params eff;
    int fuse = 0;
    key_effective(u, p, &eff);
    lk_kda_state_mma_sets(&u->ctx->info, u->key->dtype, &eff, u->key->head_dim, u->key->head_dim, &fuse);
    if (!fuse) {
        snprintf(why, n, "FUSEOUT: kda_state_mma.cl does not fuse the output here (SMMA, two sets of copies with qg and Aqk in local memory)");
        return 0;
    }
    if (lk_params_get(p, "MMA", 0) != 1 || lk_params_get(p, "OBV", 64) != 64) {
        snprintf(why, n, "FUSEOUT: kda_out does not run, so MMA and OBV are tuned once (1, 64)");
        return 0;
    }
    return 1;
}

/* A chunk longer than the sequence runs as the shorter one: tune it once. */
static int chunk_within_length(const lk_params *p, const void *user, char *why, size_t n)
{
    const tune_space_user *u = user;
    int chunk = lk_params_get(p, "CHUNK", 16);
    if (chunk <= u->key->length || chunk == 16)
        return 1;
    snprintf(why, n, "CHUNK %d > length %lld", chunk, (long long)u->key->length);
    return 0;
}

/* A sub-chunk as long as the chunk runs as SUB = CHUNK: tune it once. */
static int sub_within_chunk(const lk_params *p, const void *user, char *why, size_t n)
{
    int chunk = lk_params_get(p, "CHUNK", 16), sub = lk_params_get(p, "SUB", 16);
    if (sub <= chunk)
        return 1;
    snprintf(why, n, "SUB %d > CHUNK %d", sub, chunk);
    return 0;
}

static void kda_space(const tune_space_user *u, space *s)
{
    static const int chunk[] = {16, 32, 64}, sub[] = {8, 16, 32, 64}, bv_gpu[] = {8, 16, 32, 64}, wg_gpu[] = {32, 64, 128, 256};
    static const int bv_cpu[] = {32, 64, 128}, wg_cpu[] = {32, 64, 128}, obv[] = {32, 64, 128};
    int cpu = u->ctx->info.type == LK_DEVICE_CPU;
    memset(s, 0, sizeof *s);
    s->user = u;
    space_add_list(s, "CHUNK", 3, chunk);
    space_add_list(s, "SUB", 4, sub);
    space_add_list(s, "BV", cpu ? 3 : 4, cpu ? bv_cpu : bv_gpu);
    space_add_list(s, "WG", cpu ? 3 : 4, cpu ? wg_cpu : wg_gpu);
    space_add_list(s, "OBV", 3, obv);
    static const int mma_on[] = {0, 1}, mma_off[] = {0};
    int mma = lk_device_tensor_cores(&u->ctx->info) && u->key->dtype == LK_F16;
    space_add_list(s, "MMA", mma ? 2 : 1, mma ? mma_on : mma_off);
    space_add_list(s, "SMMA", mma ? 2 : 1, mma ? mma_on : mma_off);
    space_add_list(s, "CMMA", mma ? 2 : 1, mma ? mma_on : mma_off);
    const int f16 = u->key->dtype == LK_F16;
    space_add_list(s, "SCR16", f16 ? 2 : 1, f16 ? mma_on : mma_off);
    space_add_list(s, "FUSEOUT", mma ? 2 : 1, mma ? mma_on : mma_off);
    space_add_constraint(s, "wg_multiple_of_bv", wg_multiple_of_bv);
    space_add_constraint(s, "chunk_within_length", chunk_within_length);
    space_add_constraint(s, "sub_within_chunk", sub_within_chunk);
    space_add_constraint(s, "fits_device", fits_device);
    space_add_constraint(s, "mma_kernels_apply", mma_kernels_apply);
    space_add_constraint(s, "wg_in_use", wg_in_use);
    space_add_constraint(s, "fuseout_applies", fuseout_applies);
}

static void defaults(const lk_device_info *dev, const lk_tune_key *key, lk_params *out)
{
    lk_kda_defaults(dev, key->head_dim, key->head_dim, out);
}

static int fits(lk_context *ctx, const lk_tune_key *key, const tune_shape *shape)
{
    return kda_problem_fits(ctx, key->dtype, tune_batch(shape), key->length, kda_heads(ctx, shape), key->head_dim);
}

static void teardown(void *state)
{
    kda_state *s = state;
    if (!s)
        return;
    kda_problem_free(&s->timed);
    kda_check_free(&s->check);
    free(s);
}

static lk_status setup(lk_context *ctx, const lk_tune_key *key, const tune_shape *shape, void **state)
{
    kda_state *s = calloc(1, sizeof *s);
    if (!s)
        return LK_ERR_OUT_OF_MEMORY;
    lk_status st = kda_problem_create(ctx, key->dtype, tune_batch(shape), key->length, kda_heads(ctx, shape),
                                      key->head_dim, 1, 0, &s->timed);
    if (st == LK_OK)
        st = kda_check_init(ctx, key, &s->check);
    if (st != LK_OK) {
        teardown(s);
        return st;
    }
    *state = s;
    return LK_OK;
}

static lk_status check(void *state, const lk_params *p, double *rel_err, double *tol)
{
    kda_state *s = state;
    *tol = s->check.tol;
    return kda_check_run(&s->check, p, rel_err);
}

static lk_status run(void *state, const lk_params *p)
{
    kda_state *s = state;
    kda_call call = {&s->timed, p};
    return kda_call_run(s->timed.ctx, &call);
}

const tune_op tune_op_kda_fwd = {
    .name = "kda_fwd",
    .nfamilies = 1,
    .families = {""},
    .flag_name = NULL,
    .head_dims = "128",
    .head_dim_choices = {64, 128},
    .seq_gpu = "1024:65536",
    .seq_cpu = "256:4096",
    .space = kda_space,
    .defaults = defaults,
    .fits = fits,
    .setup = setup,
    .check = check,
    .run = run,
    .fits_built = NULL,
    .teardown = teardown,
    .bench = bench_kda,
};
