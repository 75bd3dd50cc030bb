/* attention_emu_case.h: what the emulated attention tests (forward and backward) share: a case
 * (configuration index, shapes, causal, RoPE layout and first position), its RoPE parameters and
 * the kernels' frequency table. */
#ifndef LK_ATTENTION_EMU_CASE_H
#define LK_ATTENTION_EMU_CASE_H

#include "attention_emu.h"
#include "emu_test.h"
extern "C" {
#include "ref.h"
}

struct attention_emu_case {
    int config, B, Hq, Hkv, Sq, Sk, causal, layout;
    long pos_offset;
};

/* The case's RoPE (theta 10000, its layout and first position) and its table for head_dim d. */
struct attention_emu_rope {
    lk_rope_params params;
    std::vector<float> turns;

    attention_emu_rope(const attention_emu_case *c, int d) : params(lk_rope_params_default())
    {
        params.layout = c->layout ? LK_ROPE_INTERLEAVED : LK_ROPE_HALF_SPLIT;
        params.position_offset = c->pos_offset;
        turns = rope_turns(d / 2, [&](int i) { return ref_rope_frequency(&params, i, d); });
    }
};

/* The kernels' view of the case: RoPE through `turns` when rope is set. */
inline attention_emu_problem attention_emu_problem_of(const attention_emu_case *c, const attention_emu_rope &r,
                                                      int rope)
{
    return {c->B, c->Hq, c->Hkv, c->Sq, c->Sk, c->causal, rope ? r.turns.data() : nullptr, c->layout, c->pos_offset};
}

#endif
