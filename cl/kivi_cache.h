/* kivi_cache.h: the defaults of the KIVI cache layout drawn in kivi_quant.cl (group, residual,
 * bits, codes per word), shared by the append kernels and the decode tile loaders (kivi_tiles.h). */
#ifndef LK_KIVI_CACHE_H
#define LK_KIVI_CACHE_H

#include "quant.h"

#ifndef G
#define G 32
#endif
#ifndef R
#define R 128
#endif
#ifndef BITS_K
#define BITS_K 2
#endif
#ifndef BITS_V
#define BITS_V 2
#endif
#define CPW_K (32 / BITS_K)
#define CPW_V (32 / BITS_V)

#endif
