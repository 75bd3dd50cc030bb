/* Pieces shared by the decode tuner ops (op_decode.c: attention_decode, kv_sparse; op_kivi.c:
 * kivi_decode, lowrank_decode), defined in op_decode.c. */
#ifndef LK_TUNER_OP_DECODE_H
#define LK_TUNER_OP_DECODE_H

#include "op.h"

/* Kv heads of the timed decode problem: --heads, else 8 on GPUs and 4 on CPUs. */
int decode_kv_heads(lk_context *ctx, const tune_shape *shape);
/* Adds the split-decode tile lists SPLITS, BLOCK_N and WG (per device type) to s. */
void decode_space_tiles(const tune_space_user *u, space *s);

#endif
