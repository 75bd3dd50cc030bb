/* lk-bench tables of decode attention:
 *   --op attention_decode  dense decode time, achieved bandwidth and the share of the copy
 *                          bandwidth (measured in the same run), tuned dispatch and defaults
 *   --op kv_sparse         bytes of the sparse cache against dense fp16 (50/70/90% sparsity,
 *                          16/4/2-bit survivors), and decode time of each sparse configuration
 *                          against the dense decode, with bandwidth, at batch 1 and 8
 * Problem: Hkv = --heads (8 on GPUs, 4 on CPUs), Hq = 4 Hkv, D = --head-dim (128), --dtype (f16).
 * Writes results/<device-slug>/{attention_decode,kv_sparse}.{md,csv}. */
#ifndef LK_TUNER_BENCH_DECODE_H
#define LK_TUNER_BENCH_DECODE_H

#include "op.h"

int bench_attention_decode(lk_context *ctx, const bench_opts *o);
int bench_kv_sparse(lk_context *ctx, const bench_opts *o);

#endif
