/* kv_sparse_decode.cl: decode attention over the sparse KV cache. Cache layout:
 * kv_sparse_format.h; tiles: kv_sparse_tiles.h; split/combine: decode_split.h.
 *
 * attention_decode_sparse   grid: dim 0 = splits, dim 1 = B * Hkv / KVH; WG work-items.
 *   A work-group owns KVH kv heads (KVH = the RotateKV group G when keys are rotated, so it holds
 *   whole D*G vectors; else 1) and their NQ = KVH*QG query heads, over its split's tiles:
 *     key tile:   sparse or dense -> [un-reorder] -> [inverse Hadamard] -> [RoPE] -> ks
 *                 (K_DENSE: read instead from keys [h][L][D] f32 rebuilt by kv_sparse_unpack)
 *     value tile: sparse or dense -> vs
 *     then lk_dec_attend_tile; partials -> decode_combine.cl.
 *   q [B, Hq, D] (lk_t) is scaled by scale*log2(e) (host folds in 1/sqrt(G*D) for ROT) and, with
 *   ROPE, rotated at position pos_offset + L - 1.
 *   (K_DENSE: the keys come from kv_sparse_unpack.cl, the two-stage path.)
 *   DIRECT (plain caches: KVH 1, no ROT, ROPE or K_DENSE): no K or V tiles; the score and p.V
 *   phases read the cache themselves: 1 with FMAs, lk_dec_softmax between them
 *   (kv_sparse_direct.h), 2 on tensor cores, each warp its own 16-token m-tiles and online
 *   softmax (kv_sparse_direct_mma.h, decode_mma.h; NVIDIA cc 8+). DIRECT 3 fills the tiles as 0
 *   does, then runs those tensor-core products on them (decode_mma_tiles.h).
 */
#include "portable.h"
#include "decode_split.h"
#include "kv_sparse_tiles.h"
#include "kv_sparse_direct.h"

#ifndef ROT
#define ROT 0
#endif
#ifndef ROPE
#define ROPE 0
#endif
#ifndef K_DENSE
#define K_DENSE 0
#endif
#ifndef DIRECT
#define DIRECT 0
#endif
#if DIRECT == 2
#include "kv_sparse_direct_mma.h"
#elif DIRECT == 3
#include "decode_mma_tiles.h"
#endif

LK_KERNEL LK_WG_SIZE(WG) void attention_decode_sparse(
    const LK_GLOBAL lk_t *q, long q_off, long qsb, long qsh, long qsd,
    const LK_GLOBAL ulong *kbm, const LK_GLOBAL half *kpar, const LK_GLOBAL uint *kwords,
    const LK_GLOBAL uint *koffs, const LK_GLOBAL half *kdense, long k_head_words,
    const LK_GLOBAL ulong *vbm, const LK_GLOBAL half *vpar, const LK_GLOBAL uint *vwords,
    const LK_GLOBAL uint *voffs, const LK_GLOBAL half *vdense, long v_head_words,
    const LK_GLOBAL float *keys, int Hkv, long L, int sinks, int ring, int nb, int nb_cap, int keep,
    const LK_GLOBAL int *perm, const LK_GLOBAL float *freq, int layout, long pos_offset,
    LK_GLOBAL float *part, long nrec, int Hq, float scale_log2)
{
#if DIRECT == 2
    DEC_MMA_LOCALS;
    SP_MMA_LOCALS;
#elif DIRECT == 3
    DEC_MMA_LOCALS;
    LK_SHARED float ks[BLOCK_N * LK_DEC_KROW] __attribute__((aligned(16)));
    LK_SHARED float vs[BLOCK_N * LK_DEC_VROW] __attribute__((aligned(16)));
#elif DIRECT
    LK_DEC_SOFTMAX_LOCALS(SP_NZ);
#else
    LK_DEC_LOCALS;
#endif
#if !K_DENSE
    LK_SHARED ulong bm[KVH * D];
    LK_SHARED int pre[LK_SP_PRE_INTS];
#endif

    const int split = get_group_id(0), splits = get_num_groups(0);
    const int groups = Hkv / KVH, b = get_group_id(1) / groups, hk0 = (get_group_id(1) % groups) * KVH;
    const int hq0 = hk0 * QG;
#if !K_DENSE
    lk_sp_stream ksrc = {kbm, kpar, kwords, koffs, kdense, k_head_words};
#endif
    lk_sp_stream vsrc = {vbm, vpar, vwords, voffs, vdense, v_head_words};
    lk_sp_geom g = {Hkv, sinks, ring, nb, nb_cap, keep, L};

    for (int t = get_local_id(0); t < LK_DEC_NQ * D; t += WG)
        qs[t] = lk_ld(q, q_off + b * qsb + (long)(hq0 + t / D) * qsh + (t % D) * qsd) * scale_log2;
    lk_barrier();
#if ROPE
    lk_sp_rope(qs, LK_DEC_NQ, 1, D, pos_offset + L - 1, 0, freq, layout);
#endif
    const int ntiles = lk_sp_ntiles(g);
    const int t0 = lk_dec_split_first(ntiles, splits, split), t1 = lk_dec_split_first(ntiles, splits, split + 1);
#if DIRECT >= 2
    dec_mma_warp wp;
    dec_mma_begin(qs, &wp);
#else
    float acc[LK_DEC_NACC];
    lk_dec_begin(st, acc);
    lk_barrier();
#endif

    for (int t = t0; t < t1; t++) {
        lk_sp_tile tl = lk_sp_tile_at(g, t);
#if DIRECT >= 2
        if (t > t0)
            lk_barrier(); /* every warp is done with the last tile's bm, pre, value rows or tiles */
#endif
#if DIRECT == 1 || DIRECT == 2
        if (tl.sparse && (t == t0 || (tl.p0 - lk_sp_sinks(g)) % LK_SP_BLOCK == 0))
            lk_sp_block_prefix(bm, pre, ksrc, g, b, hk0, (int)((tl.p0 - lk_sp_sinks(g)) / LK_SP_BLOCK));
#endif
#if DIRECT == 2
        sp_mma_src src = sp_mma_source(bm, pre, vrow_bm, vrow_first, ksrc, vsrc, g, b, hk0, tl);
        if (tl.sparse)
            sp_mma_stage_values(&src, vrow_bm, vrow_first);
        dec_mma_attend_tile(&src, tl.ntok, &wp);
#elif DIRECT == 1
        sp_direct_scores(bm, pre, ksrc, g, b, hk0, tl, qs, sp);
        lk_dec_softmax(sc, sp, st, tl.ntok, SP_NZ, acc);
        sp_direct_pv(vsrc, g, b, hk0, tl, sp, st, acc);
#else /* the tiles: DIRECT 0, and 3 on tensor cores */
#if K_DENSE
        for (int e = get_local_id(0); e < tl.ntok * KVH * D; e += WG) {
            int n = e / (KVH * D), c = e % (KVH * D);
            long h = (long)b * Hkv + hk0 + c / D;
            ks[n * LK_DEC_KROW + c] = keys[(h * L + tl.p0 + n) * D + c % D];
        }
#else
        lk_sp_key_tile(ks, LK_DEC_KROW, bm, pre, ksrc, g, b, hk0, tl, t == t0, perm, freq, layout, pos_offset);
#endif
        if (tl.sparse)
            lk_sp_load_values(vs, LK_DEC_VROW, vsrc, g, b, hk0, tl);
        else
            lk_sp_load_dense(vs, LK_DEC_VROW, vsrc, g, b, hk0, tl, 0);
        lk_barrier();
#if DIRECT == 3
        dec_tiles_src src = {ks, vs, tl.ntok};
        dec_mma_attend_tile(&src, tl.ntok, &wp);
#else
        lk_dec_attend_tile(qs, ks, vs, sc, sp, st, tl.ntok, acc);
#endif
#endif
    }
#if DIRECT >= 2
    dec_mma_store(part, nrec, Hq, b, hq0, splits, split, qs, dm_ml, &wp);
#else
    lk_dec_store_partial(part, nrec, Hq, b, hq0, splits, split, qs, st, acc);
#endif
}
