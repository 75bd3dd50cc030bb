/* lk-bench --op attention_bwd: the fused-RoPE table of the backward. For each length and causal
 * setting, the backward time of the fused variant (VARIANT 0: RoPE inside the kernels), the
 * unfused path (VARIANT 2: RoPE into scratch, plain backward, inverse RoPE on dq and dk), the
 * tuned dispatch (lk_attention_bwd: the database picks), the untuned default, and the pre-pass
 * variant (VARIANT 1) in the log and the header. Each variant runs with its own best tiles
 * measured on this device, else the dispatch's; the calls of a row are timed in interleaved
 * rounds (bench_rounds.h). TFLOP/s counts 2.5x the forward's FLOPs. Writes
 * results/<device-slug>/attention_bwd.{md,csv,png}. */
#ifndef LK_TUNER_BENCH_ATTENTION_BWD_H
#define LK_TUNER_BENCH_ATTENTION_BWD_H

#include "op.h"

int bench_attention_bwd(lk_context *ctx, const bench_opts *o);

#endif
