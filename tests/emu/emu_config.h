/* emu_config.h: what every configuration file of tests/emu opens with, after warp_emu.h:
 * EMU_NS, the namespace of this configuration's kernels (from the CMake define EMU_CONFIG, the
 * name of the configuration object the file defines), EMU_STR, and that namespace opened with
 * portable.h inside it and kernels made static functions. The file closes the namespace. */
#define EMU_PASTE2(a, b) a##b
#define EMU_PASTE(a, b) EMU_PASTE2(a, b)
#define EMU_NS EMU_PASTE(EMU_CONFIG, _kernels)
#define EMU_STR2(x) #x
#define EMU_STR(x) EMU_STR2(x)

namespace EMU_NS {
#include "portable.h"
#undef LK_KERNEL
#define LK_KERNEL static
