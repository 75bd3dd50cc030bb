/* lk-bench's outputs for a RoPE-variant table of op NAME: results/<device-slug>/NAME.md and .csv
 * (each with a header stating device, driver, date and command), the markdown table on stdout,
 * and a gnuplot script plus NAME.png of the speedups against length (when gnuplot is on PATH). */
#ifndef LK_TUNER_BENCH_REPORT_H
#define LK_TUNER_BENCH_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "bench_files.h"
#include "longkern.h"

typedef struct bench_row {
    int64_t seq_len;
    int causal, head_dim;
    lk_dtype dtype;
    double fused_ms, unfused_ms, default_ms;
    /* dispatch_ms: the time of the dispatch's launch, which is that of the variant column running
     * the same parameters when there is one (bench_same_launch); dispatch_timed_ms: the dispatch
     * call's own timing in the same rounds */
    double dispatch_ms, dispatch_timed_ms;
    int dispatch_variant; /* the RoPE variant (lk_rope_variant) the dispatch ran; -1: unknown */
    double flops; /* of one call: forward 4·B·H·Sq·Sk·D, halved when causal; backward 2.5x that */
} bench_row;

/* Writes the md, csv and gp files of op `name` into dir (bench_files.h: after every row, so a
 * stopped run keeps its rows). device: the plot's title; header: lines without '#'; rows[0..n)
 * of the `planned` rows of the run. 0 on success. */
int bench_report_files(const char *dir, const char *name, const char *device, const char *header,
                       const bench_row *rows, int n, int planned);
/* The finished run: bench_report_files with every row, the table on stdout and the PNG (when
 * gnuplot is on PATH). 0 on success. */
int bench_report(const char *dir, const char *name, const char *device, const char *header, const bench_row *rows,
                 int n);

#endif
