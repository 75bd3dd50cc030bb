/* One configuration of the KIVI decode kernel (defines from CMake: D, QG, BITS_K, BITS_V, G, R,
 * BLOCK_N, WG, LK_F16 = 1, and EMU_CONFIG, the name of the kivi_emu_config this file defines),
 * built twice, DIRECT 1 and DIRECT 2, each in its own namespace, run by warp_emu.h. */
#include "warp_emu.h"
#include "kivi_emu.h"

#define EMU_PASTE2(a, b) a##b
#define EMU_PASTE(a, b) EMU_PASTE2(a, b)
#define EMU_NS EMU_PASTE(EMU_CONFIG, _kernels)
#define EMU_STR2(x) #x
#define EMU_STR(x) EMU_STR2(x)

namespace EMU_NS {
#include "portable.h"
#undef LK_KERNEL
#define LK_KERNEL static
#include "decode_split.h"
#define KD D
#include "kivi_tiles.h"
#include "kivi_direct.h"
#include "kivi_direct_mma.h"
namespace direct {
#define DIRECT 1
#include "kivi_decode.cl"
#undef DIRECT
}
namespace tensor_cores {
#define DIRECT 2
#include "kivi_decode.cl"
#undef DIRECT
}

static void run(int direct, const kivi_emu_io *io)
{
    lk_emu_dim3 grid = {(unsigned)io->splits, (unsigned)(io->B * io->Hkv), 1};
    auto body = [&] {
        auto f = direct == 2 ? tensor_cores::kivi_decode : direct::kivi_decode;
        f(io->q, 0, (long)io->Hq * D, D, 1, io->k_codes, io->k_params, io->k_res, io->v_codes, io->v_params,
          io->v_res, io->cap, io->n, io->nk, io->nv, io->part, io->nrec, io->Hq, io->Hkv, io->scale_log2);
    };
    lk_emu_launch(grid, WG, body);
}
} // namespace EMU_NS

extern const kivi_emu_config EMU_CONFIG = {EMU_STR(EMU_CONFIG), D, QG, BITS_K, BITS_V, G, R, EMU_NS::run};
