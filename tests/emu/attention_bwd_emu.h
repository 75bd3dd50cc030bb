/* attention_bwd_emu.h: one configuration (compile-time defines) of the tensor-core attention
 * backward (cl/attention_bwd_mma.cl: prep, main and dq kernels), run by warp_emu.h on host threads
 * (attention_bwd_emu_config.cpp is compiled once per configuration; test_attention_bwd_mma_emu.cpp
 * checks it against ref/). */
#ifndef LK_ATTENTION_BWD_EMU_H
#define LK_ATTENTION_BWD_EMU_H

#include "attention_emu.h"

/* f16 q, o, dout, dq and k, v, dk, dv; the forward's lse. */
struct attention_bwd_emu_io {
    const unsigned short *q, *k, *v, *o, *dout;
    const float *lse;
    unsigned short *dq, *dk, *dv;
    float scale;
    attention_emu_problem p;
};

struct attention_bwd_emu_config {
    const char *name;
    int d, rope_in, rope_out;
    void (*backward)(const attention_bwd_emu_io *io);
};

#endif
