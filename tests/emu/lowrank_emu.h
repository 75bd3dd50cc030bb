/* lowrank_emu.h: one configuration (compile-time defines) of the low-rank decode kernel in its
 * tile form (DIRECT 0) and its tensor-core form (DIRECT 2), run by warp_emu.h on host threads
 * (lowrank_emu_config.cpp is compiled once per configuration; test_lowrank_mma_emu.cpp compares
 * them). */
#ifndef LK_LOWRANK_EMU_H
#define LK_LOWRANK_EMU_H

/* A KIVI cache of latents as cl/kivi_quant.cl draws it (B * Hkv / hpg sequence-heads of rk
 * channels, capacity cap), f16 q [B, Hq, hd] and up_k [Hkv, rk, hd], RoPE turns per position
 * (hi, lo) per pair, and the partial records of cl/decode_split.h over D = max(hd, rk) channels
 * (nrec = B * Hq * splits). */
struct lowrank_emu_io {
    const unsigned short *q, *up_k;
    const unsigned *k_codes, *v_codes;
    const unsigned short *k_params, *v_params, *k_res, *v_res;
    long cap, n, nk, nv;
    const float *freq;
    int layout;
    long pos_offset;
    float *part;
    long nrec;
    int B, Hq, Hkv, hpg, splits;
    float scale_log2;
};

struct lowrank_emu_config {
    const char *name;
    int hd, rk, qg, k_bits, v_bits, g, r, rope;
    int mma_direct;                                       /* its tensor-core variant: DIRECT 2 or 3 */
    void (*decode)(int direct, const lowrank_emu_io *io); /* lowrank_decode.cl with DIRECT 0 or mma_direct */
};

#endif
