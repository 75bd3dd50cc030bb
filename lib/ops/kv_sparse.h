/* The sparse KV cache object (lk_kv_sparse_*), shared by its files: kv_sparse.c (create,
 * append, memory), kv_sparse_check.c (validation, export, import), kv_sparse_decode.c
 * (decompression and decode attention). Device layout: cl/kv_sparse_format.h. */
#ifndef LK_KV_SPARSE_H
#define LK_KV_SPARSE_H

#include "../core/internal.h"
#include "../core/launch.h"

#define LK_SP_BLOCK 64

typedef struct lk_sp_bufs {
    int bits;
    int64_t block_words, head_words;
    lk_buffer *bitmap, *params, *words, *offsets, *dense;
} lk_sp_bufs;

struct lk_kv_sparse_cache {
    lk_context *ctx;
    lk_kv_sparse_config cfg; /* rotate_perm and rope cleared: the copies below */
    lk_rope_params rope;
    int has_rope;
    lk_buffer *perm;         /* device copy of rotate_perm, or NULL */
    int64_t heads;           /* batch * kv_heads */
    int64_t nb_cap, ring;    /* block capacity, dense window ring (a multiple of 64) */
    int64_t length, nb;      /* tokens held, compressed blocks */
    int corrupt;             /* an import failed part-way: decode refuses until a good import */
    lk_sp_bufs k, v;
    lk_buffer *stage_k, *stage_v, *rotated; /* append staging, grown on demand */
};

/* Compressed blocks once `length` tokens are held. */
int64_t lk_sp_blocks_for(const lk_kv_sparse_cache *c, int64_t length);
/* Words of one compressed 64-token block of a stream with these bits. */
int64_t lk_sp_block_words(int keep, int bits);

/* Launch arguments of one stream: bitmap, params, words, offsets, dense, head_words. */
void lk_sp_args_stream(lk_args *a, const lk_sp_bufs *s);
/* Launch arguments of the geometry: Hkv, L, sinks, ring, nb, nb_cap, keep. */
void lk_sp_args_geometry(lk_args *a, const lk_kv_sparse_cache *c);

#endif
