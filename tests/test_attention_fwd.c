/* lk_attention_fwd against ref_attention_fwd on every compiled backend.
 *
 * Table-driven: each case runs on OpenCL and on CUDA (skipped with the reason where no GPU).
 * Tolerance: relative error (harness.h) <= 1e-5 for f32, <= 2e-3 for f16, on o and lse.
 * The tensor_core cases force the mma kernel's tiles (MMA=1) by a tuning override; they run on
 * NVIDIA GPUs of compute capability 8+ and skip elsewhere, and where their K/V ring exceeds the
 * device's local memory (above 48 KB: only the CUDA build, by opt-in dynamic shared memory). The
 * warpgroup cases force the Hopper wgmma kernel (MMA=2); they run on the CUDA build on compute
 * capability 9.0 only and skip elsewhere. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ops/attention_fwd.h"
#include "ref.h"

typedef struct {
    int64_t B, Hq, Hkv, Sq, Sk, D;
    int causal;
    lk_dtype dtype;
    int rope;            /* 0 none, 1 theta 10000, 2 llama3 scaling, theta 500000 */
    lk_rope_variant variant;
    lk_rope_layout layout;
    int table;           /* fused variant reads cos/sin from a table */
    int pos_ids;         /* explicit per-batch position ids */
    lkt_layout mem;      /* layout of q, k, v, o in memory */
    lkt_backend backend;
    char tiles[80];      /* tuning override for the call, or "" (an array: Criterion may run a test in a
                            re-executed process, where a parent's pointer would not be valid) */
} att_case;

#define AUTO LK_ROPE_VARIANT_AUTO
#define FUSED LK_ROPE_FUSED
#define KPRE LK_ROPE_K_PREPASS
#define UNF LK_ROPE_UNFUSED
#define HS LK_ROPE_HALF_SPLIT
#define IL LK_ROPE_INTERLEAVED

/* B Hq Hkv Sq Sk D causal dtype rope variant layout table ids mem */
#define CASES(X)                                                                                                   \
    X(1, 2, 2, 1, 1, 64, 0, LK_F32, 0, AUTO, HS, 0, 0, LKT_CONTIGUOUS)                                             \
    X(2, 4, 1, 17, 17, 64, 1, LK_F32, 0, AUTO, HS, 0, 0, LKT_CONTIGUOUS)                                           \
    X(1, 8, 2, 113, 113, 128, 1, LK_F32, 0, AUTO, HS, 0, 0, LKT_BSHD)                                              \
    X(1, 2, 2, 64, 1000, 64, 0, LK_F32, 0, AUTO, HS, 0, 0, LKT_PADDED)                                             \
    X(1, 4, 1, 1000, 1000, 128, 1, LK_F16, 0, AUTO, HS, 0, 0, LKT_CONTIGUOUS)                                      \
    X(1, 2, 1, 17, 113, 128, 1, LK_F16, 0, AUTO, HS, 0, 0, LKT_BSHD)                                               \
    X(1, 2, 2, 113, 17, 64, 1, LK_F32, 0, AUTO, HS, 0, 0, LKT_CONTIGUOUS)   /* Sq > Sk: masked rows */             \
    X(2, 2, 2, 5, 1000, 128, 1, LK_F16, 0, AUTO, HS, 0, 0, LKT_CONTIGUOUS)  /* decode on a cache */                \
    X(1, 1, 1, 7, 3, 256, 0, LK_F32, 0, AUTO, HS, 0, 0, LKT_CONTIGUOUS)                                            \
    X(1, 4, 1, 113, 113, 64, 1, LK_F32, 1, FUSED, HS, 0, 0, LKT_CONTIGUOUS)                                        \
    X(1, 4, 1, 113, 113, 64, 1, LK_F32, 1, FUSED, IL, 1, 0, LKT_CONTIGUOUS)                                        \
    X(1, 4, 1, 113, 113, 64, 1, LK_F32, 1, KPRE, HS, 0, 0, LKT_BSHD)                                               \
    X(1, 4, 1, 113, 113, 64, 1, LK_F32, 1, UNF, IL, 0, 0, LKT_PADDED)                                              \
    X(2, 4, 2, 64, 200, 128, 1, LK_F16, 2, FUSED, HS, 0, 1, LKT_CONTIGUOUS)                                        \
    X(2, 4, 2, 64, 200, 128, 1, LK_F16, 2, KPRE, IL, 0, 1, LKT_BSHD)                                               \
    X(2, 4, 2, 64, 200, 128, 1, LK_F16, 2, UNF, HS, 0, 1, LKT_PADDED)                                              \
    X(1, 4, 1, 1000, 1000, 128, 0, LK_F16, 1, FUSED, HS, 1, 0, LKT_CONTIGUOUS)                                     \
    X(1, 2, 2, 1, 1000, 128, 1, LK_F32, 1, AUTO, HS, 0, 0, LKT_CONTIGUOUS)                                         \
    X(1, 2, 1, 17, 64, 64, 0, LK_F16, 1, AUTO, IL, 0, 0, LKT_PADDED)

#define ROW(b, hq, hkv, sq, sk, d, c, dt, r, var, lay, tab, ids, mem)                                            \
    {b, hq, hkv, sq, sk, d, c, dt, r, var, lay, tab, ids, mem, LKT_OPENCL, ""},                                       \
        {b, hq, hkv, sq, sk, d, c, dt, r, var, lay, tab, ids, mem, LKT_CUDA, ""},

ParameterizedTestParameters(attention_fwd, matches_reference)
{
    static att_case cases[] = {CASES(ROW)};
    return cr_make_param_array(att_case, cases, sizeof cases / sizeof cases[0]);
}


/* B Hq Hkv Sq Sk D causal dtype rope variant layout table ids mem tiles: awkward lengths (partial
 * tiles, Sq != Sk, masked rows), every pipeline depth, 4 and 8 warps, all three RoPE variants, Q
 * in registers and (QSMEM=1) in shared memory; the cases of more than 48 KB (the ring's 102 and
 * 204 KB, 136 KB of ring and Q tile) run on the CUDA build only */
#define MMA_CASES(X)                                                                                               \
    X(1, 4, 2, 1000, 1000, 128, 1, LK_F16, 1, FUSED, HS, 0, 0, LKT_CONTIGUOUS,                                     \
      "MMA=1,WARPS=4,BLOCK_M=64,BLOCK_N=64,STAGES=1")                                                              \
    X(2, 2, 1, 130, 333, 64, 1, LK_F16, 1, KPRE, IL, 0, 0, LKT_BSHD, "MMA=1,WARPS=4,BLOCK_M=128,BLOCK_N=32,STAGES=4") \
    X(1, 2, 2, 77, 1000, 128, 0, LK_F16, 1, UNF, HS, 0, 0, LKT_PADDED, "MMA=1,WARPS=8,BLOCK_M=128,BLOCK_N=32,STAGES=2") \
    X(1, 2, 2, 113, 17, 128, 1, LK_F16, 0, AUTO, HS, 0, 0, LKT_CONTIGUOUS,                                          \
      "MMA=1,WARPS=8,BLOCK_M=128,BLOCK_N=64,STAGES=1")                                                             \
    X(2, 4, 2, 64, 200, 64, 1, LK_F16, 2, FUSED, HS, 1, 0, LKT_CONTIGUOUS,                                          \
      "MMA=1,WARPS=4,BLOCK_M=64,BLOCK_N=128,STAGES=1,ROPE_TABLE=1")                                                \
    X(1, 2, 1, 3, 555, 64, 0, LK_F16, 1, FUSED, IL, 0, 0, LKT_CONTIGUOUS, "MMA=1,WARPS=4,BLOCK_M=128,BLOCK_N=32,STAGES=3") \
    X(1, 4, 2, 1000, 1000, 128, 1, LK_F16, 1, FUSED, HS, 0, 0, LKT_CONTIGUOUS,                                     \
      "MMA=1,WARPS=4,BLOCK_M=128,BLOCK_N=64,STAGES=3")                                                             \
    X(1, 2, 2, 77, 1000, 128, 0, LK_F16, 0, AUTO, HS, 0, 0, LKT_BSHD, "MMA=1,WARPS=8,BLOCK_M=128,BLOCK_N=128,STAGES=3") \
    X(2, 2, 1, 130, 333, 64, 0, LK_F16, 1, UNF, IL, 0, 0, LKT_BSHD,                                                 \
      "MMA=1,WARPS=4,BLOCK_M=128,BLOCK_N=32,STAGES=2,QSMEM=1")                                                     \
    X(1, 4, 2, 1000, 1000, 128, 1, LK_F16, 1, FUSED, HS, 0, 0, LKT_CONTIGUOUS,                                     \
      "MMA=1,WARPS=4,BLOCK_M=128,BLOCK_N=64,STAGES=2,QSMEM=1")                                                     \
    X(1, 2, 2, 300, 1000, 128, 1, LK_F16, 1, KPRE, IL, 0, 0, LKT_PADDED,                                           \
      "MMA=1,WARPS=4,BLOCK_M=128,BLOCK_N=128,STAGES=1,QSMEM=1")

#define MMA_ROW(b, hq, hkv, sq, sk, d, c, dt, r, var, lay, tab, ids, mem, tiles)                                 \
    {b, hq, hkv, sq, sk, d, c, dt, r, var, lay, tab, ids, mem, LKT_OPENCL, tiles},                                \
        {b, hq, hkv, sq, sk, d, c, dt, r, var, lay, tab, ids, mem, LKT_CUDA, tiles},

ParameterizedTestParameters(attention_fwd, tensor_core)
{
    static att_case cases[] = {MMA_CASES(MMA_ROW)};
    return cr_make_param_array(att_case, cases, sizeof cases / sizeof cases[0]);
}

/* The same columns for MMA=2 (CUDA only): one and two and three warpgroups (BLOCK_M 64, 128,
 * 192), BLOCK_N 64 and 128, every pipeline depth, the three RoPE variants and the table, position
 * ids, GQA, Sq > Sk, partial tiles, OVERLAP 1 (a tile ahead, or STAGES 2: K ahead of V, one and two
 * warpgroups), and PRODUCER 1 (a copying warpgroup) with each RoPE variant, one and two computing
 * warpgroups, 1-4 stages and OVERLAP */
#define WGMMA_CASES(X)                                                                                             \
    X(1, 4, 2, 1000, 1000, 128, 1, LK_F16, 1, FUSED, HS, 0, 0, LKT_CONTIGUOUS,                                     \
      "MMA=2,WARPS=8,BLOCK_M=128,BLOCK_N=128,STAGES=2")                                                            \
    X(2, 2, 1, 130, 333, 64, 1, LK_F16, 1, KPRE, IL, 0, 0, LKT_BSHD, "MMA=2,WARPS=4,BLOCK_M=64,BLOCK_N=64,STAGES=4") \
    X(1, 2, 2, 77, 1000, 128, 0, LK_F16, 1, UNF, HS, 0, 0, LKT_PADDED,                                              \
      "MMA=2,WARPS=12,BLOCK_M=192,BLOCK_N=64,STAGES=3")                                                            \
    X(1, 2, 2, 113, 17, 128, 1, LK_F16, 0, AUTO, HS, 0, 0, LKT_CONTIGUOUS,                                          \
      "MMA=2,WARPS=8,BLOCK_M=128,BLOCK_N=64,STAGES=1")                                                             \
    X(2, 4, 2, 64, 200, 64, 1, LK_F16, 2, FUSED, HS, 1, 0, LKT_CONTIGUOUS,                                          \
      "MMA=2,WARPS=4,BLOCK_M=64,BLOCK_N=128,STAGES=2,ROPE_TABLE=1")                                                \
    X(2, 4, 2, 64, 200, 128, 1, LK_F16, 2, FUSED, IL, 0, 1, LKT_CONTIGUOUS,                                         \
      "MMA=2,WARPS=8,BLOCK_M=128,BLOCK_N=128,STAGES=3")                                                            \
    X(1, 2, 1, 3, 555, 64, 0, LK_F16, 0, AUTO, HS, 0, 0, LKT_CONTIGUOUS, "MMA=2,WARPS=12,BLOCK_M=192,BLOCK_N=128,STAGES=1") \
    X(1, 4, 2, 1000, 1000, 128, 1, LK_F16, 1, FUSED, HS, 0, 0, LKT_CONTIGUOUS,                                     \
      "MMA=2,WARPS=8,BLOCK_M=128,BLOCK_N=128,STAGES=3,OVERLAP=1")                                                  \
    X(2, 2, 1, 130, 333, 64, 0, LK_F16, 1, KPRE, IL, 0, 0, LKT_BSHD, "MMA=2,WARPS=4,BLOCK_M=64,BLOCK_N=64,STAGES=2,OVERLAP=1") \
    X(1, 4, 2, 1000, 1000, 128, 1, LK_F16, 1, FUSED, HS, 0, 0, LKT_CONTIGUOUS,                                     \
      "MMA=2,WARPS=8,BLOCK_M=128,BLOCK_N=128,STAGES=2,OVERLAP=1")                                                  \
    X(1, 4, 2, 1000, 1000, 128, 1, LK_F16, 1, FUSED, HS, 0, 0, LKT_CONTIGUOUS,                                     \
      "MMA=2,WARPS=8,BLOCK_M=128,BLOCK_N=128,STAGES=2,PRODUCER=1")                                                 \
    X(2, 2, 1, 130, 333, 64, 1, LK_F16, 1, KPRE, IL, 0, 1, LKT_BSHD,                                                \
      "MMA=2,WARPS=4,BLOCK_M=64,BLOCK_N=64,STAGES=1,PRODUCER=1")                                                   \
    X(1, 2, 2, 77, 1000, 128, 0, LK_F16, 0, AUTO, HS, 0, 0, LKT_PADDED,                                             \
      "MMA=2,WARPS=8,BLOCK_M=128,BLOCK_N=64,STAGES=4,PRODUCER=1")                                                  \
    X(2, 4, 2, 64, 200, 64, 1, LK_F16, 2, FUSED, HS, 1, 0, LKT_CONTIGUOUS,                                          \
      "MMA=2,WARPS=4,BLOCK_M=64,BLOCK_N=128,STAGES=3,ROPE_TABLE=1,OVERLAP=1,PRODUCER=1")

#define WGMMA_ROW(b, hq, hkv, sq, sk, d, c, dt, r, var, lay, tab, ids, mem, tiles)                               \
    {b, hq, hkv, sq, sk, d, c, dt, r, var, lay, tab, ids, mem, LKT_CUDA, tiles},

ParameterizedTestParameters(attention_fwd, warpgroup)
{
    static att_case cases[] = {WGMMA_CASES(WGMMA_ROW)};
    return cr_make_param_array(att_case, cases, sizeof cases / sizeof cases[0]);
}

/* The generic kernel (any device; MMA=0 keeps it on NVIDIA, whose defaults are MMA=1): key tiles
 * that are not a multiple of 8 (the P V step's remainder), every pipeline depth, hd 64/128/256,
 * rows loaded 16 bytes at a time (contiguous, BSHD, padded) and element by element (unaligned),
 * all three RoPE variants and the table, K rotated in the kernel from 16-byte chunks in both pair
 * layouts */
#define GENERIC_CASES(X)                                                                                           \
    X(1, 4, 2, 200, 333, 128, 1, LK_F16, 0, AUTO, HS, 0, 0, LKT_UNALIGNED, "MMA=0,BLOCK_M=32,BLOCK_N=12,STAGES=2") \
    X(1, 2, 2, 130, 130, 64, 0, LK_F32, 1, FUSED, IL, 0, 0, LKT_CONTIGUOUS, "MMA=0,BLOCK_M=16,BLOCK_N=8,STAGES=3") \
    X(2, 4, 1, 77, 300, 128, 1, LK_F16, 1, KPRE, HS, 0, 0, LKT_BSHD, "MMA=0,BLOCK_M=64,BLOCK_N=32,STAGES=1")       \
    X(1, 2, 1, 50, 100, 256, 0, LK_F32, 1, UNF, HS, 0, 0, LKT_UNALIGNED, "MMA=0,BLOCK_M=16,BLOCK_N=10,STAGES=1")   \
    X(1, 4, 1, 113, 113, 64, 1, LK_F16, 1, FUSED, HS, 1, 0, LKT_PADDED,                                          \
      "MMA=0,BLOCK_M=32,BLOCK_N=16,STAGES=2,ROPE_TABLE=1")                                                         \
    X(1, 2, 2, 64, 64, 128, 1, LK_F32, 1, KPRE, IL, 0, 1, LKT_UNALIGNED, "MMA=0,BLOCK_M=16,BLOCK_N=24,STAGES=2")  \
    X(1, 2, 1, 77, 90, 128, 1, LK_F16, 1, FUSED, HS, 0, 0, LKT_UNALIGNED, "MMA=0,BLOCK_M=32,BLOCK_N=16,STAGES=2")

ParameterizedTestParameters(attention_fwd, generic_tiles)
{
    static att_case cases[] = {GENERIC_CASES(MMA_ROW)};
    return cr_make_param_array(att_case, cases, sizeof cases / sizeof cases[0]);
}

static void run_case(const att_case *c);

ParameterizedTest(att_case *c, attention_fwd, matches_reference)
{
    run_case(c);
}

ParameterizedTest(att_case *c, attention_fwd, tensor_core)
{
    run_case(c);
}

ParameterizedTest(att_case *c, attention_fwd, warpgroup)
{
    run_case(c);
}

ParameterizedTest(att_case *c, attention_fwd, generic_tiles)
{
    run_case(c);
}

static void run_case(const att_case *c)
{
    lk_context *ctx = lkt_open(c->backend);
    const lk_device_info *dev = lk_context_device(ctx);
    lk_params tiles = {0};
    if (c->tiles[0])
        cr_assert_eq(lk_params_parse(c->tiles, &tiles), LK_OK, "bad tiles in the test table: %s", c->tiles);
    const int mma = lk_params_get(&tiles, "MMA", 0);
    if (mma)
        lkt_require_tensor_cores(ctx);
    if (mma == 2 && !lk_attention_fwd_has_wgmma(dev, (int)c->D))
        cr_skip_test("MMA=2 (wgmma, sm_90a) runs on the CUDA build on compute capability 9.0 only (this: %s %s, %d.%d)",
                     lkt_backend_name(c->backend), dev->name, dev->cc_major, dev->cc_minor);
    if (c->tiles[0] && lk_attention_fwd_local_bytes(&tiles, (int)c->D) > lk_attention_fwd_local_limit(dev, &tiles))
        cr_skip_test("%s: the K/V ring needs %zu B of local memory, %s %s allows %zu B per work-group (above 48 KB"
                     " only the CUDA build, by opt-in dynamic shared memory)",
                     c->tiles, lk_attention_fwd_local_bytes(&tiles, (int)c->D), lkt_backend_name(c->backend),
                     dev->name, lk_attention_fwd_local_limit(dev, &tiles));
    lkt_rng rng = lkt_rng_make(lkt_seed(), (uint64_t)(c->Sq * 131 + c->Sk * 7 + c->D + c->rope));
    int64_t qs[4] = {c->B, c->Hq, c->Sq, c->D}, ks[4] = {c->B, c->Hkv, c->Sk, c->D};
    size_t nq = (size_t)(c->B * c->Hq * c->Sq * c->D), nk = (size_t)(c->B * c->Hkv * c->Sk * c->D);
    float *q = malloc(nq * 4), *k = malloc(nk * 4), *v = malloc(nk * 4), *o = malloc(nq * 4);
    float *lse = malloc((size_t)(c->B * c->Hq * c->Sq) * 4);
    lkt_fill(&rng, q, nq);
    lkt_fill(&rng, k, nk);
    lkt_fill(&rng, v, nk);
    lkt_tensor tq = lkt_upload(ctx, c->dtype, c->mem, qs, q), tk = lkt_upload(ctx, c->dtype, c->mem, ks, k);
    lkt_tensor tv = lkt_upload(ctx, c->dtype, c->mem, ks, v);
    for (size_t i = 0; i < nq; i++)
        o[i] = 1.0f; /* poison: every element must be written */
    lkt_tensor to = lkt_upload(ctx, c->dtype, c->mem, qs, o);
    int64_t ls[3] = {c->B, c->Hq, c->Sq};
    lkt_tensor tl = lkt_zeros(ctx, LK_F32, 3, ls);

    lk_rope_params rope = lk_rope_params_default();
    rope.layout = c->layout;
    rope.position_offset = 5;
    if (c->rope == 2) {
        rope.theta = 500000.0;
        rope.scaling = LK_ROPE_SCALING_LLAMA3;
        rope.factor = 8.0;
        rope.original_max_position = 64; /* small, so the test's positions cross every regime */
    }
    lk_attention_params p = lk_attention_params_default();
    p.causal = c->causal;
    p.rope = c->rope ? &rope : NULL;
    p.rope_variant = c->variant;

    int32_t *qpos = NULL, *kpos = NULL;
    lkt_tensor tqp = {0}, tkp = {0};
    if (c->pos_ids) {
        qpos = malloc(sizeof(int32_t) * (size_t)(c->B * c->Sq));
        kpos = malloc(sizeof(int32_t) * (size_t)(c->B * c->Sk));
        for (int64_t b = 0; b < c->B; b++) {
            for (int64_t s = 0; s < c->Sk; s++)
                kpos[b * c->Sk + s] = (int32_t)(100 * b + 3 * s);
            for (int64_t s = 0; s < c->Sq; s++)
                qpos[b * c->Sq + s] = (int32_t)(100 * b + 3 * (s + c->Sk - c->Sq));
        }
        int64_t qsh[2] = {c->B, c->Sq}, ksh[2] = {c->B, c->Sk};
        tqp = lkt_zeros(ctx, LK_I32, 2, qsh);
        tkp = lkt_zeros(ctx, LK_I32, 2, ksh);
        LKT_OK(ctx, lk_buffer_write(ctx, tqp.buf, 0, qpos, sizeof(int32_t) * (size_t)(c->B * c->Sq)));
        LKT_OK(ctx, lk_buffer_write(ctx, tkp.buf, 0, kpos, sizeof(int32_t) * (size_t)(c->B * c->Sk)));
        p.q_position_ids = &tqp.t;
        p.k_position_ids = &tkp.t;
    }
    if (c->tiles[0] || c->table)
        LKT_OK(ctx, lk_tuning_override(ctx, "attention_fwd", c->dtype, (int)c->D, c->causal, 0,
                                       c->tiles[0] ? c->tiles : "ROPE_TABLE=1"));

    LKT_OK(ctx, lk_attention_fwd(ctx, &tq.t, &tk.t, &tv.t, &to.t, &tl.t, &p));
    cr_log_info("%s: %s", lkt_backend_name(c->backend), lk_last_launch(ctx));
    if (c->table)
        cr_expect(strstr(lk_last_launch(ctx), "ROPE_TABLE=1") != NULL, "override did not reach the launch: %s",
                  lk_last_launch(ctx));
    if (c->tiles[0]) {
        const char *kernel = mma == 2 ? "attention_fwd_wgmma " : mma ? "attention_fwd_mma " : "attention_fwd ";
        cr_expect(!strncmp(lk_last_launch(ctx), kernel, strlen(kernel)), "%s did not run: %s", kernel,
                  lk_last_launch(ctx));
    }
    lkt_download(ctx, &to, o);
    lkt_download(ctx, &tl, lse);

    double *ro = malloc(nq * sizeof(double)), *rl = malloc((size_t)(c->B * c->Hq * c->Sq) * sizeof(double));
    ref_attention_args ra = {c->B, c->Hq, c->Hkv, c->Sq, c->Sk, c->D, c->causal, 0.0, p.rope, qpos, kpos};
    ref_attention_fwd(&ra, q, k, v, ro, rl);
    double tol = c->dtype == LK_F16 ? LKT_TOL_F16 : LKT_TOL_F32;
    lkt_expect_close("o", o, ro, nq, tol);
    size_t nl = (size_t)(c->B * c->Hq * c->Sq);
    for (size_t i = 0; i < nl; i++) /* masked rows: both -inf */
        if (isinf(rl[i])) {
            cr_expect(isinf(lse[i]) && lse[i] < 0, "lse[%zu] = %g, want -inf for a fully masked row", i, lse[i]);
            lse[i] = 0.0f;
            rl[i] = 0.0;
        }
    lkt_expect_close("lse", lse, rl, nl, tol);

    free(q); free(k); free(v); free(o); free(lse); free(ro); free(rl); free(qpos); free(kpos);
    lkt_free(&tq); lkt_free(&tk); lkt_free(&tv); lkt_free(&to); lkt_free(&tl); lkt_free(&tqp); lkt_free(&tkp);
    lk_context_destroy(ctx);
}

/* CUDA and OpenCL on one GPU run the same kernel source: their outputs must agree far more
 * closely than either agrees with the fp64 reference. Needs both backends on one machine. */
Test(attention_fwd, backends_agree)
{
    const char *why = NULL;
    if (lk_backend_available(LK_BACKEND_CUDA, &why) != LK_OK)
        cr_skip_test("needs the CUDA and the OpenCL backend on one machine; CUDA: %s", why);
    lk_context *ctx[2] = {lkt_open(LKT_OPENCL), lkt_open(LKT_CUDA)};
    lkt_rng rng = lkt_rng_make(lkt_seed(), 99);
    int64_t shape[4] = {1, 4, 300, 128};
    size_t n = 4 * 300 * 128;
    float *x[3], *out[2];
    for (int i = 0; i < 3; i++) {
        x[i] = malloc(n * 4);
        lkt_fill(&rng, x[i], n);
    }
    lk_rope_params rope = lk_rope_params_default();
    lk_attention_params p = lk_attention_params_default();
    p.causal = 1;
    p.rope = &rope;
    p.rope_variant = LK_ROPE_FUSED;
    for (int b = 0; b < 2; b++) {
        lkt_tensor t[4];
        for (int i = 0; i < 3; i++)
            t[i] = lkt_upload(ctx[b], LK_F16, LKT_CONTIGUOUS, shape, x[i]);
        t[3] = lkt_zeros(ctx[b], LK_F16, 4, shape);
        LKT_OK(ctx[b], lk_attention_fwd(ctx[b], &t[0].t, &t[1].t, &t[2].t, &t[3].t, NULL, &p));
        out[b] = malloc(n * 4);
        lkt_download(ctx[b], &t[3], out[b]);
        for (int i = 0; i < 4; i++)
            lkt_free(&t[i]);
        lk_context_destroy(ctx[b]);
    }
    double *ref = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++)
        ref[i] = out[0][i];
    lkt_expect_close("cuda vs opencl", out[1], ref, n, 1e-3); /* one fp16 ulp (2^-11 relative) at most */
    for (int i = 0; i < 3; i++)
        free(x[i]);
    free(out[0]);
    free(out[1]);
    free(ref);
}
