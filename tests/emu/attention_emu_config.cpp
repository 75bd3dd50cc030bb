/* One configuration of the tensor-core attention forward (defines from CMake: D, BLOCK_M, BLOCK_N,
 * STAGES, WARPS, QSMEM, ROPE_Q, ROPE_K, LK_F16 = 1, and EMU_CONFIG, the name of the
 * attention_emu_config this file defines), run by warp_emu.h. */
#include "warp_emu.h"
#include "attention_emu.h"

#include "emu_config.h"
#include "attention_fwd_mma.cl"

static void run(const attention_emu_io *io)
{
    const long sq = (long)io->Sq * D, sk = (long)io->Sk * D;
    lk_emu_dim3 grid = {(unsigned)((io->Sq + BLOCK_M - 1) / BLOCK_M), (unsigned)(io->B * io->Hq), 1};
    const long q_offset = io->pos_offset + io->Sk - io->Sq;
    auto body = [&] {
        attention_fwd_mma(io->q, 0, io->Hq * sq, sq, D, 1, io->k, 0, io->Hkv * sk, sk, D, 1, io->v, 0, io->Hkv * sk, sk,
                          D, 1, io->o, 0, io->Hq * sq, sq, D, 1, io->lse, 0, (long)io->Hq * io->Sq, io->Sq, 1, io->Hq,
                          io->Hkv, io->Sq, io->Sk, io->scale_log2, io->causal, io->freq, nullptr, io->layout, nullptr,
                          0, 0, 0, q_offset, nullptr, 0, 0, 0, io->pos_offset);
    };
    lk_emu_launch(grid, THREADS, body);
}
} // namespace EMU_NS

extern const attention_emu_config EMU_CONFIG = {EMU_STR(EMU_CONFIG), D, BLOCK_M, ROPE_Q, ROPE_K, EMU_NS::run};
