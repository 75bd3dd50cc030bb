/* Host side of split-over-tokens decode attention, shared by every decode op (dense, sparse,
 * KIVI): checks of the query/output/lse tensors, the partial-result scratch, the split count
 * and the one combine launch (cl/decode_combine.cl; device layout in cl/decode_split.h). */
#ifndef LK_DECODE_SPLIT_HOST_H
#define LK_DECODE_SPLIT_HOST_H

#include "../core/internal.h"
#include "../core/params.h"

/* t is [B, Hq, D] or [B, Hq, 1, D] (checked with lk_check_tensor); *view gets it as [B, Hq, D]. */
lk_status lk_decode_check_rows(lk_context *ctx, const char *op, const char *arg, const lk_tensor *t, lk_tensor *view);
/* q, o, lse of a decode call: q F32/F16 rows, o rows of q's shape and dtype not overlapping
 * q, lse NULL or F32 [B, Hq] / [B, Hq, 1] overlapping neither. Views as [B, Hq, D] / [B, Hq]. */
lk_status lk_decode_check_outputs(lk_context *ctx, const char *op, const lk_tensor *q, const lk_tensor *o,
                                  const lk_tensor *lse, lk_tensor *q3, lk_tensor *o3, lk_tensor *lse2);
/* scale > 0 as given, 0 -> 1/sqrt(D); anything else (negative, NaN, inf) is an error. */
lk_status lk_decode_check_scale(lk_context *ctx, const char *op, double scale);

/* Local memory of lk_dec_attend_tile's arrays (qs, ks, vs, sc, st) for these sizes. */
size_t lk_decode_local_bytes(int head_dim, int query_group, int kv_heads, int block_n);
/* Local memory of a direct decode kernel (cl/decode_split.h LK_DEC_SOFTMAX_LOCALS: qs, sc, sp,
 * st; KVH 1) whose score units take runs of at most run_cap tokens (codes per key word, or 64):
 * the runs' length and the slices follow LK_DEC_RUN_MAX and LK_DEC_SLICES. */
size_t lk_decode_direct_local_bytes(int head_dim, int query_group, int block_n, int wg, int run_cap);
/* LK_OK if SPLITS, BLOCK_N (dividing max_block_n, a power of two) and WG are in range and
 * `local` bytes fit. */
lk_status lk_decode_check_tunables(lk_context *ctx, const char *op, const lk_params *p, int max_block_n, size_t local);

/* The tensor-core decodes (DIRECT 2, cl/decode_mma.h; KVH 1): LK_OK if p can run one here:
 * tensor cores, f16 q, at most 8 query heads per kv head, BLOCK_N a multiple of 16, WG a multiple
 * of 32, and lk_decode_check_tunables with `local` bytes (the kernel's own arrays beyond
 * decode_mma.h's). */
lk_status lk_decode_mma_check(lk_context *ctx, const char *op, const lk_params *p, lk_dtype dtype, int head_dim,
                              int query_group, int max_block_n, size_t local);
/* LK_OK if DIRECT is one of the op's variants: 0 tiles, 1 direct reads (where the op has them,
 * direct_reads), 2 tensor cores, 3 tensor cores on tiles in local memory. */
lk_status lk_decode_check_direct(lk_context *ctx, const char *op, int direct, int direct_reads);
/* The DIRECT a call runs: tuning keys have no query group, so tensor-core tiles (2, 3) tuned at
 * GQA <= 8 run a wider group with `wide` instead (the op's scalar form of the same tiles: 1, the
 * direct reads, for KIVI and the sparse cache; 0 for the low-rank decode). */
int lk_decode_direct_for_group(int direct, int query_group, int wide);

/* Work-groups per compute unit that SPLITS = 0 aims for (several resident per unit and a few
 * waves, so the last wave's tail stays small). */
#define LK_DEC_WG_PER_CU 16
/* The split count a call runs with: the tuned SPLITS, or for SPLITS = 0 enough splits that
 * groups * splits work-groups reach LK_DEC_WG_PER_CU per compute unit with at least two tiles
 * each; at most one per tile, at least 1. groups = work-groups per split (B * Hkv / KVH). */
int lk_decode_splits(const lk_context *ctx, int tuned_splits, int64_t ntiles, int64_t groups);

/* Scratch for rows * splits partial records of head_dim D; *nrec gets rows * splits. */
lk_status lk_decode_partials(lk_context *ctx, int64_t rows, int splits, int head_dim, lk_buffer **out,
                             int64_t *nrec);

/* Merges the partials into o3 [B, Hq, D] and lse2 ([B, Hq] F32 or NULL). lk_last_launch keeps
 * the decode kernel's text (the one with the tuned parameters), with "+ combine" appended. */
lk_status lk_decode_combine(lk_context *ctx, lk_buffer *part, int64_t nrec, int splits, const lk_tensor *o3,
                            const lk_tensor *lse2);

#endif
