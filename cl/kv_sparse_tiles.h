/* kv_sparse_tiles.h: loading BLOCK_N-token tiles of the sparse KV cache (kv_sparse_format.h) into
 * local memory, fp32, for KVH consecutive kv heads hk0 .. hk0 + KVH of batch row b:
 *
 *   x[n*stride + c]   token p0 + n, channel c = j*D + d of kv head hk0 + j
 *
 * The token axis of a head is cut into tiles segment by segment, so no tile straddles two:
 *   sinks [0, ns)  | compressed blocks [ns, ns + 64*nb) | window [ns + 64*nb, L)     ns = min(N, L)
 *   ceil(ns/BLOCK_N) | 64*nb/BLOCK_N (BLOCK_N divides 64)  | ceil(window/BLOCK_N) tiles
 *
 * Keys may carry a channel permutation (RotateKV's reorder): stored channel c lands at perm[c],
 * which undoes the reorder on the way in. RoPE on tiles: lk_sp_rope.
 *
 * Two loaders of compressed tiles (LOADER, tuned):
 *   0  walk: one work-item per tile walks its bitmap's set bits and scatters the survivors
 *      (consecutive codes from one word), after a pass that zeroes the tile
 *   1  rank: one work-item per element ranks its bit among the tile's survivors (a popcount of
 *      the bitmap below it) and reads its own code, or writes 0; consecutive work-items take
 *      consecutive survivors of one tile (keys: the tokens of a channel; values: the channels
 *      of a token), so their codes come from the same words
 */
#ifndef LK_KV_SPARSE_TILES_H
#define LK_KV_SPARSE_TILES_H

#include "kv_sparse_format.h"
#include "rope_math.h"
#include "hadamard.h"

#ifndef D
#define D 128
#endif
#ifndef KVH
#define KVH 1
#endif
#ifndef BLOCK_N
#define BLOCK_N 16
#endif
#ifndef KBITS
#define KBITS 16
#endif
#ifndef VBITS
#define VBITS 16
#endif
#ifndef LOADER
#define LOADER 0
#endif

typedef struct lk_sp_stream {
    const LK_GLOBAL ulong *bitmap;
    const LK_GLOBAL half *params;
    const LK_GLOBAL uint *words;
    const LK_GLOBAL uint *offsets;
    const LK_GLOBAL half *dense;
    long head_words;
} lk_sp_stream;

typedef struct lk_sp_geom {
    int Hkv, sinks, ring, nb, nb_cap, keep;
    long L;
} lk_sp_geom;

typedef struct lk_sp_tile {
    long p0;
    int ntok, sparse;
} lk_sp_tile;

LK_INLINE int lk_sp_sinks(lk_sp_geom g) { return g.L < g.sinks ? (int)g.L : g.sinks; }

LK_INLINE int lk_sp_ntiles(lk_sp_geom g)
{
    int ns = lk_sp_sinks(g);
    long win = g.L - ns - (long)LK_SP_BLOCK * g.nb;
    return (ns + BLOCK_N - 1) / BLOCK_N + g.nb * (LK_SP_BLOCK / BLOCK_N) + (int)((win + BLOCK_N - 1) / BLOCK_N);
}

LK_INLINE lk_sp_tile lk_sp_tile_at(lk_sp_geom g, int t)
{
    int ns = lk_sp_sinks(g), t1 = (ns + BLOCK_N - 1) / BLOCK_N, t2 = g.nb * (LK_SP_BLOCK / BLOCK_N);
    lk_sp_tile tl;
    long end;
    if (t < t1) {
        tl.p0 = (long)t * BLOCK_N;
        end = ns;
        tl.sparse = 0;
    } else if (t < t1 + t2) {
        tl.p0 = ns + (long)(t - t1) * BLOCK_N;
        end = tl.p0 + BLOCK_N;
        tl.sparse = 1;
    } else {
        tl.p0 = ns + (long)LK_SP_BLOCK * g.nb + (long)(t - t1 - t2) * BLOCK_N;
        end = g.L;
    }
    if (t >= t1 + t2)
        tl.sparse = 0;
    tl.ntok = end - tl.p0 < BLOCK_N ? (int)(end - tl.p0) : BLOCK_N;
    return tl;
}

/* Dense tokens of a tile (sinks or window). */
LK_INLINE void lk_sp_load_dense(LK_LOCAL_PTR float *x, int stride, lk_sp_stream s, lk_sp_geom g, int b, int hk0,
                                lk_sp_tile tl, const LK_GLOBAL int *perm)
{
    for (int e = get_local_id(0); e < tl.ntok * KVH * D; e += get_local_size(0)) {
        int n = e / (KVH * D), c = e % (KVH * D);
        long h = (long)b * g.Hkv + hk0 + c / D;
        float v = lk_half_to_float(s.dense, (h * (g.sinks + g.ring) + lk_sp_dense_slot(tl.p0 + n, g.sinks, g.ring)) * D +
                                                c % D);
        x[n * stride + (perm ? perm[c] : c)] = v;
    }
}

/* Local ints at pre for lk_sp_block_prefix: the tile starts, then the scan's counts and the sums
 * of 16-tile groups. */
#define LK_SP_PRE_INTS (KVH * D * 2 + KVH * D / 16)

/* The bitmaps of block i's key tiles (KVH heads) and each tile's first code in the block's stream
 * (the exclusive prefix sum of the popcounts of the tiles before it in its head), in local
 * memory: pre[0 .. KVH*D). A scan in two levels (D is a multiple of 64): counts, sums of groups
 * of 16 tiles, then per tile at most D/16 - 1 group sums and 15 counts (the serial sum over
 * every earlier tile took up to D - 1). */
LK_INLINE void lk_sp_block_prefix(LK_LOCAL_PTR ulong *bm, LK_LOCAL_PTR int *pre, lk_sp_stream s, lk_sp_geom g, int b,
                                  int hk0, int i)
{
    LK_LOCAL_PTR int *cnt = pre + KVH * D, *gsum = cnt + KVH * D;
    for (int c = get_local_id(0); c < KVH * D; c += get_local_size(0)) {
        long h = (long)b * g.Hkv + hk0 + c / D;
        bm[c] = s.bitmap[(h * g.nb_cap + i) * D + c % D];
        cnt[c] = lk_popcount64(bm[c]);
    }
    lk_barrier();
    for (int q0 = 0; q0 < KVH * D / 16; q0 += get_local_size(0)) {
        int q = q0 + (int)get_local_id(0), sum = 0;
        if (q >= KVH * D / 16)
            continue;
        for (int u = 0; u < 16; u++)
            sum += cnt[16 * q + u];
        gsum[q] = sum;
    }
    lk_barrier();
    for (int c0 = 0; c0 < KVH * D; c0 += get_local_size(0)) {
        int c = c0 + (int)get_local_id(0);
        if (c >= KVH * D)
            continue;
        int sum = 0;
        for (int q = (c - c % D) / 16; q < c / 16; q++)
            sum += gsum[q];
        for (int u = c - c % 16; u < c; u++)
            sum += cnt[u];
        pre[c] = sum;
    }
    lk_barrier();
}

/* Zeros for the ntok x KVH*D tile x (the walking loaders write only the survivors). */
LK_INLINE void lk_sp_zero_tile(LK_LOCAL_PTR float *x, int stride, int ntok)
{
    for (int e = get_local_id(0); e < ntok * KVH * D; e += get_local_size(0))
        x[(e / (KVH * D)) * stride + e % (KVH * D)] = 0.0f;
    lk_barrier();
}

/* The first word of block i's stream of head h. */
LK_INLINE long lk_sp_block_words(lk_sp_stream s, lk_sp_geom g, long h, int i)
{
    return h * s.head_words + s.offsets[h * (g.nb_cap + 1) + i];
}

/* The first code of value tile cc of row r in its block's stream: r*keep plus the survivors of
 * the row's earlier tiles (tiles: the row's first tile). */
LK_INLINE int lk_sp_value_first(lk_sp_stream s, lk_sp_geom g, long tiles, int r, int cc)
{
    int first = r * g.keep;
    for (int u = 0; u < cc; u++)
        first += lk_popcount64(s.bitmap[tiles + u]);
    return first;
}

/* Code j of a block's stream (words from wbase on) as a float: an fp16 survivor (bits 16) or a
 * quantized one with its tile's scale and minimum. */
LK_INLINE float lk_sp_code(const LK_GLOBAL uint *words, long wbase, int j, int bits, float scale, float min)
{
    if (bits == 16)
        return lk_half_to_float((const LK_GLOBAL half *)words, 2 * wbase + j);
    const int per = 32 / bits;
    return lk_quant_dequant(lk_quant_unpack(words[wbase + j / per], j % per, bits), scale, min);
}

/* Scale and minimum of quantized tile ptile (0 for fp16 survivors, which have none). */
LK_INLINE void lk_sp_tile_params(const LK_GLOBAL half *params, long ptile, int bits, float *scale, float *min)
{
    *scale = bits < 16 ? lk_half_to_float(params, 2 * ptile + 1) : 0.0f;
    *min = bits < 16 ? lk_half_to_float(params, 2 * ptile) : 0.0f;
}

/* Writes the survivors of one tile to dst[(e - first) * step] for every set bit e of sel (the
 * tile's bits inside the wanted element range), reading codes from stream position j on. One
 * work-item walks the bits (lowest first), so consecutive codes come from the same word. */
LK_INLINE void lk_sp_scatter(LK_LOCAL_PTR float *dst, int step, ulong sel, int first, const LK_GLOBAL uint *words,
                             long wbase, int j, int bits, const LK_GLOBAL half *params, long ptile)
{
    float scale = 0.0f, min = 0.0f;
    if (sel)
        lk_sp_tile_params(params, ptile, bits, &scale, &min);
    while (sel) {
        int e = lk_ctz64(sel);
        sel &= sel - 1;
        dst[(e - first) * step] = lk_sp_code(words, wbase, j++, bits, scale, min);
    }
}

/* Keys of a compressed tile: bm[] and pre[] (KVH*D each, local) hold the block's bitmaps and the
 * tiles' first codes, (re)computed when `fresh` (the tile opens a block, or the caller has not
 * loaded this block before; uniform over the work-group). LOADER 0: one work-item per stored
 * channel walks its tile's survivors in the tile's token range; 1: one work-item per element,
 * tokens of a channel on consecutive work-items. The caller adds the barrier after x. */
LK_INLINE void lk_sp_load_keys(LK_LOCAL_PTR float *x, int stride, LK_LOCAL_PTR ulong *bm, LK_LOCAL_PTR int *pre,
                               lk_sp_stream s, lk_sp_geom g, int b, int hk0, lk_sp_tile tl,
                               const LK_GLOBAL int *perm, int fresh)
{
    const int i = (int)((tl.p0 - lk_sp_sinks(g)) / LK_SP_BLOCK), r0 = (int)((tl.p0 - lk_sp_sinks(g)) % LK_SP_BLOCK);
    if (fresh)
        lk_sp_block_prefix(bm, pre, s, g, b, hk0, i);
#if LOADER
    for (int e = get_local_id(0); e < tl.ntok * KVH * D; e += get_local_size(0)) {
        int n = e % tl.ntok, c = e / tl.ntok, r = r0 + n;
        long h = (long)b * g.Hkv + hk0 + c / D;
        ulong m = bm[c];
        float v = 0.0f;
        if ((m >> r) & 1) {
            float scale, min;
            lk_sp_tile_params(s.params, (h * g.nb_cap + i) * D + c % D, KBITS, &scale, &min);
            v = lk_sp_code(s.words, lk_sp_block_words(s, g, h, i), pre[c] + lk_sp_rank(m, r), KBITS, scale, min);
        }
        x[n * stride + (perm ? perm[c] : c)] = v;
    }
#else
    lk_sp_zero_tile(x, stride, tl.ntok);
    const ulong below = (((ulong)1) << r0) - 1;
    const ulong range = (tl.ntok == 64 ? ~(ulong)0 : (((ulong)1) << tl.ntok) - 1) << r0;
    for (int c0 = 0; c0 < KVH * D; c0 += get_local_size(0)) {
        int c = c0 + (int)get_local_id(0);
        if (c >= KVH * D)
            continue;
        long h = (long)b * g.Hkv + hk0 + c / D;
        ulong m = bm[c];
        lk_sp_scatter(x + (perm ? perm[c] : c), stride, m & range, r0, s.words,
                      lk_sp_block_words(s, g, h, i), pre[c] + lk_popcount64(m & below), KBITS, s.params,
                      (h * g.nb_cap + i) * D + c % D);
    }
#endif
}

/* Values of a compressed tile (a token's survivors start at r*keep in the block's stream).
 * LOADER 0: one work-item per (token, 64-channel tile) walks the tile's survivors; 1: one
 * work-item per element, channels of a token on consecutive work-items. */
LK_INLINE void lk_sp_load_values(LK_LOCAL_PTR float *x, int stride, lk_sp_stream s, lk_sp_geom g, int b, int hk0,
                                 lk_sp_tile tl)
{
    const int i = (int)((tl.p0 - lk_sp_sinks(g)) / LK_SP_BLOCK), r0 = (int)((tl.p0 - lk_sp_sinks(g)) % LK_SP_BLOCK);
#if LOADER
    for (int e = get_local_id(0); e < tl.ntok * KVH * D; e += get_local_size(0)) {
        int n = e / (KVH * D), c = e % (KVH * D), d = c % D, r = r0 + n;
        long h = (long)b * g.Hkv + hk0 + c / D;
        long tiles = (h * g.nb_cap + i) * D + r * (D / 64);
        ulong m = s.bitmap[tiles + d / 64];
        float v = 0.0f;
        if ((m >> (d % 64)) & 1) {
            float scale, min;
            lk_sp_tile_params(s.params, tiles + d / 64, VBITS, &scale, &min);
            v = lk_sp_code(s.words, lk_sp_block_words(s, g, h, i),
                           lk_sp_value_first(s, g, tiles, r, d / 64) + lk_sp_rank(m, d % 64), VBITS, scale, min);
        }
        x[n * stride + c] = v;
    }
#else
    const int per_row = KVH * (D / 64);
    lk_sp_zero_tile(x, stride, tl.ntok);
    for (int w0 = 0; w0 < tl.ntok * per_row; w0 += get_local_size(0)) {
        int w = w0 + (int)get_local_id(0);
        if (w >= tl.ntok * per_row)
            continue;
        int n = w / per_row, j = (w % per_row) / (D / 64), cc = w % (D / 64), r = r0 + n;
        long h = (long)b * g.Hkv + hk0 + j;
        long tiles = (h * g.nb_cap + i) * D + r * (D / 64);
        lk_sp_scatter(x + n * stride + j * D + cc * 64, 1, s.bitmap[tiles + cc], 0, s.words,
                      lk_sp_block_words(s, g, h, i), lk_sp_value_first(s, g, tiles, r, cc), VBITS, s.params, tiles + cc);
    }
#endif
}

/* RoPE on rows of `heads` head vectors (x[r*stride + j*D + d]); row r at position pos0 + r*step.
 * freq: turns per position of each pair, (hi, lo) (rope_math.h). */
LK_INLINE void lk_sp_rope(LK_LOCAL_PTR float *x, int rows, int heads, int stride, long pos0, int step,
                          const LK_GLOBAL float *freq, int layout)
{
    for (int e = get_local_id(0); e < rows * heads * (D / 2); e += get_local_size(0)) {
        int r = e / (heads * (D / 2)), j = (e / (D / 2)) % heads, i = e % (D / 2);
        float c, sn;
        lk_rope_sincos((int)(pos0 + (long)r * step), freq[2 * i], freq[2 * i + 1], &c, &sn);
        LK_LOCAL_PTR float *v = x + r * stride + j * D;
        int d1 = lk_rope_first(layout, i, D), d2 = lk_rope_second(layout, i, D);
        float x1 = v[d1], x2 = v[d2];
        v[d1] = x1 * c - x2 * sn;
        v[d2] = x2 * c + x1 * sn;
    }
}

/* A key tile as attention sees it: stored keys, un-reordered, rotated back (ROT: unscaled
 * Hadamard over the KVH*D channels; the caller applies 1/sqrt(KVH*D)), RoPE'd (ROPE). */
LK_INLINE void lk_sp_key_tile(LK_LOCAL_PTR float *x, int stride, LK_LOCAL_PTR ulong *bm, LK_LOCAL_PTR int *pre,
                              lk_sp_stream s, lk_sp_geom g, int b, int hk0, lk_sp_tile tl, int fresh,
                              const LK_GLOBAL int *perm, const LK_GLOBAL float *freq, int layout, long pos_offset)
{
    if (tl.sparse)
        lk_sp_load_keys(x, stride, bm, pre, s, g, b, hk0, tl, perm, fresh || (tl.p0 - lk_sp_sinks(g)) % LK_SP_BLOCK == 0);
    else
        lk_sp_load_dense(x, stride, s, g, b, hk0, tl, perm);
    lk_barrier();
#if ROT
    lk_fwht_rows(x, tl.ntok, KVH * D, stride);
#endif
#if ROPE
    lk_sp_rope(x, tl.ntok, KVH, stride, pos_offset + tl.p0, 1, freq, layout);
    lk_barrier();
#endif
}

#endif
