/* lk-bench --op kda_fwd: tokens/s of lk_kda_fwd against T, for the tuned dispatch (the database's
 * parameters) and the untuned built-in defaults, timed in interleaved rounds. Problem: B=1
 * (--batch), H = HV (--heads; 16 on GPUs, 2 on CPUs), K = V = --head-dim (128), L2 norm in the
 * kernel, initial and final state. Writes results/<device-slug>/kda.{md,csv}. */
#ifndef LK_TUNER_BENCH_KDA_H
#define LK_TUNER_BENCH_KDA_H

#include "op.h"

int bench_kda(lk_context *ctx, const bench_opts *o);
/* Heads of the timed KDA problem: --heads, else 16 on GPUs and 2 on CPUs. */
int kda_heads(lk_context *ctx, const tune_shape *shape);

#endif
