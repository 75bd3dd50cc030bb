/* kda_emu.h: one configuration (compile-time defines) of the KDA chunk, state and output kernels,
 * each in its scalar and its tensor-core form, run by warp_emu.h on host threads
 * (kda_emu_config.cpp is compiled once per configuration; test_kda_mma_emu.cpp compares the
 * forms). */
#ifndef LK_KDA_EMU_H
#define LK_KDA_EMU_H

/* Contiguous tensors: q, k [B, T, H, DK] f16 bits; v, o [B, T, HV, DV] f16 bits; g [B, T, HV, DK],
 * beta [B, T, HV] f32; a_log [HV], dt_bias [HV, DK] (GATE); scr: cl/kda_common.h's layout; the
 * initial and final states h0, ht [B, HV, DK, DV] f32 (HAS_H0, HAS_HT); cp_async_early: the
 * copies land at issue (warp_emu.h). */
struct kda_emu_io {
    const unsigned short *q, *k, *v;
    const float *g, *beta, *a_log, *dt_bias;
    float *scr;
    unsigned short *o;
    const float *h0;
    float *ht;
    int B, T, H, HV;
    long NCH;
    float scale;
    bool cp_async_early;
};

struct kda_emu_config {
    const char *name;
    int chunk, dk, dv, l2norm, gate, obv, has_h0, has_ht;
    int fuseout; /* kda_state_mma.cl writes o (io->o) instead of h_j and Vn */
    void (*chunk_kernel)(int mma, const kda_emu_io *io); /* kda_chunk.cl or kda_chunk_mma.cl */
    void (*state_kernel)(int mma, const kda_emu_io *io); /* kda_state.cl or kda_state_mma.cl */
    void (*out_kernel)(int mma, const kda_emu_io *io);   /* kda_out.cl or kda_out_mma.cl */
};

#endif
