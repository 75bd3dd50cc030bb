/* kivi_tiles_mma.h: kivi_decode.cl's DIRECT = 3 variant: the KIVI decode on tensor cores from f16
 * tiles (decode_mma.h; NVIDIA cc 8+). Per tile of BLOCK_N tokens the words are staged
 * (kivi_mma_stage.h, KBUF buffers), every work-item turns whole words into f16 in two tiles in
 * local memory, and the warps read their A fragments with one ldmatrix.trans each, where DIRECT 2
 * builds each f16 pair of a fragment from a word. The word buffer just filled from takes the copy
 * of the tile KBUF ahead while the warps compute. Requires what kivi_mma_stage.h and decode_mma.h require.
 *
 *   kt [KD][BLOCK_N + 8]   K^T: channel c's keys of the tile's tokens, f16
 *   vt [BLOCK_N][KD + 8]   V: token n's values, f16
 *   (rows padded by 16 bytes, so that the 8 rows of an ldmatrix phase fall in distinct banks)
 *
 *   fill      work-item step: one word; its even and odd codes masked apart, the 16-bit halves
 *             of the two joined by prmt, so that one shift and mask (| 0x6400) give the codes of
 *             neighbours 2p, 2p + 1 as lk_dequant_h2_bc's f16 pair; with the word's (scale, min),
 *             its f16x2 pairs stored 16 bytes at a time. Words past the quantized prefix: the
 *             residual's fp16 (0 past n).
 *   K frag    (scores; rows: tokens n0.., columns: channels 16 ks..) ldmatrix.x4.trans of kt,
 *             matrix i: channels 16 ks + 8 (i / 2) + 0..7 (its rows) from token n0 + 8 (i % 2)
 *   V^T frag  (p.V; rows: channels 16 mc.., columns: tokens n0..) ldmatrix.x4.trans of vt,
 *             matrix i: tokens n0 + 8 (i / 2) + 0..7 (its rows) from channel 16 mc + 8 (i % 2)
 */
#ifndef LK_KIVI_TILES_MMA_H
#define LK_KIVI_TILES_MMA_H

#include "kivi_mma_stage.h"

#define KT_ROW (BLOCK_N + 8) /* halves */
#define VT_ROW (KD + 8)

#define KT_WORDS (KD * KT_ROW / 2)
#define VT_WORDS (BLOCK_N * VT_ROW / 2)
#ifndef KBUF
#define KBUF 1 /* buffers of words: 1, or 2 (the copy two tiles ahead) */
#endif
/* kt, vt, then KBUF buffers of words (kivi_mma_stage.h) */
#define KIVI_MMA_LOCALS LK_SHARED uint kmw[KT_WORDS + VT_WORDS + KBUF * KM_WORDS] __attribute__((aligned(16)))

/* The f16 tiles the fragments read (f16 pairs). */
typedef struct kivi_tiles_src {
    const LK_LOCAL_PTR uint *kt, *vt;
} kivi_tiles_src;

/* The 16 / bits f16 pairs of neighbour codes (2p, 2p + 1) of word w, dequantized with sm
 * (scale, min), into out[p] (out 16-byte aligned for 2- and 4-bit words, 8 for 8-bit): the
 * parameters broadcast once, then a shift, a mask, a sub and an fma per pair, and 16-byte stores
 * (8-byte for the two pairs of an 8-bit word). */
LK_INLINE void kivi_tiles_word(uint w, uint sm, int bits, LK_LOCAL_PTR uint *out)
{
    const uint mask = bits == 2 ? 0x33333333u : bits == 4 ? 0x0F0F0F0Fu : 0x00FF00FFu;
    const uint levels = (uint)lk_quant_levels(bits), even = w & mask, odd = (w >> bits) & mask;
    const uint lo = lk_prmt(even, odd, 0x5410), hi = lk_prmt(even, odd, 0x7632); /* pairs of each half */
    const int per_half = 8 / bits;
    uint s2, m2, y[8];
    lk_dequant_params(sm, &s2, &m2);
    for (int p = 0; p < 16 / bits; p++) {
        const uint x = (((p < per_half ? lo : hi) >> (2 * bits * (p % per_half))) & (levels | levels << 16)) | KM_MAGIC;
        y[p] = lk_dequant_h2_bc(x, s2, m2);
    }
    if (bits == 8) {
        uint2 v;
        v.x = y[0];
        v.y = y[1];
        *(LK_LOCAL_PTR uint2 *)out = v;
        return;
    }
    for (int q = 0; q < 16 / bits; q += 4) {
        uint4 v;
        v.x = y[q];
        v.y = y[q + 1];
        v.z = y[q + 2];
        v.w = y[q + 3];
        *(LK_LOCAL_PTR uint4 *)(out + q) = v;
    }
}

/* kt and vt of the tile at j0 from the staged words buf. */
LK_INLINE void kivi_tiles_fill(const LK_LOCAL_PTR uint *buf, const LK_GLOBAL half *k_res, const LK_GLOBAL half *v_res,
                               int bh, long j0, long nk, long nv, long len, LK_LOCAL_PTR uint *kt,
                               LK_LOCAL_PTR uint *vt)
{
    for (int e = LK_DEC_TID; e < KD * KM_KWT; e += WG) { /* key word: channel c, tokens tok0.. */
        const int c = e / KM_KWT, tok0 = e % KM_KWT * CPW_K;
        LK_LOCAL_PTR uint *row = kt + (c * KT_ROW + tok0) / 2;
        const long t0 = j0 + tok0;
        if (t0 < nk) {
            kivi_tiles_word(buf[e], buf[KM_OFF_KP + c * KM_KG + km_kgroup(j0, tok0)], BITS_K, row);
            continue;
        }
        for (int p = 0; p < CPW_K / 2; p++) {
            const long t = t0 + 2 * p;
            const long step = (long)((t + 1) % R - t % R) * KD;
            row[p] = kivi_mma_residual(k_res, ((long)bh * R + t % R) * KD + c, step, t < len, t + 1 < len);
        }
    }
    for (int e = LK_DEC_TID; e < BLOCK_N * KM_VWT; e += WG) { /* value word: token n, channels ch0.. */
        const int n = e / KM_VWT, ch0 = e % KM_VWT * CPW_V;
        LK_LOCAL_PTR uint *row = vt + (n * VT_ROW + ch0) / 2;
        const long t = j0 + n;
        if (t < nv) {
            kivi_tiles_word(buf[KM_OFF_VW + e], buf[KM_OFF_VP + n * KM_VG + ch0 / G], BITS_V, row);
            continue;
        }
        for (int p = 0; p < CPW_V / 2; p++)
            row[p] = kivi_mma_residual(v_res, ((long)bh * R + t % R) * KD + ch0 + 2 * p, 1, t < len, t < len);
    }
}

/* The f16 tiles of tile `tile` of a split's tiles [t0, t1) in kmw (KIVI_MMA_LOCALS): the first
 * call stages the split's first KBUF tiles' words; each call waits for its words, fills kt and vt
 * (after a barrier: every warp is done with the last tile's), then, after another barrier, starts
 * copying the words of the tile KBUF ahead into the buffer just read, which runs while this
 * tile computes (KBUF 2: and while the next tile fills and computes). Every work-item calls it,
 * once per tile in order. */
LK_INLINE kivi_tiles_src kivi_mma_tile(const LK_GLOBAL uint *k_codes, const LK_GLOBAL half *k_params,
                                       const LK_GLOBAL half *k_res, const LK_GLOBAL uint *v_codes,
                                       const LK_GLOBAL half *v_params, const LK_GLOBAL half *v_res, long cap, int bh,
                                       long n, long nk, long nv, int tile, int t0, int t1, LK_LOCAL_PTR uint *kmw)
{
    const long j0 = (long)tile * BLOCK_N;
    LK_LOCAL_PTR uint *kt = kmw, *vt = kt + KT_WORDS, *words = vt + VT_WORDS;
    LK_LOCAL_PTR uint *buf = words + (tile - t0) % KBUF * KM_WORDS;
    if (tile == t0)
        for (int b = 0; b < KBUF && tile + b < t1; b++)
            kivi_mma_stage(k_codes, k_params, v_codes, v_params, cap, bh, j0 + b * BLOCK_N, nk, nv,
                           words + b * KM_WORDS);
    if (KBUF == 2 && tile + 1 < t1)
        lk_cp_async_wait(1); /* this tile's group; the next one's may still run */
    else
        lk_cp_async_wait(0);
    lk_barrier();
    kivi_tiles_fill(buf, k_res, v_res, bh, j0, nk, nv, n, kt, vt);
    lk_barrier();
    if (tile + KBUF < t1)
        kivi_mma_stage(k_codes, k_params, v_codes, v_params, cap, bh, j0 + KBUF * BLOCK_N, nk, nv, buf);
    kivi_tiles_src src = {kt, vt};
    return src;
}

/* A fragment of K: tile rows n0.., channels 16 ks.. */
LK_INLINE void dec_mma_key_frag(const kivi_tiles_src *s, int n0, int ks, uint *a)
{
    const int i = LK_DEC_TID % 32 / 8, r = LK_DEC_TID % 8;
    lk_ldmatrix_x4_trans(a, LK_SMEM_ADDR(s->kt) + 2 * ((16 * ks + 8 * (i / 2) + r) * KT_ROW + n0 + 8 * (i % 2)));
}

/* A fragment of V^T: channels 16 mc.., tile rows n0.. */
LK_INLINE void dec_mma_value_frag(const kivi_tiles_src *s, int n0, int mc, uint *a)
{
    const int i = LK_DEC_TID % 32 / 8, r = LK_DEC_TID % 8;
    lk_ldmatrix_x4_trans(a, LK_SMEM_ADDR(s->vt) + 2 * ((n0 + 8 * (i / 2) + r) * VT_ROW + 16 * mc + 8 * (i % 2)));
}

#define DEC_MMA_SRC kivi_tiles_src
#define DEC_MMA_FRAGMENTS
#include "decode_mma.h"

#endif
