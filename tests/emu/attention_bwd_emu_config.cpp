/* One configuration of the tensor-core attention backward (defines from CMake: D, WARPS, BLOCK_N,
 * BLOCK_M, STAGES, ROPE_IN, ROPE_OUT, LK_F16 = 1, and EMU_CONFIG, the name of the
 * attention_bwd_emu_config this file defines): its three kernels launched as run_mma in
 * lib/ops/attention_bwd.c launches them, on host threads (warp_emu.h). */
#include "warp_emu.h"
#include "attention_bwd_emu.h"

#include "emu_config.h"
#include "attention_bwd_mma.cl"

static void run(const attention_bwd_emu_io *io)
{
    const long sq = (long)io->p.Sq * D, sk = (long)io->p.Sk * D, hq = io->p.Hq * sq, hk = io->p.Hkv * sk;
    const int sq_pad = (io->p.Sq + 63) / 64 * 64;
    const long rows_pad = (long)io->p.B * io->p.Hq * sq_pad, q_offset = io->p.pos_offset + io->p.Sk - io->p.Sq;
    std::vector<float> scr((size_t)rows_pad * (2 + D));
    lk_emu_launch({(unsigned)(rows_pad / PREP_WG), 1, 1}, PREP_WG, [&] {
        attention_bwd_mma_prep(io->o, 0, hq, sq, D, 1, io->dout, 0, hq, sq, D, 1, io->lse, 0, (long)io->p.Hq * io->p.Sq,
                               io->p.Sq, 1, scr.data(), io->p.Hq, io->p.Sq, sq_pad, rows_pad);
    });
    lk_emu_launch({(unsigned)((io->p.Sk + BLOCK_N - 1) / BLOCK_N), (unsigned)(io->p.B * io->p.Hkv), 1}, THREADS, [&] {
        attention_bwd_mma(io->q, 0, hq, sq, D, 1, io->k, 0, hk, sk, D, 1, io->v, 0, hk, sk, D, 1, io->dout, 0, hq, sq,
                          D, 1, io->dk, 0, hk, sk, D, 1, io->dv, 0, hk, sk, D, 1, scr.data(), sq_pad, rows_pad, io->p.Hq,
                          io->p.Hkv, io->p.Sq, io->p.Sk, io->scale, io->p.causal, io->p.freq, io->p.layout, nullptr, 0, 0, 0,
                          q_offset, nullptr, 0, 0, 0, io->p.pos_offset);
    });
    const long items = (long)io->p.B * io->p.Hq * io->p.Sq * (D / 2);
    lk_emu_launch({(unsigned)((items + 255) / 256), 1, 1}, 256, [&] {
        attention_bwd_mma_dq(io->dq, 0, hq, sq, D, 1, scr.data(), io->p.Hq, io->p.Sq, sq_pad, rows_pad, items, io->scale,
                             io->p.freq, io->p.layout, nullptr, 0, 0, 0, q_offset);
    });
}
} // namespace EMU_NS

extern const attention_bwd_emu_config EMU_CONFIG = {EMU_STR(EMU_CONFIG), D, ROPE_IN, ROPE_OUT, EMU_NS::run};
