/* kv_sparse_unpack.cl: rebuilds one stream of the sparse KV cache (kv_sparse_format.h) as dense
 * out [B, Hkv, L, D] (lk_t, element strides), for lk_kv_sparse_decompress and the two-stage key
 * path of the sparse decode: STREAM_K 1 keys (optionally un-reordered and rotated back, ROT, and
 * RoPE'd, ROPE; times out_scale), 0 values. Its own program, so its tile size (BLOCK_N, KVH) is
 * sized for this kernel's local memory alone.
 *
 *   grid: dim 0 = the cache's tiles (kv_sparse_tiles.h), dim 1 = B * Hkv / KVH;
 *   tile -> x [BLOCK_N][KVH*D + 1] in local memory -> out.
 */
#include "portable.h"
#include "kv_sparse_tiles.h"

#ifndef ROT
#define ROT 0
#endif
#ifndef ROPE
#define ROPE 0
#endif
#ifndef STREAM_K
#define STREAM_K 1
#endif

#define KEY_ROW (KVH * D + 1)

LK_KERNEL void kv_sparse_unpack(
    const LK_GLOBAL ulong *sbm, const LK_GLOBAL half *spar, const LK_GLOBAL uint *swords,
    const LK_GLOBAL uint *soffs, const LK_GLOBAL half *sdense, long head_words,
    int Hkv, long L, int sinks, int ring, int nb, int nb_cap, int keep,
    const LK_GLOBAL int *perm, const LK_GLOBAL float *freq, int layout, long pos_offset,
    LK_GLOBAL lk_t *out, long o_off, long osb, long osh, long oss, long osd, float out_scale)
{
    LK_SHARED float x[BLOCK_N * KEY_ROW];
#if STREAM_K
    LK_SHARED ulong bm[KVH * D];
    LK_SHARED int pre[LK_SP_PRE_INTS];
#endif
    const int groups = Hkv / KVH, b = get_group_id(1) / groups, hk0 = (get_group_id(1) % groups) * KVH;
    lk_sp_stream src = {sbm, spar, swords, soffs, sdense, head_words};
    lk_sp_geom g = {Hkv, sinks, ring, nb, nb_cap, keep, L};
    lk_sp_tile tl = lk_sp_tile_at(g, get_group_id(0));
#if STREAM_K
    lk_sp_key_tile(x, KEY_ROW, bm, pre, src, g, b, hk0, tl, 1, perm, freq, layout, pos_offset);
#else
    if (tl.sparse)
        lk_sp_load_values(x, KEY_ROW, src, g, b, hk0, tl);
    else
        lk_sp_load_dense(x, KEY_ROW, src, g, b, hk0, tl, 0);
    lk_barrier();
#endif
    for (int e = get_local_id(0); e < tl.ntok * KVH * D; e += get_local_size(0)) {
        int n = e / (KVH * D), c = e % (KVH * D);
        lk_st(out, o_off + b * osb + (long)(hk0 + c / D) * osh + (tl.p0 + n) * oss + (c % D) * osd,
              x[n * KEY_ROW + c] * out_scale);
    }
}
