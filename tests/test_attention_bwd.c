/* lk_attention_bwd against ref_attention_bwd on every compiled backend, the reference itself
 * against finite differences of ref_attention_fwd, the RoPE variants against each other, a
 * device forward feeding the backward, and bad input.
 *
 * Tolerances (relative error of harness.h, per gradient tensor, against the fp64 reference on
 * the same rounded inputs): the harness's 1e-5 for f32 and 2e-3 for f16 (measured worst: 7e-7
 * and 7e-4; o and the gradients are stored as half). Variants against each other: 1e-5 (f32).
 *
 * The tensor_core cases force the tensor-core kernels' tiles (MMA=1) by a tuning override; they run
 * on NVIDIA GPUs of compute capability 8+ (CUDA and NVIDIA OpenCL) and skip elsewhere, and where
 * the tiles' shared memory exceeds the backend's limit (48 KB in OpenCL). Same f16 tolerance: P and
 * dS are rounded to f16 for the products, as in FlashAttention-2. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "attention_bwd_ref.h"
#include "ops/attention_bwd.h"

typedef struct {
    int64_t B, Hq, Hkv, Sq, Sk, D;
    int causal;
    lk_dtype dtype;
    int rope;            /* 0 none, 1 theta 10000, 2 llama3 scaling, theta 500000 */
    lk_rope_variant variant;
    lk_rope_layout layout;
    int pos_ids;         /* explicit per-batch position ids */
    lkt_layout mem;      /* layout of every [B, H, S, D] tensor in memory */
    lkt_backend backend;
    char tiles[80];      /* tuning override for the call, or "" (an array: cases are copied) */
} bwd_case;

#define AUTO LK_ROPE_VARIANT_AUTO
#define FUSED LK_ROPE_FUSED
#define KPRE LK_ROPE_K_PREPASS
#define UNF LK_ROPE_UNFUSED
#define HS LK_ROPE_HALF_SPLIT
#define IL LK_ROPE_INTERLEAVED

/* B Hq Hkv Sq Sk D causal dtype rope variant layout ids mem */
#define CASES(X)                                                                                                   \
    X(1, 2, 2, 1, 1, 64, 0, LK_F32, 0, AUTO, HS, 0, LKT_CONTIGUOUS)          /* one key: dq = dk = 0 */            \
    X(1, 2, 1, 1, 37, 64, 1, LK_F32, 1, AUTO, HS, 0, LKT_CONTIGUOUS)         /* one query row */                   \
    X(2, 4, 1, 37, 37, 64, 1, LK_F32, 0, AUTO, HS, 0, LKT_CONTIGUOUS)        /* GQA 4:1 */                         \
    X(1, 2, 1, 37, 130, 128, 1, LK_F16, 0, AUTO, HS, 0, LKT_BSHD)            /* Sq < Sk */                         \
    X(1, 2, 2, 130, 37, 64, 1, LK_F32, 0, AUTO, HS, 0, LKT_PADDED)           /* Sq > Sk: masked rows */            \
    X(1, 1, 1, 7, 3, 256, 0, LK_F32, 0, AUTO, HS, 0, LKT_CONTIGUOUS)                                               \
    X(1, 4, 2, 130, 130, 64, 1, LK_F32, 1, FUSED, HS, 0, LKT_CONTIGUOUS)                                           \
    X(1, 4, 2, 130, 130, 64, 1, LK_F32, 1, KPRE, IL, 0, LKT_PADDED)                                                \
    X(1, 4, 2, 130, 130, 64, 1, LK_F32, 1, UNF, HS, 0, LKT_BSHD)                                                   \
    X(2, 4, 2, 37, 64, 128, 1, LK_F16, 2, FUSED, IL, 1, LKT_CONTIGUOUS)                                            \
    X(2, 4, 2, 37, 64, 128, 1, LK_F16, 2, UNF, HS, 1, LKT_BSHD)                                                    \
    X(1, 2, 1, 17, 64, 64, 0, LK_F16, 1, AUTO, IL, 0, LKT_PADDED)                                                 \
    X(1, 4, 2, 70, 90, 128, 1, LK_F16, 0, AUTO, HS, 0, LKT_UNALIGNED)        /* rows loaded element by element */  \
    X(1, 2, 1, 50, 50, 64, 0, LK_F32, 1, KPRE, IL, 0, LKT_UNALIGNED)

#define ROW(b, hq, hkv, sq, sk, d, c, dt, r, var, lay, ids, mem)                                                   \
    {b, hq, hkv, sq, sk, d, c, dt, r, var, lay, ids, mem, LKT_OPENCL, ""},                                         \
        {b, hq, hkv, sq, sk, d, c, dt, r, var, lay, ids, mem, LKT_CUDA, ""},

static lk_rope_params rope_of(int kind, lk_rope_layout layout)
{
    lk_rope_params rope = lk_rope_params_default();
    rope.layout = layout;
    rope.position_offset = 5;
    if (kind == 2) {
        rope.theta = 500000.0;
        rope.scaling = LK_ROPE_SCALING_LLAMA3;
        rope.factor = 8.0;
        rope.original_max_position = 64; /* small, so the test's positions cross every regime */
    }
    return rope;
}

/* Positions 100 b + 3 s, aligned at the end like the op's defaults. */
static void fill_positions(int32_t *qpos, int32_t *kpos, int64_t B, int64_t Sq, int64_t Sk)
{
    for (int64_t b = 0; b < B; b++) {
        for (int64_t s = 0; s < Sk; s++)
            kpos[b * Sk + s] = (int32_t)(100 * b + 3 * s);
        for (int64_t s = 0; s < Sq; s++)
            qpos[b * Sq + s] = (int32_t)(100 * b + 3 * (s + Sk - Sq));
    }
}

/* Host inputs of one problem, the reference's forward outputs and gradients. */
typedef struct {
    const bwd_case *c;
    size_t nq, nk, nl;
    float *q, *k, *v, *dout, *o, *lse;
    double *dq, *dk, *dv;
    int32_t *qpos, *kpos;
    lk_rope_params rope;
    ref_attention_args ra;
} problem;

static void problem_make(problem *pb, const bwd_case *c, uint64_t stream)
{
    memset(pb, 0, sizeof *pb);
    pb->c = c;
    pb->nq = (size_t)(c->B * c->Hq * c->Sq * c->D);
    pb->nk = (size_t)(c->B * c->Hkv * c->Sk * c->D);
    pb->nl = (size_t)(c->B * c->Hq * c->Sq);
    lkt_rng rng = lkt_rng_make(lkt_seed(), stream);
    float **in[] = {&pb->q, &pb->k, &pb->v, &pb->dout};
    size_t n[] = {pb->nq, pb->nk, pb->nk, pb->nq};
    for (int i = 0; i < 4; i++) {
        *in[i] = malloc(n[i] * sizeof(float));
        lkt_fill(&rng, *in[i], n[i]);
        if (c->dtype == LK_F16) /* the values the device will see */
            for (size_t j = 0; j < n[i]; j++)
                (*in[i])[j] = ref_h2f(ref_f2h((*in[i])[j]));
    }
    pb->rope = rope_of(c->rope, c->layout);
    if (c->pos_ids) {
        pb->qpos = malloc(sizeof(int32_t) * (size_t)(c->B * c->Sq));
        pb->kpos = malloc(sizeof(int32_t) * (size_t)(c->B * c->Sk));
        fill_positions(pb->qpos, pb->kpos, c->B, c->Sq, c->Sk);
    }
    ref_attention_args ra = {c->B, c->Hq, c->Hkv, c->Sq, c->Sk, c->D, c->causal, 0.0,
                             c->rope ? &pb->rope : NULL, pb->qpos, pb->kpos};
    pb->ra = ra;
    double *o = malloc(pb->nq * sizeof(double)), *lse = malloc(pb->nl * sizeof(double));
    ref_attention_fwd(&pb->ra, pb->q, pb->k, pb->v, o, lse);
    pb->o = malloc(pb->nq * sizeof(float));
    pb->lse = malloc(pb->nl * sizeof(float));
    for (size_t i = 0; i < pb->nq; i++)
        pb->o[i] = (float)o[i];
    for (size_t i = 0; i < pb->nl; i++)
        pb->lse[i] = (float)lse[i];
    free(o);
    free(lse);
    pb->dq = malloc(pb->nq * sizeof(double));
    pb->dk = malloc(pb->nk * sizeof(double));
    pb->dv = malloc(pb->nk * sizeof(double));
    ref_attention_bwd(&pb->ra, pb->q, pb->k, pb->v, pb->dout, pb->dq, pb->dk, pb->dv);
}

static void problem_free(problem *pb)
{
    void *all[] = {pb->q, pb->k, pb->v, pb->dout, pb->o, pb->lse, pb->dq, pb->dk, pb->dv, pb->qpos, pb->kpos};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
}

/* The problem on a device: inputs, poisoned gradients (every element must be written), ids. */
typedef struct {
    lkt_tensor q, k, v, o, lse, dout, dq, dk, dv, qpos, kpos;
    lk_attention_params p;
} device_problem;

static void device_make(lk_context *ctx, const problem *pb, device_problem *dp)
{
    const bwd_case *c = pb->c;
    memset(dp, 0, sizeof *dp);
    int64_t qs[4] = {c->B, c->Hq, c->Sq, c->D}, ks[4] = {c->B, c->Hkv, c->Sk, c->D}, ls[3] = {c->B, c->Hq, c->Sq};
    float *poison = malloc((pb->nq > pb->nk ? pb->nq : pb->nk) * sizeof(float));
    for (size_t i = 0; i < (pb->nq > pb->nk ? pb->nq : pb->nk); i++)
        poison[i] = 1.0f;
    dp->q = lkt_upload(ctx, c->dtype, c->mem, qs, pb->q);
    dp->k = lkt_upload(ctx, c->dtype, c->mem, ks, pb->k);
    dp->v = lkt_upload(ctx, c->dtype, c->mem, ks, pb->v);
    dp->dout = lkt_upload(ctx, c->dtype, c->mem, qs, pb->dout);
    float *o = malloc(pb->nq * sizeof(float)); /* upload rounds its host copy in place */
    memcpy(o, pb->o, pb->nq * sizeof(float));
    dp->o = lkt_upload(ctx, c->dtype, c->mem, qs, o);
    free(o);
    dp->lse = lkt_zeros(ctx, LK_F32, 3, ls);
    LKT_OK(ctx, lk_buffer_write(ctx, dp->lse.buf, 0, pb->lse, pb->nl * sizeof(float)));
    dp->dq = lkt_upload(ctx, c->dtype, c->mem, qs, poison);
    dp->dk = lkt_upload(ctx, c->dtype, c->mem, ks, poison);
    dp->dv = lkt_upload(ctx, c->dtype, c->mem, ks, poison);
    free(poison);
    dp->p = lk_attention_params_default();
    dp->p.causal = c->causal;
    dp->p.rope = pb->ra.rope;
    dp->p.rope_variant = c->variant;
    if (c->pos_ids) {
        int64_t qsh[2] = {c->B, c->Sq}, ksh[2] = {c->B, c->Sk};
        dp->qpos = lkt_zeros(ctx, LK_I32, 2, qsh);
        dp->kpos = lkt_zeros(ctx, LK_I32, 2, ksh);
        LKT_OK(ctx, lk_buffer_write(ctx, dp->qpos.buf, 0, pb->qpos, sizeof(int32_t) * (size_t)(c->B * c->Sq)));
        LKT_OK(ctx, lk_buffer_write(ctx, dp->kpos.buf, 0, pb->kpos, sizeof(int32_t) * (size_t)(c->B * c->Sk)));
        dp->p.q_position_ids = &dp->qpos.t;
        dp->p.k_position_ids = &dp->kpos.t;
    }
}

static lk_status device_backward(lk_context *ctx, device_problem *dp)
{
    return lk_attention_bwd(ctx, &dp->q.t, &dp->k.t, &dp->v.t, &dp->o.t, &dp->lse.t, &dp->dout.t, &dp->dq.t,
                            &dp->dk.t, &dp->dv.t, &dp->p);
}

/* Downloads dq, dk, dv into the three arrays. */
static void device_gradients(lk_context *ctx, device_problem *dp, float *dq, float *dk, float *dv)
{
    lkt_download(ctx, &dp->dq, dq);
    lkt_download(ctx, &dp->dk, dk);
    lkt_download(ctx, &dp->dv, dv);
}

static void device_free(device_problem *dp)
{
    lkt_tensor *all[] = {&dp->q, &dp->k, &dp->v, &dp->o, &dp->lse, &dp->dout, &dp->dq, &dp->dk, &dp->dv,
                         &dp->qpos, &dp->kpos};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        lkt_free(all[i]);
}

/* got against ref like lkt_expect_close; a gradient that vanishes (max |ref| below 1e-6 of
 * `scale`, e.g. dq and dk with a single key) must stay below tol * scale instead. */
static void expect_gradient(const char *label, const float *got, const double *ref, size_t n, double tol,
                            double scale)
{
    double ref_max = 0, got_max = 0;
    for (size_t i = 0; i < n; i++) {
        ref_max = fmax(ref_max, fabs(ref[i]));
        got_max = fmax(got_max, fabs(got[i]));
    }
    if (ref_max > 1e-6 * scale)
        lkt_expect_close(label, got, ref, n, tol);
    else
        cr_expect(got_max <= tol * scale, "%s vanishes (max |ref| %g) but max |got| is %g", label, ref_max, got_max);
}

/* The three gradients against pb's reference (dv never vanishes; dq and dk may), then frees them. */
static void expect_gradients_and_free(const problem *pb, float *dq, float *dk, float *dv, double tol, double scale)
{
    expect_gradient("dq", dq, pb->dq, pb->nq, tol, scale);
    expect_gradient("dk", dk, pb->dk, pb->nk, tol, scale);
    lkt_expect_close("dv", dv, pb->dv, pb->nk, tol);
    free(dq);
    free(dk);
    free(dv);
}

static double max_abs(const double *x, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(x[i]));
    return m;
}

ParameterizedTestParameters(attention_bwd, matches_reference)
{
    static bwd_case cases[] = {CASES(ROW)};
    return cr_make_param_array(bwd_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(bwd_case *c, attention_bwd, matches_reference)
{
    lk_context *ctx = lkt_open(c->backend);
    problem pb;
    problem_make(&pb, c, (uint64_t)(c->Sq * 131 + c->Sk * 7 + c->D + c->rope));
    device_problem dp;
    device_make(ctx, &pb, &dp);
    LKT_OK(ctx, device_backward(ctx, &dp));
    cr_log_info("%s: %s", lkt_backend_name(c->backend), lk_last_launch(ctx));
    float *dq = malloc(pb.nq * sizeof(float)), *dk = malloc(pb.nk * sizeof(float)), *dv = malloc(pb.nk * sizeof(float));
    device_gradients(ctx, &dp, dq, dk, dv);
    double tol = c->dtype == LK_F16 ? LKT_TOL_F16 : LKT_TOL_F32;
    double scale = max_abs(pb.dv, pb.nk); /* dv never vanishes */
    expect_gradients_and_free(&pb, dq, dk, dv, tol, scale);
    device_free(&dp);
    problem_free(&pb);
    lk_context_destroy(ctx);
}

/* Tensor-core cases: B Hq Hkv Sq Sk D causal dtype rope variant layout ids mem, tiles. The hd128
 * "WARPS=4,BLOCK_N=64,BLOCK_M=16,STAGES=1" and hd64 tiles of at most 48 KB also run on NVIDIA OpenCL. */
#define T128_CL "MMA=1,WARPS=4,BLOCK_N=64,BLOCK_M=16,STAGES=1"
#define MMA_CASES(X)                                                                                               \
    X(1, 2, 2, 130, 130, 128, 0, LK_F16, 0, AUTO, HS, 0, LKT_CONTIGUOUS, "MMA=1,WARPS=8,BLOCK_N=128,BLOCK_M=32,STAGES=2") \
    X(1, 2, 2, 130, 130, 128, 0, LK_F16, 0, AUTO, HS, 0, LKT_CONTIGUOUS, T128_CL)                                 \
    X(2, 4, 2, 200, 200, 128, 1, LK_F16, 0, AUTO, HS, 0, LKT_CONTIGUOUS, T128_CL)          /* GQA, causal */        \
    X(2, 4, 2, 200, 200, 128, 1, LK_F16, 0, AUTO, HS, 0, LKT_BSHD, "MMA=1,WARPS=8,BLOCK_N=128,BLOCK_M=64,STAGES=3") \
    X(1, 4, 1, 77, 300, 64, 1, LK_F16, 0, AUTO, HS, 0, LKT_BSHD, "MMA=1,WARPS=8,BLOCK_N=128,BLOCK_M=64,STAGES=3")   \
    X(1, 4, 1, 77, 300, 64, 0, LK_F16, 0, AUTO, HS, 0, LKT_CONTIGUOUS, "MMA=1,WARPS=4,BLOCK_N=64,BLOCK_M=32,STAGES=2") \
    X(1, 2, 1, 300, 77, 64, 1, LK_F16, 0, AUTO, HS, 0, LKT_CONTIGUOUS, "MMA=1,WARPS=4,BLOCK_N=128,BLOCK_M=16,STAGES=1") \
    X(1, 4, 2, 130, 150, 128, 1, LK_F16, 1, FUSED, HS, 0, LKT_CONTIGUOUS, "MMA=1,WARPS=8,BLOCK_N=128,BLOCK_M=32,STAGES=2") \
    X(1, 4, 2, 130, 150, 128, 1, LK_F16, 1, FUSED, IL, 0, LKT_CONTIGUOUS, T128_CL)                                 \
    X(2, 4, 2, 100, 100, 128, 1, LK_F16, 2, KPRE, IL, 1, LKT_CONTIGUOUS, "MMA=1,WARPS=4,BLOCK_N=64,BLOCK_M=32,STAGES=2") \
    X(2, 4, 2, 100, 100, 128, 0, LK_F16, 2, UNF, HS, 1, LKT_BSHD, T128_CL)                                         \
    X(1, 2, 2, 64, 64, 64, 0, LK_F16, 1, UNF, HS, 0, LKT_BSHD, "MMA=1,WARPS=4,BLOCK_N=64,BLOCK_M=32,STAGES=2")      \
    X(1, 2, 2, 64, 64, 64, 1, LK_F16, 1, FUSED, IL, 0, LKT_CONTIGUOUS, "MMA=1,WARPS=4,BLOCK_N=64,BLOCK_M=32,STAGES=2") \
    X(1, 2, 1, 1, 37, 128, 1, LK_F16, 1, FUSED, IL, 0, LKT_CONTIGUOUS, T128_CL)            /* one query row */      \
    X(1, 4, 1, 700, 700, 128, 1, LK_F16, 1, FUSED, HS, 0, LKT_CONTIGUOUS, "MMA=1,WARPS=8,BLOCK_N=128,BLOCK_M=64,STAGES=2") \
    X(1, 2, 2, 513, 513, 128, 0, LK_F16, 0, AUTO, HS, 0, LKT_CONTIGUOUS, "MMA=1,WARPS=8,BLOCK_N=128,BLOCK_M=16,STAGES=3") \
    X(1, 2, 2, 61, 61, 128, 1, LK_F32, 0, AUTO, HS, 0, LKT_PADDED, "MMA=1,WARPS=8,BLOCK_N=128,BLOCK_M=32,STAGES=2") /* f32: generic */

#define MMA_ROW(b, hq, hkv, sq, sk, d, c, dt, r, var, lay, ids, mem, tiles)                                        \
    {b, hq, hkv, sq, sk, d, c, dt, r, var, lay, ids, mem, LKT_OPENCL, tiles},                                      \
        {b, hq, hkv, sq, sk, d, c, dt, r, var, lay, ids, mem, LKT_CUDA, tiles},

ParameterizedTestParameters(attention_bwd, tensor_core)
{
    static bwd_case cases[] = {MMA_CASES(MMA_ROW)};
    return cr_make_param_array(bwd_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(bwd_case *c, attention_bwd, tensor_core)
{
    lk_context *ctx = lkt_open(c->backend);
    const lk_device_info *dev = lk_context_device(ctx);
    if (!lk_attention_bwd_has_mma(dev, (int)c->D))
        cr_skip_test("tensor-core tiles need an NVIDIA GPU of compute capability 8+ (this device: %s)", dev->name);
    lk_params tiles;
    cr_assert_eq(lk_params_parse(c->tiles, &tiles), LK_OK, "tiles %s", c->tiles);
    if (lk_attention_bwd_local_bytes(&tiles, (int)c->D) > lk_attention_bwd_local_limit(dev, &tiles))
        cr_skip_test("%s: needs %zu B of shared memory, %s %s allows %zu B per work-group (above 48 KB only the CUDA"
                     " build, by opt-in dynamic shared memory)",
                     c->tiles, lk_attention_bwd_local_bytes(&tiles, (int)c->D), lkt_backend_name(c->backend),
                     dev->name, lk_attention_bwd_local_limit(dev, &tiles));
    LKT_OK(ctx, lk_tuning_override(ctx, "attention_bwd", c->dtype, (int)c->D, c->causal, 0, c->tiles));
    problem pb;
    problem_make(&pb, c, (uint64_t)(c->Sq * 131 + c->Sk * 7 + c->D + c->rope));
    device_problem dp;
    device_make(ctx, &pb, &dp);
    LKT_OK(ctx, device_backward(ctx, &dp));
    int want_mma = c->dtype == LK_F16; /* f32: the generic kernels, whatever the tuned set says */
    const char *launch = lk_last_launch(ctx);
    cr_expect((strstr(launch, "attention_bwd_mma") != NULL) == want_mma, "%s: launch %s", c->tiles, launch);
    float *dq = malloc(pb.nq * sizeof(float)), *dk = malloc(pb.nk * sizeof(float)), *dv = malloc(pb.nk * sizeof(float));
    device_gradients(ctx, &dp, dq, dk, dv);
    double tol = c->dtype == LK_F16 ? LKT_TOL_F16 : LKT_TOL_F32, scale = max_abs(pb.dv, pb.nk);
    cr_log_info("%s: %s; relative errors dq %.2g dk %.2g dv %.2g", lkt_backend_name(c->backend), launch,
                lkt_rel_error(dq, pb.dq, pb.nq, NULL), lkt_rel_error(dk, pb.dk, pb.nk, NULL),
                lkt_rel_error(dv, pb.dv, pb.nk, NULL));
    expect_gradients_and_free(&pb, dq, dk, dv, tol, scale);
    device_free(&dp);
    problem_free(&pb);
    lk_context_destroy(ctx);
}

/* The three RoPE variants give the same gradients, from o and lse of the device's own forward. */
LKT_EACH_BACKEND(b, attention_bwd, variants_agree_after_device_forward)
{
    lk_context *ctx = lkt_open(*b);
    bwd_case c = {2, 4, 2, 77, 100, 64, 1, LK_F32, 1, FUSED, HS, 0, LKT_CONTIGUOUS, *b, ""};
    problem pb;
    problem_make(&pb, &c, 7);
    device_problem dp;
    device_make(ctx, &pb, &dp);
    LKT_OK(ctx, lk_attention_fwd(ctx, &dp.q.t, &dp.k.t, &dp.v.t, &dp.o.t, &dp.lse.t, &dp.p));

    static const lk_rope_variant variants[] = {LK_ROPE_FUSED, LK_ROPE_K_PREPASS, LK_ROPE_UNFUSED};
    float *got[3][3];
    for (int i = 0; i < 3; i++) {
        dp.p.rope_variant = variants[i];
        LKT_OK(ctx, device_backward(ctx, &dp));
        char want[32];
        snprintf(want, sizeof want, "VARIANT=%d", (int)variants[i]);
        cr_expect(strstr(lk_last_launch(ctx), want) != NULL, "%s not in %s", want, lk_last_launch(ctx));
        size_t n[3] = {pb.nq, pb.nk, pb.nk};
        for (int t = 0; t < 3; t++)
            got[i][t] = malloc(n[t] * sizeof(float));
        device_gradients(ctx, &dp, got[i][0], got[i][1], got[i][2]);
    }
    static const char *const names[3] = {"dq", "dk", "dv"};
    size_t n[3] = {pb.nq, pb.nk, pb.nk};
    double *ref[3] = {pb.dq, pb.dk, pb.dv};
    for (int t = 0; t < 3; t++) {
        lkt_expect_close(names[t], got[0][t], ref[t], n[t], LKT_TOL_F32);
        double *fused = malloc(n[t] * sizeof(double));
        for (size_t j = 0; j < n[t]; j++)
            fused[j] = got[0][t][j];
        for (int i = 1; i < 3; i++) {
            char label[48];
            snprintf(label, sizeof label, "%s variant %d vs fused", names[t], (int)variants[i]);
            lkt_expect_close(label, got[i][t], fused, n[t], LKT_TOL_F32);
        }
        free(fused);
    }
    for (int i = 0; i < 3; i++)
        for (int t = 0; t < 3; t++)
            free(got[i][t]);
    device_free(&dp);
    problem_free(&pb);
    lk_context_destroy(ctx);
}

/* L = sum(dout * o(q, k, v)) by the reference forward. */
static double loss(const ref_attention_args *a, const float *q, const float *k, const float *v, const float *dout,
                   size_t nq)
{
    double *o = malloc(nq * sizeof(double));
    ref_attention_fwd(a, q, k, v, o, NULL);
    double l = 0;
    for (size_t i = 0; i < nq; i++)
        l += dout[i] * o[i];
    free(o);
    return l;
}

/* Central differences of loss w.r.t. every element of x, with the step exactly as stored in
 * float (x + h and x - h are rounded, the divisor is their true distance). */
static void numeric_gradient(const ref_attention_args *a, float *x, size_t n, const float *q, const float *k,
                             const float *v, const float *dout, size_t nq, double *grad)
{
    const double h = 1e-3;
    for (size_t i = 0; i < n; i++) {
        float x0 = x[i], xp = (float)(x0 + h), xm = (float)(x0 - h);
        x[i] = xp;
        double lp = loss(a, q, k, v, dout, nq);
        x[i] = xm;
        double lm = loss(a, q, k, v, dout, nq);
        x[i] = x0;
        grad[i] = (lp - lm) / ((double)xp - (double)xm);
    }
}

/* The reference backward is the derivative of the reference forward: checked by finite
 * differences on tiny shapes (GQA, causal with Sq != Sk and masked rows, RoPE with scaling,
 * both pair layouts, explicit positions). Host only. Tolerance 1e-6 relative: the step's
 * truncation error is ~h^2 = 1e-6 of the third derivative, rounding ~1e-13. */
Test(attention_bwd_ref, finite_differences)
{
    static const bwd_case tiny[] = {
        {1, 2, 1, 3, 5, 8, 1, LK_F32, 2, AUTO, IL, 0, LKT_CONTIGUOUS, LKT_OPENCL, ""},
        {1, 2, 2, 4, 2, 4, 1, LK_F32, 0, AUTO, HS, 0, LKT_CONTIGUOUS, LKT_OPENCL, ""},
        {2, 2, 1, 3, 4, 6, 0, LK_F32, 1, AUTO, HS, 1, LKT_CONTIGUOUS, LKT_OPENCL, ""},
    };
    for (size_t t = 0; t < sizeof tiny / sizeof tiny[0]; t++) {
        problem pb;
        problem_make(&pb, &tiny[t], 1000 + t);
        float *x[3] = {pb.q, pb.k, pb.v};
        double *analytic[3] = {pb.dq, pb.dk, pb.dv};
        size_t n[3] = {pb.nq, pb.nk, pb.nk};
        static const char *const names[3] = {"dq", "dk", "dv"};
        for (int i = 0; i < 3; i++) {
            double *numeric = malloc(n[i] * sizeof(double));
            numeric_gradient(&pb.ra, x[i], n[i], pb.q, pb.k, pb.v, pb.dout, pb.nq, numeric);
            double worst = 0, scale = 0;
            for (size_t j = 0; j < n[i]; j++) {
                worst = fmax(worst, fabs(analytic[i][j] - numeric[j]));
                scale = fmax(scale, fabs(numeric[j]));
            }
            cr_expect(worst <= 1e-6 * scale, "case %zu %s: |analytic - numeric| %g vs max |numeric| %g", t, names[i],
                      worst, scale);
            cr_expect(scale > 0, "case %zu %s: gradient is zero", t, names[i]);
            free(numeric);
        }
        problem_free(&pb);
    }
}

static void expect_status(lk_context *ctx, lk_status got, lk_status want, const char *what)
{
    cr_expect_eq(got, want, "%s: got %s (%s), want %s", what, lk_status_str(got), lk_last_error(ctx),
                 lk_status_str(want));
    cr_expect(strlen(lk_last_error(ctx)) > 0, "%s: no error message", what);
    cr_expect_str_empty(lk_last_launch(ctx), "%s launched a kernel: %s", what, lk_last_launch(ctx));
}

/* Bad input returns the documented status with a message and launches nothing. */
LKT_EACH_BACKEND(b, attention_bwd, bad_input)
{
    lk_context *c = lkt_open(*b);
    bwd_case bc = {1, 4, 2, 8, 8, 64, 1, LK_F32, 0, AUTO, HS, 0, LKT_CONTIGUOUS, *b, ""};
    problem pb;
    problem_make(&pb, &bc, 3);
    device_problem d;
    device_make(c, &pb, &d);
    lk_tensor *q = &d.q.t, *k = &d.k.t, *v = &d.v.t, *o = &d.o.t, *lse = &d.lse.t, *g = &d.dout.t;
    lk_tensor *dq = &d.dq.t, *dk = &d.dk.t, *dv = &d.dv.t;
    lk_attention_params *p = &d.p;

    expect_status(c, lk_attention_bwd(c, q, k, v, o, NULL, g, dq, dk, dv, p), LK_ERR_NULL_POINTER, "lse NULL");
    expect_status(c, lk_attention_bwd(c, q, k, v, o, lse, NULL, dq, dk, dv, p), LK_ERR_NULL_POINTER, "dout NULL");
    expect_status(c, lk_attention_bwd(c, q, k, v, o, lse, g, dq, dk, dv, NULL), LK_ERR_NULL_POINTER, "params NULL");
    expect_status(c, lk_attention_bwd(c, q, k, v, o, lse, g, dk, dq, dv, p), LK_ERR_SHAPE, "dq with k's shape");
    expect_status(c, lk_attention_bwd(c, q, k, v, o, lse, g, dq, dk, dk, p), LK_ERR_ALIAS, "dv is dk");
    expect_status(c, lk_attention_bwd(c, q, k, v, o, lse, g, dq, k, dv, p), LK_ERR_ALIAS, "dk overwrites k");
    expect_status(c, lk_attention_bwd(c, q, k, v, o, lse, g, g, dk, dv, p), LK_ERR_ALIAS, "dq overwrites dout");
    lk_tensor dq16 = *dq;
    dq16.dtype = LK_F16;
    expect_status(c, lk_attention_bwd(c, q, k, v, o, lse, g, &dq16, dk, dv, p), LK_ERR_DTYPE, "dq f16, q f32");
    lk_tensor lse_wide = *lse;
    lse_wide.shape[2] = 4;
    expect_status(c, lk_attention_bwd(c, q, k, v, o, &lse_wide, g, dq, dk, dv, p), LK_ERR_SHAPE, "lse of 4 rows");
    lk_tensor kv3 = *dq; /* a buffer of 4 heads viewed as 3: Hq 4 is not a multiple of 3 */
    kv3.shape[1] = 3;
    expect_status(c, lk_attention_bwd(c, q, &kv3, &kv3, o, lse, g, dq, dk, dv, p), LK_ERR_SHAPE, "Hq % Hkv");
    lk_rope_params rope = lk_rope_params_default();
    rope.theta = 0.5;
    p->rope = &rope;
    expect_status(c, lk_attention_bwd(c, q, k, v, o, lse, g, dq, dk, dv, p), LK_ERR_INVALID_ARGUMENT, "theta < 1");
    p->rope = NULL;
    LKT_OK(c, lk_tuning_override(c, "attention_bwd", LK_F32, 64, 1, 0, "BLOCK_N1=0"));
    expect_status(c, lk_attention_bwd(c, q, k, v, o, lse, g, dq, dk, dv, p), LK_ERR_INVALID_ARGUMENT,
                  "tile of 0 rows");
    LKT_OK(c, lk_tuning_override(c, "attention_bwd", LK_F32, 64, 1, 0, "BLOCK_M1=256,BLOCK_N2=256"));
    lk_status st = lk_attention_bwd(c, q, k, v, o, lse, g, dq, dk, dv, p);
    if (lk_context_device(c)->local_mem_bytes < 256u * 64 * 2 * sizeof(float) + 2048)
        expect_status(c, st, LK_ERR_INVALID_ARGUMENT, "tiles past local memory");
    else
        cr_expect_eq(st, LK_OK, "256-row tiles fit this device's local memory: %s", lk_last_error(c));
    LKT_OK(c, lk_tuning_clear_overrides(c));
    LKT_OK(c, lk_attention_bwd(c, q, k, v, o, lse, g, dq, dk, dv, p));
    device_free(&d);
    problem_free(&pb);
    lk_context_destroy(c);
}
