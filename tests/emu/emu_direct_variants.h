/* emu_direct_variants.h: the program EMU_PROGRAM (a decode kernel file of cl/) built twice inside
 * an emulated configuration's namespace: its scalar form, DIRECT = EMU_SCALAR_DIRECT (1, the
 * direct reads, unless the configuration defines it), in namespace scalar, and its tensor-core
 * form, DIRECT = EMU_MMA_DIRECT (2 unless defined), in namespace tensor_cores. The headers they
 * share are included before, once. */
#ifndef EMU_SCALAR_DIRECT
#define EMU_SCALAR_DIRECT 1
#endif
#ifndef EMU_MMA_DIRECT
#define EMU_MMA_DIRECT 2
#endif
namespace scalar {
#define DIRECT EMU_SCALAR_DIRECT
#include EMU_PROGRAM
#undef DIRECT
}
namespace tensor_cores {
#define DIRECT EMU_MMA_DIRECT
#include EMU_PROGRAM
#undef DIRECT
}
