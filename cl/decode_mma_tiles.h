/* decode_mma_tiles.h: decode_mma.h's products over the fp32 tiles of decode_split.h, for a decode
 * kernel whose DIRECT = 3 variant fills ks and vs with its tile loaders (as DIRECT 0 does) and
 * then runs the warp-by-warp tensor-core products on them (NVIDIA cc 8+, f16 q, KVH 1). A lane
 * builds each f16 pair of a fragment from two floats of a tile:
 *
 *   ks [BLOCK_N][LK_DEC_KROW]  K fragment (rows tokens n0.., columns channels 16 ks..): a0 is
 *                              ks[n0 + g][16 ks + 2t .. + 1], one 8-byte read
 *   vs [BLOCK_N][LK_DEC_VROW]  V^T fragment (rows channels 16 mc.., columns tokens n0..): a0 is
 *                              vs[n0 + 2t][16 mc + g] and vs[n0 + 2t + 1][16 mc + g]
 * Rows past the tile's ntok tokens hold stale data: their scores are masked by decode_mma.h, and
 * their values read as 0 here (p is 0 there, but 0 times a stale NaN is not).
 */
#ifndef LK_DECODE_MMA_TILES_H
#define LK_DECODE_MMA_TILES_H

#include "mma_nv.h"

/* The tile pair the fragments read. */
typedef struct dec_tiles_src {
    const LK_LOCAL_PTR float *ks, *vs;
    int ntok;
} dec_tiles_src;

/* A fragment of K: tile rows n0.., channels 16 ks.. */
LK_INLINE void dec_mma_key_frag(const dec_tiles_src *s, int n0, int ks, uint *a)
{
    const int g = LK_DEC_TID % 32 / 4, t = LK_DEC_TID % 4;
    for (int i = 0; i < 4; i++) { /* rows g, g + 8; columns 2t, 2t + 8 */
        const float2 x = *(const LK_LOCAL_PTR float2 *)(s->ks + (n0 + g + 8 * (i & 1)) * LK_DEC_KROW + 16 * ks + 2 * t +
                                                         8 * (i >> 1));
        a[i] = lk_pack_half2(x.x, x.y);
    }
}

/* A fragment of V^T: channels 16 mc.., tile rows n0.. (0 past ntok). */
LK_INLINE void dec_mma_value_frag(const dec_tiles_src *s, int n0, int mc, uint *a)
{
    const int g = LK_DEC_TID % 32 / 4, t = LK_DEC_TID % 4;
    for (int i = 0; i < 4; i++) { /* rows (channels) g, g + 8; columns (tokens) 2t, 2t + 8 */
        const int n = n0 + 2 * t + 8 * (i >> 1), c = 16 * mc + g + 8 * (i & 1);
        a[i] = lk_pack_half2(n < s->ntok ? s->vs[n * LK_DEC_VROW + c] : 0.0f,
                             n + 1 < s->ntok ? s->vs[(n + 1) * LK_DEC_VROW + c] : 0.0f);
    }
}

#define DEC_MMA_SRC dec_tiles_src
#define DEC_MMA_FRAGMENTS
#include "decode_mma.h"

#endif
