/* One configuration of the KIVI decode kernel (defines from CMake: D, QG, BITS_K, BITS_V, G, R,
 * BLOCK_N, WG, LK_F16 = 1, EMU_MMA_DIRECT = 2 or 3, and EMU_CONFIG, the name of the
 * kivi_emu_config this file defines), built twice, DIRECT 1 and DIRECT EMU_MMA_DIRECT, each in its
 * own namespace, run by warp_emu.h. */
#include "warp_emu.h"
#include "kivi_emu.h"

#include "emu_config.h"
#include "decode_split.h"
#define KD D
#include "kivi_tiles.h"
#include "kivi_direct.h"
#if EMU_MMA_DIRECT == 3
#include "kivi_tiles_mma.h"
#else
#include "kivi_direct_mma.h"
#endif
#define EMU_PROGRAM "kivi_decode.cl"
#include "emu_direct_variants.h"

static void run(int direct, const kivi_emu_io *io)
{
    lk_emu_dim3 grid = {(unsigned)io->splits, (unsigned)(io->B * io->Hkv), 1};
    auto body = [&] {
        auto f = direct == EMU_MMA_DIRECT ? tensor_cores::kivi_decode : scalar::kivi_decode;
        f(io->q, 0, (long)io->Hq * D, D, 1, io->k_codes, io->k_params, io->k_res, io->v_codes, io->v_params,
          io->v_res, io->cap, io->n, io->nk, io->nv, io->part, io->nrec, io->Hq, io->Hkv, io->scale_log2);
    };
    lk_emu_cp_async_early = io->cp_async_early;
    lk_emu_launch(grid, WG, body);
    lk_emu_cp_async_early = false;
}
} // namespace EMU_NS

extern const kivi_emu_config EMU_CONFIG = {EMU_STR(EMU_CONFIG), D,      QG, BITS_K, BITS_V, G, R, EMU_MMA_DIRECT,
                                           EMU_NS::run};
