/* attention_decode.cl: dense decode attention (one query token) over a K/V cache, split over
 * tokens; the splits are merged by decode_combine.cl. Tile math and the partial-result layout:
 * decode_split.h.
 *
 *   q     [B, Hq, D]      storage lk_t, element strides (qsb, qsh, qsd)
 *   k, v  [B, Hkv, S, D]  storage lk_t, element strides; VEC 1: channel stride 1 and rows
 *                         16-byte aligned (the host checks), read as 16-byte chunks
 *   part  partial records (decode_split.h), nrec = B * Hq * splits
 *
 *   grid: dim 0 = splits, dim 1 = B * Hkv / KVH; work-group = WG work-items.
 *   Work-group (split, b*groups + g) owns kv heads hk0 = g*KVH .. hk0 + KVH and query heads
 *   hk0*QG .. (hk0 + KVH)*QG, and the BLOCK_N-token tiles lk_dec_split_first gives its split:
 *
 *     tokens  0 ........................................................ S
 *             | tile | tile | ... split 0 ... | tile | ... split 1 ... | ...
 *     tile:   k, v rows j0 .. j0 + ntok of every owned kv head -> ks, vs (local; fp16 bits for
 *             f16, fp32 for f32)
 *
 *   VEC 1: work-item t holds chunks e = t + u*WG (u < CPT) of the next tile in registers
 *   (chunk e: token e / (KVH*D/LK_VEC), channels (e % (KVH*D/LK_VEC)) * LK_VEC + 0..LK_VEC-1);
 *   they are loaded before the current tile's math and stored to ks, vs after it, so the
 *   global reads overlap the arithmetic.
 */
#include "portable.h"
#define LK_DEC_HALF LK_F16 /* f16 tiles stay fp16 bits in local memory (decode_split.h) */
#include "decode_split.h"

#ifndef VEC
#define VEC 0
#endif

#define ROW_CHUNKS (KVH * D / LK_VEC)
#define CPT ((BLOCK_N * ROW_CHUNKS + WG - 1) / WG)

LK_KERNEL LK_WG_SIZE(WG) void attention_decode(
    const LK_GLOBAL lk_t *q, long q_off, long qsb, long qsh, long qsd,
    const LK_GLOBAL lk_t *k, long k_off, long ksb, long ksh, long kss, long ksd,
    const LK_GLOBAL lk_t *v, long v_off, long vsb, long vsh, long vss, long vsd,
    LK_GLOBAL float *part, long nrec, int Hq, int Hkv, int S, float scale_log2)
{
    LK_DEC_LOCALS;
    const int tid = get_local_id(0), split = get_group_id(0), splits = get_num_groups(0);
    const int groups = Hkv / KVH, b = get_group_id(1) / groups, hk0 = (get_group_id(1) % groups) * KVH;
    const int hq0 = hk0 * QG;

    for (int t = tid; t < LK_DEC_NQ * D; t += WG)
        qs[t] = lk_ld(q, q_off + b * qsb + (long)(hq0 + t / D) * qsh + (t % D) * qsd) * scale_log2;
    float acc[LK_DEC_NACC];
    lk_dec_begin(st, acc);
    const int ntiles = (S + BLOCK_N - 1) / BLOCK_N;
    const int t0 = lk_dec_split_first(ntiles, splits, split), t1 = lk_dec_split_first(ntiles, splits, split + 1);
    lk_barrier();

#if VEC
    uint4 kr[CPT], vr[CPT];
    for (int tile = t0 - 1; tile < t1; tile++) {
        if (tile >= t0) { /* registers -> local */
            int ntok = S - tile * BLOCK_N < BLOCK_N ? S - tile * BLOCK_N : BLOCK_N;
            for (int u = 0; u < CPT; u++) {
                int e = tid + u * WG, n = e / ROW_CHUNKS, c = (e % ROW_CHUNKS) * LK_VEC;
                if (n >= ntok)
                    continue;
                /* raw 16 bytes: fp16 tiles for f16, fp32 tiles for f32 (LK_DEC_HALF = LK_F16) */
                *(LK_LOCAL_PTR uint4 *)(ks + n * LK_DEC_KROW + c) = kr[u];
                *(LK_LOCAL_PTR uint4 *)(vs + n * LK_DEC_VROW + c) = vr[u];
            }
            lk_barrier();
        }
        if (tile + 1 < t1) { /* the next tile -> registers */
            int j0 = (tile + 1) * BLOCK_N, ntok = S - j0 < BLOCK_N ? S - j0 : BLOCK_N;
            for (int u = 0; u < CPT; u++) {
                int e = tid + u * WG, n = e / ROW_CHUNKS, c = (e % ROW_CHUNKS) * LK_VEC;
                if (n >= ntok)
                    continue;
                long j = j0 + n, hk = hk0 + c / D;
                kr[u] = lk_ld16(k + k_off + b * ksb + hk * ksh + j * kss + c % D);
                vr[u] = lk_ld16(v + v_off + b * vsb + hk * vsh + j * vss + c % D);
            }
        }
        if (tile >= t0)
            lk_dec_attend_tile(qs, ks, vs, sc, sp, st, S - tile * BLOCK_N < BLOCK_N ? S - tile * BLOCK_N : BLOCK_N, acc);
    }
#else
    for (int tile = t0; tile < t1; tile++) {
        int j0 = tile * BLOCK_N, ntok = S - j0 < BLOCK_N ? S - j0 : BLOCK_N;
        for (int e = tid; e < ntok * KVH * D; e += WG) {
            int n = e / (KVH * D), c = e % (KVH * D), hk = hk0 + c / D, d = c % D;
            long j = j0 + n;
            lk_dec_put(ks, n * LK_DEC_KROW + c, lk_ld(k, k_off + b * ksb + hk * ksh + j * kss + d * ksd));
            lk_dec_put(vs, n * LK_DEC_VROW + c, lk_ld(v, v_off + b * vsb + hk * vsh + j * vss + d * vsd));
        }
        lk_barrier();
        lk_dec_attend_tile(qs, ks, vs, sc, sp, st, ntok, acc);
    }
#endif
    lk_dec_store_partial(part, nrec, Hq, b, hq0, splits, split, qs, st, acc);
}
