/* kv_sparse_emu.h: one configuration (compile-time defines) of the sparse decode kernel for plain
 * caches in its direct (DIRECT 1) and tensor-core (DIRECT 2) forms, run by warp_emu.h on host
 * threads (kv_sparse_emu_config.cpp, once per configuration; test_kv_sparse_mma_emu.cpp compares
 * them). */
#ifndef LK_KV_SPARSE_EMU_H
#define LK_KV_SPARSE_EMU_H

/* One stream (K or V) of a sparse cache as cl/kv_sparse_format.h draws it. */
struct kv_sparse_emu_stream {
    const unsigned long *bitmap;
    const unsigned short *params, *dense;
    const unsigned *words, *offsets;
    long head_words;
};

/* The cache (B * Hkv heads), f16 q [B, Hq, D], the partial records of cl/decode_split.h. */
struct kv_sparse_emu_io {
    const unsigned short *q;
    kv_sparse_emu_stream k, v;
    int B, Hkv, Hq, sinks, ring, nb, nb_cap, keep, splits;
    long L, nrec;
    float *part;
    float scale_log2;
};

struct kv_sparse_emu_config {
    const char *name;
    int d, qg, k_bits, v_bits;
    int mma_direct;                                         /* its tensor-core variant: DIRECT 2 or 3 */
    void (*decode)(int direct, const kv_sparse_emu_io *io); /* kv_sparse_decode.cl, DIRECT 1 or mma_direct */
};

#endif
