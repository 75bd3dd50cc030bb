/* One configuration of a tensor-core attention forward (defines from CMake: D, BLOCK_M, BLOCK_N,
 * STAGES, WARPS, QSMEM, ROPE_Q, ROPE_K, LK_F16 = 1, EMU_CONFIG, the name of the
 * attention_emu_config this file defines, and WGMMA: 1 for attention_fwd_wgmma.cl, else
 * attention_fwd_mma.cl), run by warp_emu.h. */
#include "warp_emu.h"
#include "attention_emu.h"

#include "emu_config.h"
#if WGMMA
#include "attention_fwd_wgmma.cl"
#define FORWARD attention_fwd_wgmma
#else
#include "attention_fwd_mma.cl"
#define FORWARD attention_fwd_mma
#endif

static void run(const attention_emu_io *io)
{
    const long sq = (long)io->p.Sq * D, sk = (long)io->p.Sk * D;
    lk_emu_dim3 grid = {(unsigned)((io->p.Sq + BLOCK_M - 1) / BLOCK_M), (unsigned)(io->p.B * io->p.Hq), 1};
    const long q_offset = io->p.pos_offset + io->p.Sk - io->p.Sq;
    auto body = [&] {
        FORWARD(io->q, 0, io->p.Hq * sq, sq, D, 1, io->k, 0, io->p.Hkv * sk, sk, D, 1, io->v, 0, io->p.Hkv * sk, sk, D, 1,
                io->o, 0, io->p.Hq * sq, sq, D, 1, io->lse, 0, (long)io->p.Hq * io->p.Sq, io->p.Sq, 1, io->p.Hq, io->p.Hkv,
                io->p.Sq, io->p.Sk, io->scale_log2, io->p.causal, io->p.freq, nullptr, io->p.layout, nullptr, 0, 0, 0,
                q_offset, nullptr, 0, 0, 0, io->p.pos_offset);
    };
    lk_emu_cp_async_early = io->cp_async_early;
    lk_emu_launch(grid, THREADS, body);
    lk_emu_cp_async_early = false;
}
} // namespace EMU_NS

extern const attention_emu_config EMU_CONFIG = {EMU_STR(EMU_CONFIG), D, BLOCK_M, ROPE_Q, ROPE_K, EMU_NS::run};
