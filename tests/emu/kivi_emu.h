/* kivi_emu.h: one configuration (compile-time defines) of the KIVI decode kernel in its direct
 * (DIRECT 1) and one tensor-core (DIRECT 2 or 3) form, run by warp_emu.h on host threads
 * (kivi_emu_config.cpp is compiled once per configuration; test_kivi_mma_emu.cpp compares them). */
#ifndef LK_KIVI_EMU_H
#define LK_KIVI_EMU_H

/* A KIVI cache as cl/kivi_quant.cl draws it (B * Hkv sequence-heads of capacity cap), f16 q
 * [B, Hq, D] and the partial records of cl/decode_split.h (nrec = B * Hq * splits);
 * cp_async_early: the staging copies land at issue (warp_emu.h). */
struct kivi_emu_io {
    const unsigned short *q;
    const unsigned *k_codes, *v_codes;
    const unsigned short *k_params, *v_params, *k_res, *v_res;
    long cap, n, nk, nv;
    float *part;
    long nrec;
    int B, Hq, Hkv, splits;
    float scale_log2;
    bool cp_async_early;
};

struct kivi_emu_config {
    const char *name;
    int d, qg, k_bits, v_bits, g, r;
    int mma_direct;                                    /* its tensor-core variant: DIRECT 2 or 3 */
    void (*decode)(int direct, const kivi_emu_io *io); /* kivi_decode.cl with DIRECT 1 or mma_direct */
};

#endif
