/* The device's copy bandwidth, measured in the benchmark's own run so that memory-bound kernels
 * can be quoted as a fraction of it. */
#ifndef LK_TUNER_BANDWIDTH_H
#define LK_TUNER_BANDWIDTH_H

#include <stddef.h>

#include "longkern.h"

/* Median GB/s (1e9 B/s) of a device-to-device copy of `bytes`, counting bytes read plus bytes
 * written (2 × bytes per copy), timed with device events. bytes 0: 256 MiB on GPUs, 64 MiB on
 * CPUs (past the caches, within memory). */
lk_status bench_copy_bandwidth(lk_context *ctx, size_t bytes, double *gbps);

#endif
