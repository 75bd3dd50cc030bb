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
/* One table's files, <dir>/<name>.md and .csv:
 *   md:  # title, the run header, then pre_md (sections measured before the rows, NULL: none),
 *        intro (the paragraph above the rows), the rows
 *   csv: the run header as '#' lines, pre_csv (NULL: none), the rows
 * with_err adds the error column. */
typedef struct dec_doc {
    const char *name, *title, *intro;
    char *pre_md, *pre_csv;
    int with_err;
} dec_doc;
/* What a table measures before its rows: writes its sections to both streams. */
typedef void (*dec_pre_fn)(dec_table *t, FILE *md, FILE *csv);
/* A table's start: doc->pre_md and doc->pre_csv filled through pre (memory streams; NULL: no
 * sections), the csv part then ending in a "# decode" line above the rows, and room for
 * DEC_MAX_ROWS rows in *rows. 0 on success; 1 when out of memory (nothing then held). */
int dec_table_begin(dec_table *t, dec_doc *doc, dec_pre_fn pre, dec_row **rows);
/* A table's end: the files written with every step done and the rows on stdout, then what
 * dec_table_begin allocated freed. 0 on success. */
int dec_table_end(const dec_table *t, dec_doc *doc, dec_row *rows, int n);
/* Writes doc's files with rows[0..n) after `done` of the run's `planned` (length, batch) steps
 * (bench_files.h: called after every step, so a stopped run keeps its rows). 0 on success. */
int dec_table_write(const dec_table *t, const dec_doc *doc, const dec_row *rows, int n, int done, int planned);

#endif
