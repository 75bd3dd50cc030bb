/* The parts every decode benchmark table shares (bench_decode.c, bench_kivi.c): lengths and
 * batches from the options, the copy bandwidth measured in the same run, the header of every
 * output file, interleaved timing of decode calls, and the rows of time, bytes and bandwidth
 * against the dense decode. */
#ifndef LK_TUNER_DECODE_TABLE_H
#define LK_TUNER_DECODE_TABLE_H

#include <stdio.h>

#include "decode_problem.h"
#include "op.h"

#define DEC_MAX_LENGTHS 32
#define DEC_MAX_ROWS 512
#define DEC_ROUNDS 3

typedef struct dec_row {
    int64_t L;
    int B;
    char config[40];
    double ms, dense_ms;   /* this configuration, the dense decode of the same problem */
    double bytes, dense_bytes;
    double rel_err;        /* of the output against the dense fp16 decode; NAN: not measured */
    char params[96];
} dec_row;

typedef struct dec_table {
    lk_context *ctx;
    const bench_opts *o;
    int D, Hkv, nb, batches[2];
    int64_t lengths[DEC_MAX_LENGTHS];
    int nlen;
    double copy_gbps;
    char dir[1024], header[3072];
} dec_table;

/* Lengths (--seq, else cpu_range / gpu_range by device type), batches (--batch, else 1 and 8;
 * 1 only on a CPU when cpu_batch1), D, Hkv; measures the copy bandwidth, writes the header
 * and creates results/<device-slug>. 0 on success. */
int dec_table_setup(lk_context *ctx, const bench_opts *o, const char *cpu_range, const char *gpu_range,
                    int cpu_batch1, dec_table *t);
/* Times calls[0..n) (decode_call_run) in interleaved rounds: medians into ms. 0 on success. */
int dec_table_time(const dec_table *t, decode_call *calls, int n, double *ms);
/* <dir>/<name>.<ext> opened for writing, or NULL after perror. */
FILE *dec_table_open(const dec_table *t, const char *name, const char *ext);
/* The rows as a markdown table (md) and csv (NULL: none); with_err adds the error column. */
void dec_table_rows(FILE *md, FILE *csv, const dec_table *t, const dec_row *rows, int n, int with_err);

#endif
