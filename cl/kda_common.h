/* kda_common.h: what the three KDA kernels share (kda_chunk.cl computes the per-chunk matrices into
 * scratch, kda_state.cl walks the chunks with the state, kda_out.cl forms the output of every chunk
 * in parallel): build parameters, the gate, the sequence bounds of a work-group and the scratch
 * layout.
 *
 * Tensors, per (sequence, value head), fp32 state S [DK, DV] (the K axis is decayed):
 *   S_t = Diag(exp g_t) S_{t-1};  S_t += beta_t k_t (v_t - S_t^T k_t)^T;  o_t = S_t^T (scale q_t)
 *
 *   q, k  [B, T, H,  DK]  lk_t   (head h = hv / (HV / H))      o    [B, T, HV, DV]  lk_t
 *   v     [B, T, HV, DV]  lk_t                                  beta [B, T, HV]      f32
 *   g     [B, T, HV, DK]  f32: the log-decay, or with GATE the gate input f, and then
 *                         g = -exp(a_log[hv]) * softplus(f + dt_bias[hv, d])
 *   h0, ht [N, HV, DK, DV] f32 (HAS_H0 / HAS_HT; ht may be h0 itself)
 *   VARLEN: sequence n is tokens cu_seqlens[n] .. cu_seqlens[n+1] of batch 0; else n = batch, 0 .. T.
 *
 * Scratch (one buffer). Token t of batch row bt is row r = bt * T + t of BT = B * T rows; a
 * chunk is CHUNK consecutive rows of one sequence starting at row r0 (the last one may be
 * shorter: rows past its end belong to the next sequence or to nobody and are never written).
 * First two fp32 arrays, then, from float F0 = HV BT CHUNK + HV NCH DK on (kda_scratch_base),
 * the per-row arrays and the states in scr_t: f16 with SCR_F16 (below, f16 tensors), as fla keeps
 * them in the input dtype (half the bytes the state pass and the output read).
 *
 *   offset                                 array                  row i of the chunk at r0 + i
 *   fp32, floats from scr:
 *   0                                      aqk [HV][BT][CHUNK]    Aqk_ij (j <= i; 0 for j > i)
 *   HV BT CHUNK                            gl  [HV][NCH][DK]      2^gc_last of chunk slot r0 / CHUNK + n
 *   scr_t, elements from scr + F0:
 *   0                                      w   [HV][BT][DK]       W = (I + L)^-1 beta (k 2^gc)
 *   HV BT DK                               qg  [HV][BT][DK]       scale q 2^gc
 *   2 HV BT DK                             kg  [HV][BT][DK]       k 2^(gc_last - gc)
 *   3 HV BT DK                             u   [HV][BT][DV]       U = (I + L)^-1 beta v
 *   HV BT (3 DK + DV)                      h   [HV][NCH][DK][DV]  the state entering that chunk (kda_state)
 *
 * kda_state overwrites U with the pseudo-values Vn = U - W h (same rows and columns), which
 * kda_out reads with h and qg, Aqk.
 * q and k are the L2-normalised rows when L2NORM; gc is the chunk-local cumulative log2-decay.
 * Chunk slots: within a sequence the chunk starts grow by CHUNK, and the first chunk of sequence
 * n + 1 starts after the last one of sequence n, so r0 / CHUNK + n is distinct for every chunk
 * and below NCH = ceil(BT / CHUNK) + N (lk_kda_scratch_bytes on the host uses the same sizes).
 */
#ifndef LK_KDA_COMMON_H
#define LK_KDA_COMMON_H

#include "portable.h"

#ifndef DK
#define DK 128
#endif
#ifndef DV
#define DV 128
#endif
#ifndef CHUNK
#define CHUNK 64
#endif
#ifndef SUB
#define SUB 16
#endif
#ifndef BV
#define BV 16
#endif
#ifndef WG
#define WG 128
#endif
#ifndef KT
#define KT 16 /* K tile rows of kda_chunk */
#endif
#ifndef KS
#define KS 32 /* K tile rows of kda_state */
#endif
#ifndef OBV
#define OBV 64 /* value columns per kda_out work-group */
#endif
#ifndef L2NORM
#define L2NORM 0
#endif
#ifndef GATE
#define GATE 0
#endif
#ifndef HAS_H0
#define HAS_H0 0
#endif
#ifndef HAS_HT
#define HAS_HT 0
#endif
#ifndef VARLEN
#define VARLEN 0
#endif

/* Loops over private arrays are unrolled on GPUs so that the arrays stay in registers; on CPUs
 * (UNROLL 0) the unrolled bodies make PoCL's compile take minutes. */
#ifndef UNROLL
#define UNROLL 1
#endif
#if UNROLL
#define REG_LOOP _Pragma("unroll")
#else
#define REG_LOOP
#endif

#define LOG2E 1.4426950408889634f
#define L2_EPS 1e-6f

/* Work-item loop over e = 0 .. n - 1:
 *     KDA_ITEMS(e, n) { KDA_ITEM(e, n); ... }
 * Every work-item runs the same trip count and checks its index inside, read afresh through a
 * volatile. Written `for (e = tid; e < n; e += WG)` (see decode_split.h), or with a plain
 * get_local_id(0) index check, PoCL 3.1 (CPU, default work-group method) skipped some of these
 * loops for work-item 0 when n < WG (e.g. the scaling of A with CHUNK = 1 and WG = 16): clang
 * shares the guard tid < n between the barrier regions and PoCL evaluated it for one work-item
 * only. POCL_WORK_GROUP_METHOD=loops and the GPUs ran every variant correctly. GPU builds (UNROLL)
 * use the plain index: through the volatile, every iteration's global loads waited for the
 * previous iteration's (one memory latency per iteration). */
#define KDA_ITEMS(e, n) KDA_ITEMS_OF(e, n, WG)
#define KDA_ITEMS_OF(e, n, wg) for (int e##_base = 0; e##_base < (n); e##_base += (wg))
#if UNROLL /* GPUs: a plain index, so that the compiler unrolls the loop and overlaps its loads */
#define KDA_ITEM(e, n)                                                                             \
    const int e = e##_base + (int)get_local_id(0);                                                 \
    if (e >= (n))                                                                                  \
    continue
#else
#define KDA_ITEM(e, n)                                                                             \
    volatile int e##_lid = (int)get_local_id(0);                                                   \
    const int e = e##_base + e##_lid;                                                              \
    if (e >= (n))                                                                                  \
    continue
#endif

/* Add (first K tile: store) x to a local accumulator (kda_chunk.cl, kda_chunk_mma.cl). */
LK_INLINE void accumulate(LK_LOCAL_PTR float *p, float x, int first)
{
    *p = first ? x : *p + x;
}

/* log2 of softplus(x): log2(1 + 2^y) with y = x log2 e, without overflow. */
LK_INLINE float kda_softplus_log2(float x)
{
    float y = x * LOG2E;
    return lk_fmax(y, 0.0f) + lk_log2(1.0f + lk_exp2(-lk_fabs(y)));
}

/* The log2-decay of one element from the g input: the gate (rate = -exp(a_log), bias = dt_bias)
 * or g itself in log2 units. */
LK_INLINE float kda_log2_decay(float gin, float rate, float bias)
{
#if GATE
    return rate * kda_softplus_log2(gin + bias);
#else
    return gin * LOG2E;
#endif
}

/* Tokens bos .. eos - 1 of batch row bt hold sequence n. */
LK_INLINE void kda_sequence(const LK_GLOBAL int *cu_seqlens, long cu_off, long cu_s, int n, int T, int *bos,
                            int *eos, int *bt)
{
#if VARLEN
    *bos = cu_seqlens[cu_off + n * cu_s];
    *eos = cu_seqlens[cu_off + (n + 1) * cu_s];
    *bt = 0;
#else
    *bos = 0;
    *eos = T;
    *bt = n;
#endif
}

/* The chunk j0 tokens into sequence n: first token t0 (of batch row bt), length len <= CHUNK.
 * 0 when the sequence ends before it (the same for the whole work-group). */
LK_INLINE int kda_chunk_span(const LK_GLOBAL int *cu_seqlens, long cu_off, long cu_s, int n, int T, int j0, int *t0,
                             int *len, int *bt)
{
    int bos, eos;
    kda_sequence(cu_seqlens, cu_off, cu_s, n, T, &bos, &eos, bt);
    *t0 = bos + j0;
    *len = eos - *t0 < CHUNK ? eos - *t0 : CHUNK;
    return *t0 < eos;
}

/* scr_t, the storage type of the scratch's per-row arrays and states: f16 where the host builds
 * with SCR_F16 = 1 (lk_kda_scratch_f16: the tuned SCR16, f16 tensors and CHUNK > 1), else fp32,
 * also for the decode step (CHUNK 1), whose state update then stays in fp32 from token to token. */
#ifndef SCR_F16
#define SCR_F16 LK_F16
#endif
#if SCR_F16
typedef half scr_t;
#define scr_ld(p, i) lk_half_to_float((p), (i))
#define scr_st(p, i, v) lk_float_to_half((p), (i), (v))
#else
typedef float scr_t;
#define scr_ld(p, i) ((p)[i])
#define scr_st(p, i, v) ((p)[i] = (v))
#endif

/* Offsets of one chunk's rows in the scratch arrays: a and gl in floats from scr, the others in
 * scr_t elements from scr + kda_scratch_base. */
typedef struct kda_scratch {
    long w, qg, kg, u, a, gl, h;
} kda_scratch;

LK_INLINE kda_scratch kda_scratch_at(int HV, long BT, long NCH, int hv, long r0, int n)
{
    kda_scratch s;
    long hr = (long)hv * BT + r0, plane = (long)HV * BT, slot = (long)hv * NCH + r0 / CHUNK + n;
    s.a = hr * CHUNK;
    s.gl = plane * CHUNK + slot * DK;
    s.w = hr * DK;
    s.qg = plane * DK + hr * DK;
    s.kg = 2 * plane * DK + hr * DK;
    s.u = 3 * plane * DK + hr * DV;
    s.h = plane * (3 * DK + DV) + slot * DK * DV;
    return s;
}

/* The float where the scratch's scr_t arrays begin (F0 above). */
LK_INLINE long kda_scratch_base(int HV, long BT, long NCH)
{
    return (long)HV * BT * CHUNK + (long)HV * NCH * DK;
}

#if SCR_F16
/* Elements x, x + 1 of a row of an f16 scratch array as the bits of a half2 (the tensor-core
 * kernels' operand pairs); those at or past lim are zeros. One 32-bit load when both are in and
 * the pair is 4-byte aligned (even K and V), else two 16-bit loads. */
LK_INLINE uint kda_half2_bits(const LK_GLOBAL scr_t *row, int x, int lim)
{
    const LK_GLOBAL ushort *p = (const LK_GLOBAL ushort *)row + x;
    if (x + 1 < lim && ((ulong)p & 3) == 0)
        return *(const LK_GLOBAL uint *)p;
    return (x < lim ? (uint)p[0] : 0u) | (x + 1 < lim ? (uint)p[1] << 16 : 0u);
}

/* The other way: half2 bits to elements x, x + 1 of the row, those at or past lim left alone. */
LK_INLINE void kda_store_half2_bits(LK_GLOBAL scr_t *row, int x, int lim, uint bits)
{
    LK_GLOBAL ushort *p = (LK_GLOBAL ushort *)row + x;
    if (x + 1 < lim && ((ulong)p & 3) == 0) {
        *(LK_GLOBAL uint *)p = bits;
        return;
    }
    if (x < lim)
        p[0] = (ushort)bits;
    if (x + 1 < lim)
        p[1] = (ushort)(bits >> 16);
}
#endif

/* The launch contract of both chunk kernels (kda_chunk.cl, kda_chunk_mma.cl): their arguments. */
#define KDA_CHUNK_ARGS                                                                             \
    const LK_GLOBAL lk_t *q, long q_off, long qsb, long qst, long qsh, long qsd,                   \
    const LK_GLOBAL lk_t *k, long k_off, long ksb, long kst, long ksh, long ksd,                   \
    const LK_GLOBAL lk_t *v, long v_off, long vsb, long vst, long vsh, long vsd,                   \
    const LK_GLOBAL float *g, long g_off, long gsb, long gst, long gsh, long gsd,                  \
    const LK_GLOBAL float *beta, long b_off, long bsb, long bst, long bsh,                         \
    const LK_GLOBAL int *cu_seqlens, long cu_off, long cu_s,                                       \
    const LK_GLOBAL float *a_log, long al_off, long al_s,                                          \
    const LK_GLOBAL float *dt_bias, long dt_off, long dt_sh, long dt_sd,                           \
    LK_GLOBAL float *scr, int T, int H, int HV, long BT, long NCH, float scale

/* The first statements of both chunk kernels: the work-group's value head hv (query head h),
 * sequence n and chunk (first token t0 of batch row bt, len tokens; the kernel returns when the
 * sequence ends before it), the offsets of its first row in q, k, v, g and beta (qb .. bb) and
 * in the scratch (s; scl: the scratch's scr_t arrays), and the gate's rate -exp(A_log) (0 without
 * GATE). */
#if GATE
#define KDA_GATE_RATE (-lk_exp2(a_log[al_off + hv * al_s] * LOG2E))
#else
#define KDA_GATE_RATE 0.0f
#endif
#define KDA_CHUNK_PLACE                                                                             \
    const int hv = get_group_id(0) % HV, j0 = (get_group_id(0) / HV) * CHUNK;                      \
    const int n = get_group_id(1);                                                                 \
    const int h = hv / (HV / H);                                                                   \
    int t0, len, bt;                                                                               \
    if (!kda_chunk_span(cu_seqlens, cu_off, cu_s, n, T, j0, &t0, &len, &bt))                       \
        return;                                                                                    \
    const long qb = q_off + bt * qsb + h * qsh + t0 * qst, kb = k_off + bt * ksb + h * ksh + t0 * kst; \
    const long vb = v_off + bt * vsb + hv * vsh + t0 * vst, gb = g_off + bt * gsb + hv * gsh + t0 * gst; \
    const long bb = b_off + bt * bsb + hv * bsh + t0 * bst;                                        \
    const kda_scratch s = kda_scratch_at(HV, BT, NCH, hv, (long)bt * T + t0, n);                   \
    LK_GLOBAL scr_t *scl = (LK_GLOBAL scr_t *)(scr + kda_scratch_base(HV, BT, NCH));               \
    const float rate = KDA_GATE_RATE

#endif
