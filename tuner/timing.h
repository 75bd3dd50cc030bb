/* Device-event timing of one op call: a warm-up run, then adaptive repetitions (at least 3,
 * until about 0.3 s of device time or 50 runs); median, min and p80 of the timed runs. */
#ifndef LK_TUNER_TIMING_H
#define LK_TUNER_TIMING_H

#include "longkern.h"

typedef lk_status (*timed_fn)(lk_context *ctx, void *arg);

typedef struct timing {
    double median_ms, min_ms, p80_ms;
    int runs;
    int timed_out; /* the first timed run exceeded the limit; only that run is in the stats */
} timing;

/* Times fn(ctx, arg). limit_ms > 0: stop after the first timed run if it took longer. */
lk_status time_op(lk_context *ctx, timed_fn fn, void *arg, double limit_ms, timing *out);

#endif
