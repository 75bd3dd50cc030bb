/* emu_direct_variants.h: the program EMU_PROGRAM (a decode kernel file of cl/) built twice inside
 * an emulated configuration's namespace: DIRECT 1 in namespace direct, DIRECT 2 (tensor cores)
 * in namespace tensor_cores. The headers they share are included before, once. */
namespace direct {
#define DIRECT 1
#include EMU_PROGRAM
#undef DIRECT
}
namespace tensor_cores {
#define DIRECT 2
#include EMU_PROGRAM
#undef DIRECT
}
