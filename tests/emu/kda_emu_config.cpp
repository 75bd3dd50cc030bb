/* One configuration of the KDA chunk, state and output kernels (defines from CMake: CHUNK, SUB, KT,
 * BV, DK, DV, WG, OBV, L2NORM, GATE, HAS_H0, HAS_HT, SBUF and FUSEOUT of kda_state_mma.cl, LK_F16 = 1, and EMU_CONFIG, the name of the
 * kda_emu_config this file defines; KS keeps kda_common.h's default), each program in its own
 * namespace, run by warp_emu.h. */
#include "warp_emu.h"
#include "kda_emu.h"

#include "emu_config.h"
#include "kda_common.h"
namespace scalar_chunk {
#include "kda_chunk.cl"
}
namespace mma_chunk {
#include "kda_chunk_mma.cl"
}
#undef NW
namespace scalar_out {
#include "kda_out.cl"
}
#undef RT
#undef OWG
#undef OBP
namespace mma_out {
#include "kda_out_mma.cl"
}
namespace scalar_state {
#include "kda_state.cl"
}
namespace mma_state {
#include "kda_state_mma.cl"
}

static void run_chunk(int mma, const kda_emu_io *io)
{
    long BT = (long)io->B * io->T, hk = (long)io->H * DK, vk = (long)io->HV * DV, gk = (long)io->HV * DK;
    unsigned chunks = (unsigned)((io->T + CHUNK - 1) / CHUNK);
    lk_emu_dim3 grid = {(unsigned)io->HV * chunks, (unsigned)io->B, 1};
    auto body = [&] {
        auto f = mma ? mma_chunk::kda_chunk_mma : scalar_chunk::kda_chunk;
        f(io->q, 0, io->T * hk, hk, DK, 1, io->k, 0, io->T * hk, hk, DK, 1, io->v, 0, io->T * vk, vk, DV, 1,
          io->g, 0, io->T * gk, gk, DK, 1, io->beta, 0, (long)io->T * io->HV, io->HV, 1, nullptr, 0, 0, io->a_log, 0, 1,
          io->dt_bias, 0, DK, 1, io->scr, io->T, io->H, io->HV, BT, io->NCH, io->scale);
    };
    lk_emu_launch(grid, mma ? CHUNK / 16 * 32 : WG, body);
}

static void run_state(int mma, const kda_emu_io *io)
{
    const long BT = (long)io->B * io->T, kv = (long)DK * DV;
    lk_emu_dim3 grid = {(unsigned)(io->HV * ((DV + BV - 1) / BV)), (unsigned)io->B, 1};
    const long vk = (long)io->HV * DV;
    auto body = [&] {
        if (mma)
            mma_state::kda_state_mma(io->scr, io->o, 0, io->T * vk, vk, DV, 1, io->h0, 0, io->HV * kv, kv, DV, 1, io->ht,
                                     0, io->HV * kv, kv, DV, 1, nullptr, 0, 0, io->T, io->HV, BT, io->NCH);
        else
            scalar_state::kda_state(io->scr, io->h0, 0, io->HV * kv, kv, DV, 1, io->ht, 0, io->HV * kv, kv, DV, 1,
                                    nullptr, 0, 0, io->T, io->HV, BT, io->NCH);
    };
    lk_emu_cp_async_early = io->cp_async_early;
    lk_emu_launch(grid, mma ? CHUNK / 16 * 32 : WG, body);
    lk_emu_cp_async_early = false;
}

static void run_out(int mma, const kda_emu_io *io)
{
    long BT = (long)io->B * io->T, vk = (long)io->HV * DV;
    unsigned chunks = (unsigned)((io->T + CHUNK - 1) / CHUNK), vblocks = (DV + OBV - 1) / OBV;
    lk_emu_dim3 grid = {(unsigned)io->HV * vblocks * chunks, (unsigned)io->B, 1};
    auto body = [&] {
        auto f = mma ? mma_out::kda_out : scalar_out::kda_out;
        f(io->scr, io->o, 0, io->T * vk, vk, DV, 1, nullptr, 0, 0, io->T, io->HV, BT, io->NCH);
    };
    lk_emu_launch(grid, mma ? CHUNK / 16 * 32 : (CHUNK + 3) / 4 * (OBV / 4), body);
}
} // namespace EMU_NS

extern const kda_emu_config EMU_CONFIG = {EMU_STR(EMU_CONFIG), CHUNK, DK, DV, L2NORM, GATE, OBV, HAS_H0, HAS_HT,
                                          FUSEOUT, EMU_NS::run_chunk, EMU_NS::run_state, EMU_NS::run_out};
