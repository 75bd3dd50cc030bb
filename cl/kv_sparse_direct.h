/* kv_sparse_direct.h: the score and p.V phases of kv_sparse_decode.cl's DIRECT variant, which
 * reads the sparse cache (kv_sparse_format.h) in the phases themselves instead of expanding
 * tiles into local memory first (kv_sparse_tiles.h's loaders). Plain caches only: KVH 1, no
 * rotation, no RoPE in the key path. Softmax, accumulators and partials: decode_split.h.
 *
 * Tile tl: tokens p0 .. p0 + ntok of head h, compressed (rows r0 .. r0 + ntok of block i) or
 * dense (sinks, window). bm[] / pre[] (local, lk_sp_block_prefix): the block's key bitmaps and
 * each key tile's first code.
 *
 * scores  unit (run u, slice z): rows r = r0 + u*TPI .. + TPI against channels c = z, z + NZ, ...
 *         key tile c:  bits = (bm[c] >> r) & (2^TPI - 1)      the run's survivors
 *                      j    = pre[c] + popcount(bm[c] below r) the first one's code
 *         survivor i of the run (bit i set) is code j + popcount(bits below i); others are 0.
 * p.V     work-item (quad c, token group g) of decode_split.h: value tile (row r, 64-channel
 *         tile cc = 4c / 64) has the quad's bits nib = (m >> 4c % 64) & 15, its first code
 *         lk_sp_value_first + popcount(m below 4c % 64).
 * TPI: LK_DEC_RUN_MAX (16 / QG), at most BLOCK_N.
 */
#ifndef LK_KV_SPARSE_DIRECT_H
#define LK_KV_SPARSE_DIRECT_H

#include "kv_sparse_tiles.h"

#define SP_TPI (BLOCK_N < LK_DEC_RUN_MAX ? BLOCK_N : LK_DEC_RUN_MAX)
#define SP_NRUN (BLOCK_N / SP_TPI)
#define SP_NZ LK_DEC_SLICES(SP_TPI)

/* Code j of a stream as a float, or 0 where the survivor bit is clear (no read). */
LK_INLINE float sp_direct_code(int bit, const LK_GLOBAL uint *words, long wbase, int j, int bits, float scale,
                               float min)
{
    return bit ? lk_sp_code(words, wbase, j, bits, scale, min) : 0.0f;
}

/* Partial scores of tile tl: sp[(z * BLOCK_N + n) * QG + h] for every slice z < NZ and token
 * n < BLOCK_N (0 past ntok). Ends with a barrier. */
LK_INLINE void sp_direct_scores(const LK_LOCAL_PTR ulong *bm, const LK_LOCAL_PTR int *pre, lk_sp_stream s,
                                lk_sp_geom g, int b, int hk, lk_sp_tile tl, const LK_LOCAL_PTR float *qs,
                                LK_LOCAL_PTR float *sp)
{
    const long h = (long)b * g.Hkv + hk;
    const int i = (int)((tl.p0 - lk_sp_sinks(g)) / LK_SP_BLOCK);
    const long wbase = tl.sparse ? lk_sp_block_words(s, g, h, i) : 0;
    for (int unit0 = 0; unit0 < SP_NRUN * SP_NZ; unit0 += WG) {
        int unit = unit0 + (int)get_local_id(0), u = unit % SP_NRUN, z = unit / SP_NRUN;
        if (unit >= SP_NRUN * SP_NZ)
            continue;
        float acc[SP_TPI * QG];
        for (int e = 0; e < SP_TPI * QG; e++)
            acc[e] = 0.0f;
        if (tl.sparse) {
            const int r = (int)((tl.p0 - lk_sp_sinks(g)) % LK_SP_BLOCK) + u * SP_TPI;
            for (int c = z; c < D; c += SP_NZ) {
                ulong m = bm[c];
                uint bits = (uint)(m >> r) & ((1u << SP_TPI) - 1u);
                int j = pre[c] + lk_sp_rank(m, r);
                float scale, min;
                lk_sp_tile_params(s.params, (h * g.nb_cap + i) * D + c, KBITS, &scale, &min);
                for (int e = 0; e < SP_TPI; e++)
                    lk_dec_run_fma(acc, e, qs, c,
                                   sp_direct_code((bits >> e) & 1u, s.words, wbase, j + lk_popcount64(bits & ((1u << e) - 1u)),
                                                  KBITS, scale, min));
            }
        } else {
            for (int c = z; c < D; c += SP_NZ)
                for (int e = 0; e < SP_TPI; e++) {
                    int n = u * SP_TPI + e;
                    long slot = lk_sp_dense_slot(tl.p0 + n, g.sinks, g.ring);
                    lk_dec_run_fma(acc, e, qs, c,
                                   n < tl.ntok ? lk_half_to_float(s.dense, (h * (g.sinks + g.ring) + slot) * D + c) : 0.0f);
                }
        }
        lk_dec_run_store(sp, z, u * SP_TPI, SP_TPI, acc);
    }
    lk_barrier();
}

/* p.V of tile tl (after lk_dec_softmax): acc += p v over its tokens. Ends with a barrier. */
LK_INLINE void sp_direct_pv(lk_sp_stream s, lk_sp_geom g, int b, int hk, lk_sp_tile tl, LK_LOCAL_PTR float *sp,
                            LK_LOCAL_PTR float *st, float *acc)
{
    const long h = (long)b * g.Hkv + hk;
    const int i = (int)((tl.p0 - lk_sp_sinks(g)) / LK_SP_BLOCK), r0 = (int)((tl.p0 - lk_sp_sinks(g)) % LK_SP_BLOCK);
    const long wbase = tl.sparse ? lk_sp_block_words(s, g, h, i) : 0;
    for (int k = 0; k < LK_DEC_QPT; k++) {
        int c, j;
        if (!lk_dec_pv_quad(st, k, acc, &c, &j))
            continue;
        const int cc = 4 * c / 64, e0 = 4 * c % 64;
        for (int n = LK_DEC_TID / LK_DEC_NQUAD; n < tl.ntok; n += LK_DEC_TG) {
            float v4[4];
            if (tl.sparse) {
                long tiles = (h * g.nb_cap + i) * D + (r0 + n) * (D / 64);
                ulong m = s.bitmap[tiles + cc];
                uint nib = (uint)(m >> e0) & 15u;
                int first = lk_sp_value_first(s, g, tiles, r0 + n, cc) + lk_sp_rank(m, e0);
                float scale, min;
                lk_sp_tile_params(s.params, tiles + cc, VBITS, &scale, &min);
                for (int e = 0; e < 4; e++)
                    v4[e] = sp_direct_code((nib >> e) & 1u, s.words, wbase, first + lk_popcount64(nib & ((1u << e) - 1u)),
                                           VBITS, scale, min);
            } else {
                long row = (h * (g.sinks + g.ring) + lk_sp_dense_slot(tl.p0 + n, g.sinks, g.ring)) * D + 4 * c;
                for (int e = 0; e < 4; e++)
                    v4[e] = lk_half_to_float(s.dense, row + e);
            }
            lk_dec_pv_add(sp, n, j, k, v4, acc);
        }
    }
    lk_barrier();
}

#endif
