/* attention_emu.h: one configuration (compile-time defines) of a tensor-core attention forward
 * (cl/attention_fwd_mma.cl or cl/attention_fwd_wgmma.cl), run by warp_emu.h on host threads (attention_emu_config.cpp is
 * compiled once per configuration; test_attention_mma_emu.cpp checks it against ref/), and the
 * problem description the backward's emulation (attention_bwd_emu.h) shares. */
#ifndef LK_ATTENTION_EMU_H
#define LK_ATTENTION_EMU_H

/* Shapes, masking and RoPE of an emulated call: q-shaped tensors [B, Hq, Sq, D] and k-shaped
 * [B, Hkv, Sk, D], contiguous; RoPE turns per position (hi, lo) per pair, or nullptr; positions
 * offset + s for keys and offset + Sk - Sq + s for queries. */
struct attention_emu_problem {
    int B, Hq, Hkv, Sq, Sk, causal;
    const float *freq;
    int layout;
    long pos_offset;
};

/* f16 q, k, v and o, lse [B, Hq, Sq]; cp_async_early: the copies land at issue (warp_emu.h). */
struct attention_emu_io {
    const unsigned short *q, *k, *v;
    unsigned short *o;
    float *lse;
    float scale_log2;
    attention_emu_problem p;
    bool cp_async_early;
};

struct attention_emu_config {
    const char *name;
    int d, block_m, rope_q, rope_k;
    void (*forward)(const attention_emu_io *io);
};

#endif
