/* kv_sparse_compress.cl: streaming compression into the sparse KV cache (format:
 * kv_sparse_format.h).
 *
 * kv_sparse_place      new tokens x [B, Hkv, T, D] (lk_t, strides) at positions L + t go to
 *                      dense slot (sinks, or the final window), or to the stage when their
 *                      block is compressed by this append:  stage [h][c1 - c0][D] half,
 *                      token p at row p - c0  (c0 = first token to compress, c1 = end).
 *                      One work-item per element.
 * kv_sparse_ring_to_stage  window tokens p in [c0, L) already in the ring move to the stage.
 * kv_sparse_compress   one work-group per (staged block j, head h) -> cache block block0 + j:
 *
 *     stage rows r = 0..63 (64 x D)        1. rank |x| within each row: element d survives when
 *     +-------------------------+             fewer than keep elements beat it (larger, or equal
 *     | r  x x x x ... x  (D)   |             with a lower index): exactly keep per row
 *     +-------------------------+          2. rowmask[r][D/32] -> the D tile bitmaps (IS_KEY:
 *                                             tile d = column d; else tile r*(D/64)+c = 64-wide
 *                                             piece of row r), their popcounts, prefix starts
 *                                          3. quantized: min/max of each tile's survivors
 *                                          4. every survivor ORs its code into wbuf[BW] (local
 *                                             atomic_or: lanes sharing a word never race),
 *                                             then wbuf is copied out with plain stores
 */
#include "portable.h"
#include "kv_sparse_format.h"

#ifndef D
#define D 128
#endif
#ifndef BITS
#define BITS 16
#endif
#ifndef IS_KEY
#define IS_KEY 1
#endif
#ifndef CWG
#define CWG 256 /* >= D; rows ranked per pass: CWG / D */
#endif

#define ROW_WORDS (D / 32)
#define MAX_WORDS (LK_SP_BLOCK * D * BITS / 32)
#define PER_WORD (32 / BITS)

LK_KERNEL void kv_sparse_place(const LK_GLOBAL lk_t *x, long x_off, long xsb, long xsh, long xss, long xsd,
                               LK_GLOBAL half *dense, LK_GLOBAL half *stage, int Hkv, long T, long L, int sinks,
                               int ring, long c0, long c1, long total)
{
    long n = (long)get_group_id(0) * get_local_size(0) + get_local_id(0);
    if (n >= total)
        return;
    int d = (int)(n % D);
    long t = (n / D) % T, bh = n / ((long)D * T);
    int b = (int)(bh / Hkv), hk = (int)(bh % Hkv);
    long p = L + t;
    float v = lk_ld(x, x_off + b * xsb + hk * xsh + t * xss + d * xsd);
    if (p >= c0 && p < c1)
        lk_float_to_half(stage, (bh * (c1 - c0) + (p - c0)) * D + d, v);
    else
        lk_float_to_half(dense, (bh * (sinks + ring) + lk_sp_dense_slot(p, sinks, ring)) * D + d, v);
}

LK_KERNEL void kv_sparse_ring_to_stage(const LK_GLOBAL half *dense, LK_GLOBAL half *stage, int sinks, int ring,
                                       long c0, long c1, long moved, long total)
{
    long n = (long)get_group_id(0) * get_local_size(0) + get_local_id(0);
    if (n >= total)
        return;
    int d = (int)(n % D);
    long t = (n / D) % moved, bh = n / ((long)D * moved);
    long p = c0 + t;
    float v = lk_half_to_float(dense, (bh * (sinks + ring) + lk_sp_dense_slot(p, sinks, ring)) * D + d);
    lk_float_to_half(stage, (bh * (c1 - c0) + t) * D + d, v);
}

/* The fp16 bit pattern of v (what a 16-bit stream stores). */
LK_INLINE uint half_bits(float v)
{
    ushort u;
    lk_float_to_half((half *)&u, 0, v);
    return (uint)u;
}

/* Tile t's element e as (row, channel) of the block. */
LK_INLINE int tile_row(int t, int e) { return IS_KEY ? e : t / (D / 64); }
LK_INLINE int tile_col(int t, int e) { return IS_KEY ? t : (t % (D / 64)) * 64 + e; }

LK_KERNEL LK_WG_SIZE(CWG) void kv_sparse_compress(const LK_GLOBAL half *stage, long stage_tokens,
                                                  LK_GLOBAL ulong *bitmap, LK_GLOBAL half *params,
                                                  LK_GLOBAL uint *words, LK_GLOBAL uint *offsets, int nb_cap,
                                                  long head_words, int block0, int keep)
{
    LK_SHARED uint rowmask[LK_SP_BLOCK * ROW_WORDS];
    LK_SHARED float row[CWG];
    LK_SHARED ulong tbm[D];
    LK_SHARED int start[D];
#if BITS < 16
    LK_SHARED float tmin[D], tscale[D];
#endif
    LK_SHARED uint wbuf[MAX_WORDS];

    const int j = get_group_id(0), h = get_group_id(1), blk = block0 + j;
    const int bw = (LK_SP_BLOCK * keep * BITS + 31) / 32;
    const LK_GLOBAL half *src = stage + ((long)h * stage_tokens + (long)j * LK_SP_BLOCK) * D;
    const long tile0 = ((long)h * nb_cap + blk) * D;

    for (int i = get_local_id(0); i < LK_SP_BLOCK * ROW_WORDS; i += CWG)
        rowmask[i] = 0;
    for (int i = get_local_id(0); i < bw; i += CWG)
        wbuf[i] = 0;

    /* 1. exactly `keep` survivors per row */
    const int rows_per_pass = CWG / D;
    for (int r0 = 0; r0 < LK_SP_BLOCK; r0 += rows_per_pass) {
        int rr = get_local_id(0) / D, d = get_local_id(0) % D, r = r0 + rr;
        int active = rr < rows_per_pass && r < LK_SP_BLOCK;
        lk_barrier();
        if (active)
            row[rr * D + d] = lk_fabs(lk_half_to_float(src, (long)r * D + d));
        lk_barrier();
        if (active) {
            float a = row[rr * D + d];
            int rank = 0;
            for (int i = 0; i < D; i++) {
                float o = row[rr * D + i];
                rank += o > a || (o == a && i < d);
            }
            if (rank < keep)
                lk_atomic_or_local(&rowmask[r * ROW_WORDS + d / 32], 1u << (d % 32));
        }
    }
    lk_barrier();

    /* 2-3. tile bitmaps, counts, quantization parameters */
    for (int t0 = 0; t0 < D; t0 += CWG) {
        int t = t0 + (int)get_local_id(0);
        if (t >= D)
            continue;
        ulong bm = 0;
        for (int e = 0; e < 64; e++) {
            int r = tile_row(t, e), c = tile_col(t, e);
            bm |= (ulong)((rowmask[r * ROW_WORDS + c / 32] >> (c % 32)) & 1u) << e;
        }
        tbm[t] = bm;
        bitmap[tile0 + t] = bm;
#if BITS < 16
        float mn = INFINITY, mx = -INFINITY, scale = 0.0f, min = 0.0f;
        for (int e = 0; e < 64; e++)
            if ((bm >> e) & 1) {
                float x = lk_half_to_float(src, (long)tile_row(t, e) * D + tile_col(t, e));
                mn = lk_fmin(mn, x);
                mx = lk_fmax(mx, x);
            }
        if (bm)
            lk_quant_params_f16(mn, mx, BITS, &scale, &min);
        tmin[t] = min;
        tscale[t] = scale;
        lk_float_to_half(params, 2 * (tile0 + t), min);
        lk_float_to_half(params, 2 * (tile0 + t) + 1, scale);
#endif
    }
    lk_barrier();
    for (int t0 = 0; t0 < D; t0 += CWG) {
        int t = t0 + (int)get_local_id(0);
        if (t >= D)
            continue;
        int first = IS_KEY ? 0 : t - t % (D / 64), s = IS_KEY ? 0 : (t / (D / 64)) * keep;
        for (int u = first; u < t; u++)
            s += lk_popcount64(tbm[u]);
        start[t] = s;
    }
    lk_barrier();

    /* 4. codes: race-free packing through local atomic_or */
    for (int e0 = 0; e0 < LK_SP_BLOCK * D; e0 += CWG) {
        int e = e0 + (int)get_local_id(0), r = e / D, d = e % D;
        if (e >= LK_SP_BLOCK * D || !((rowmask[r * ROW_WORDS + d / 32] >> (d % 32)) & 1u))
            continue;
        int t = IS_KEY ? d : r * (D / 64) + d / 64, pos = IS_KEY ? r : d % 64;
        int idx = start[t] + lk_sp_rank(tbm[t], pos);
        float x = lk_half_to_float(src, (long)r * D + d);
#if BITS == 16
        uint code = half_bits(x);
#else
        uint code = lk_quant_code(x, tscale[t], tmin[t], BITS);
#endif
        lk_atomic_or_local(&wbuf[idx / PER_WORD], code << ((idx % PER_WORD) * BITS));
    }
    lk_barrier();
    const long base = (long)h * head_words + (long)blk * bw;
    for (int i = get_local_id(0); i < bw; i += CWG)
        words[base + i] = wbuf[i];
    if (get_local_id(0) == 0)
        offsets[(long)h * (nb_cap + 1) + blk + 1] = (uint)((long)(blk + 1) * bw);
}
