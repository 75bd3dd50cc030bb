/* kv_sparse_format.h: the Mustafar-style sparse KV cache as the kernels see it (compression:
 * kv_sparse_compress.cl; reading: kv_sparse_tiles.h). Host twin: ref/kv_sparse_ref.c.
 *
 * Heads h = b*Hkv + hk. Tokens of a head: [0, N) sinks (dense), then nb compressed blocks of 64
 * tokens ([N + 64i, N + 64i + 64)), then the dense recent window. K and V are separate streams
 * with the same layout; each 64-token block of a stream is D tiles of 64 elements:
 *
 *   key tile d      = channel d of the block's 64 tokens       (runs down the tokens)
 *   value tile r*(D/64) + c = token r, channels [64c, 64c + 64) (runs along the channels)
 *
 *   bitmap  [h][NB][D] ulong  bit e (LSB first) = element e of the tile survives
 *   params  [h][NB][D][2] half  (min, scale) of the tile's survivors (quantized streams only)
 *   words   [h][head_words] uint  block i at h*head_words + offsets[h][i]
 *   offsets [h][NB + 1] uint  exclusive prefix sum of the blocks' word counts (offsets[h][0] = 0)
 *
 * Pruning keeps exactly `keep` elements of every token row of D channels (K and V alike), so a
 * block holds 64*keep survivors and BW = ceil(64*keep*bits/32) words. Inside a block the
 * survivors form one stream of codes, tile after tile, each tile's in element order; code j
 * of the stream sits in word j / (32/bits) at bits (j % (32/bits))*bits (LSB first):
 *   bits 16   the fp16 value itself (two per word)
 *   bits 8/4/2  quantized per tile with cl/quant.h (fp16 min and scale, round half to even)
 * A tile's first code is the exclusive prefix sum of the popcounts of the tiles before it in the
 * block (computed by the reader: the format spends no bytes on per-tile offsets). For values
 * that is r*keep + the popcounts of the row's earlier tiles.
 *
 * Dense tokens (sinks and window) live in dense [h][N + RC][D] half: token p < N at slot p,
 * a window token p at slot N + (p - N) % RC (a ring of RC tokens, a multiple of 64).
 */
#ifndef LK_KV_SPARSE_FORMAT_H
#define LK_KV_SPARSE_FORMAT_H

#include "quant.h"

#define LK_SP_BLOCK 64

/* Survivors of a tile before element e. */
LK_INLINE int lk_sp_rank(ulong bm, int e) { return lk_popcount64(bm & ((((ulong)1) << e) - 1)); }

/* Slot of dense token p (sinks, then the window ring). */
LK_INLINE long lk_sp_dense_slot(long p, int sinks, int ring) { return p < sinks ? p : sinks + (p - sinks) % ring; }

#endif
