/* lk-bench --op attention_fwd: the fused-RoPE table. For each length and causal setting, the
 * forward time of the best fused variant (VARIANT 0 or 1, Q rotated in the kernel), the unfused
 * path (VARIANT 2), the tuned dispatch (lk_attention_fwd: the database picks), and the untuned
 * default. Each variant runs with its own best tiles measured on this device (the tuner's
 * database, --db or the default path), else the dispatch's tiles. The four calls of a row are
 * timed in rounds, interleaved, and each gets the median of its rounds, so that clock drift
 * between them does not pass for a speedup. Writes results/<device-slug>/attention_fwd.{md,csv,png}. */
#ifndef LK_TUNER_BENCH_ATTENTION_FWD_H
#define LK_TUNER_BENCH_ATTENTION_FWD_H

#include "op.h"

int bench_attention_fwd(lk_context *ctx, const bench_opts *o);
/* Heads of the timed attention problem: --heads, else 16 on GPUs and 1 on CPUs. */
int attn_heads(lk_context *ctx, const tune_shape *shape);

#endif
