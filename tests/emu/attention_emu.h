/* attention_emu.h: one configuration (compile-time defines) of the tensor-core attention forward
 * (cl/attention_fwd_mma.cl), run by warp_emu.h on host threads (attention_emu_config.cpp is
 * compiled once per configuration; test_attention_mma_emu.cpp checks it against ref/). */
#ifndef LK_ATTENTION_EMU_H
#define LK_ATTENTION_EMU_H

/* f16 q [B, Hq, Sq, D], k and v [B, Hkv, Sk, D], o like q (contiguous), lse [B, Hq, Sq]; RoPE
 * turns per position (hi, lo) per pair, or nullptr; positions offset + s for keys and
 * offset + Sk - Sq + s for queries. */
struct attention_emu_io {
    const unsigned short *q, *k, *v;
    unsigned short *o;
    float *lse;
    int B, Hq, Hkv, Sq, Sk, causal;
    float scale_log2;
    const float *freq;
    int layout;
    long pos_offset;
};

struct attention_emu_config {
    const char *name;
    int d, block_m, rope_q, rope_k;
    void (*forward)(const attention_emu_io *io);
};

#endif
