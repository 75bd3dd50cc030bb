/* Device-event timing of one op call: a warm-up run, then adaptive repetitions (at least 3,
 * until about 0.3 s of device time or 50 samples); median, min and p80 of the samples. Later
 * rounds of an interleaved comparison (bench_rounds.h) skip the warm-up and need one sample.
 *
 * A sample is `batch` back-to-back calls between one pair of events, divided by batch: calls
 * shorter than BATCH_MS (from the warm-up) are batched up to that length, so that the event and
 * launch latency around a single short call does not pass for kernel time. This is the
 * throughput an engine issuing calls back to back sees. */
#ifndef LK_TUNER_TIMING_H
#define LK_TUNER_TIMING_H

#include "longkern.h"

typedef lk_status (*timed_fn)(lk_context *ctx, void *arg);

typedef struct timing {
    double median_ms, min_ms, p80_ms; /* per call */
    int runs;                         /* samples */
    int batch;                        /* calls per sample */
    int timed_out; /* the first sample exceeded the limit; only that sample is in the stats */
    int rounds;    /* bench_interleaved_timings: the rounds the call ran in */
} timing;

/* About how long (seconds) time_op takes for a call of call_ms: the warm-up plus the samples. */
double time_op_cost_s(double call_ms);
/* About how long `rounds` interleaved rounds take for one call of call_ms: time_op in the first,
 * time_op_again in the others. */
double time_rounds_cost_s(double call_ms, int rounds);

/* Times fn(ctx, arg). limit_ms > 0: stop after the first sample if a call took longer. */
lk_status time_op(lk_context *ctx, timed_fn fn, void *arg, double limit_ms, timing *out);
/* Times fn(ctx, arg) again, warm from an earlier time_op in this process (a later interleaved
 * round): no warm-up, `batch` calls per sample (the earlier timing's), at least one sample and
 * then up to about 0.3 s of them, so a call longer than that is timed once a round. */
lk_status time_op_again(lk_context *ctx, timed_fn fn, void *arg, int batch, timing *out);

#endif
