/* One configuration of the sparse decode kernel for plain caches (defines from CMake: D, QG,
 * KBITS, VBITS, BLOCK_N, WG, LK_F16 = 1, EMU_MMA_DIRECT = 2 or 3, LOADER for 3, and EMU_CONFIG, the
 * name of the kv_sparse_emu_config this file defines), built with DIRECT 1 and DIRECT
 * EMU_MMA_DIRECT, each in its own namespace, run by warp_emu.h. */
#include "warp_emu.h"
#include "kv_sparse_emu.h"

#include "emu_config.h"
#include "decode_split.h"
#include "kv_sparse_direct.h"
#if EMU_MMA_DIRECT == 3
#include "decode_mma_tiles.h"
#else
#include "kv_sparse_direct_mma.h"
#endif
#define EMU_PROGRAM "kv_sparse_decode.cl"
#include "emu_direct_variants.h"

static void run(int direct, const kv_sparse_emu_io *io)
{
    lk_emu_dim3 grid = {(unsigned)io->splits, (unsigned)(io->B * io->Hkv), 1};
    auto body = [&] {
        auto f = direct == EMU_MMA_DIRECT ? tensor_cores::attention_decode_sparse : scalar::attention_decode_sparse;
        f(io->q, 0, (long)io->Hq * D, D, 1, io->k.bitmap, io->k.params, io->k.words, io->k.offsets, io->k.dense,
          io->k.head_words, io->v.bitmap, io->v.params, io->v.words, io->v.offsets, io->v.dense, io->v.head_words,
          nullptr, io->Hkv, io->L, io->sinks, io->ring, io->nb, io->nb_cap, io->keep, nullptr, nullptr, 0, 0,
          io->part, io->nrec, io->Hq, io->scale_log2);
    };
    lk_emu_launch(grid, WG, body);
}
} // namespace EMU_NS

extern const kv_sparse_emu_config EMU_CONFIG = {EMU_STR(EMU_CONFIG), D, QG, KBITS, VBITS, EMU_MMA_DIRECT, EMU_NS::run};
