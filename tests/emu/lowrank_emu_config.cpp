/* One configuration of the low-rank decode kernel (defines from CMake: HD, RK, D = max(HD, RK),
 * QG, BITS_K, BITS_V, G, R, ROPE, BLOCK_N, WG, LK_F16 = 1, EMU_MMA_DIRECT = 2 or 3, and
 * EMU_CONFIG, the name of the lowrank_emu_config this file defines), built with DIRECT 0 and
 * DIRECT EMU_MMA_DIRECT, each in its own namespace, run by warp_emu.h. */
#include "warp_emu.h"
#include "lowrank_emu.h"

#include "emu_config.h"
#include "decode_split.h"
#include "rope_math.h"
#define KD RK
#include "kivi_tiles.h"
#define DEC_MMA_DV RK
#if EMU_MMA_DIRECT == 3
#include "kivi_tiles_mma.h"
#else
#include "kivi_direct_mma.h"
#endif
#include "lowrank_mma.h"
#define EMU_PROGRAM "lowrank_decode.cl"
#define EMU_SCALAR_DIRECT 0
#include "emu_direct_variants.h"

static void run(int direct, const lowrank_emu_io *io)
{
    lk_emu_dim3 grid = {(unsigned)io->splits, (unsigned)(io->B * io->Hkv), 1};
    auto body = [&] {
        auto f = direct == EMU_MMA_DIRECT ? tensor_cores::lowrank_decode : scalar::lowrank_decode;
        f(io->q, 0, (long)io->Hq * HD, HD, 1, io->up_k, 0, io->k_codes, io->k_params, io->k_res, io->v_codes,
          io->v_params, io->v_res, io->cap, io->n, io->nk, io->nv, io->freq, io->layout, io->pos_offset, io->part,
          io->nrec, io->Hq, io->Hkv, io->hpg, io->scale_log2);
    };
    lk_emu_launch(grid, WG, body);
}
} // namespace EMU_NS

extern const lowrank_emu_config EMU_CONFIG = {EMU_STR(EMU_CONFIG), HD, RK, QG, BITS_K, BITS_V, G, R, ROPE,
                                              EMU_MMA_DIRECT, EMU_NS::run};
