/* Pieces shared by the decode tuner ops (op_decode.c: attention_decode, kv_sparse; op_kivi.c:
 * kivi_decode, lowrank_decode), defined in op_decode.c. */
#ifndef LK_TUNER_OP_DECODE_H
#define LK_TUNER_OP_DECODE_H

#include "op.h"

/* Kv heads of the timed decode problem: --heads, else 8 on GPUs and 4 on CPUs. */
int decode_kv_heads(lk_context *ctx, const tune_shape *shape);
/* Adds the split-decode tile lists SPLITS, BLOCK_N and WG (per device type) to s; long_tiles
 * adds BLOCK_N 64 (GPUs), 128 and 256 (kernels without K/V tiles in local memory). */
void decode_space_tiles(const tune_space_user *u, space *s, int long_tiles);
/* Adds DIRECT to s: 0 tiles, 1 direct reads (for an op with them, direct_reads), and where the
 * device has tensor cores and the key's dtype is f16, 2 (tensor cores) and 3 (tensor cores on
 * tiles in local memory). An op without direct reads gets no list without tensor cores (the
 * tiles alone). Returns whether the tensor-core variants are in. */
int decode_space_direct(const tune_space_user *u, space *s, int direct_reads);

/* The descriptor fields every decode op shares: head dims, default context ranges, and the hooks,
 * which each op file defines as its own static defaults, fits, setup, check, run and teardown. */
#define DECODE_OP_COMMON                                                                            \
    .head_dims = "128", .head_dim_choices = {64, 128}, .seq_gpu = "4096:131072", .seq_cpu = "1024:8192", \
    .defaults = defaults, .fits = fits, .setup = setup, .check = check, .run = run, .fits_built = NULL,   \
    .teardown = teardown

#endif
