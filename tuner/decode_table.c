/* Shared parts of the decode benchmark tables (see decode_table.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bandwidth.h"
#include "bench_files.h"
#include "bench_rounds.h"
#include "cli.h"
#include "decode_table.h"
#include "op_decode.h"

int dec_table_setup(lk_context *ctx, const bench_opts *o, const char *cpu_range, const char *gpu_range,
                    int cpu_batch1, dec_table *t)
{
    memset(t, 0, sizeof *t);
    t->ctx = ctx;
    t->o = o;
    int cpu = lk_context_device(ctx)->type == LK_DEVICE_CPU;
    t->D = o->head_dim ? o->head_dim : 128;
    t->Hkv = decode_kv_heads(ctx, &o->shape);
    t->nb = o->shape.batch > 0 || (cpu && cpu_batch1) ? 1 : 2;
    t->batches[0] = o->shape.batch > 0 ? o->shape.batch : 1;
    t->batches[1] = 8;
    int64_t lo = o->lo, hi = o->hi;
    if (!lo && cli_range(cpu ? cpu_range : gpu_range, &lo, &hi) == 0)
        printf("note: default --seq %lld:%lld on this %s device\n", (long long)lo, (long long)hi, cpu ? "CPU" : "GPU");
    t->nlen = cli_lengths(lo, hi, t->lengths, DEC_MAX_LENGTHS);
    if (bench_copy_bandwidth(ctx, 0, &t->copy_gbps) != LK_OK) {
        fprintf(stderr, "copy bandwidth: %s\n", lk_last_error(ctx));
        return 1;
    }
    printf("copy bandwidth: %.1f GB/s (read + write)\n", t->copy_gbps);
    char slug[256];
    cli_describe(ctx, o->argc, o->argv, t->header, sizeof t->header);
    size_t k = strlen(t->header);
    snprintf(t->header + k, sizeof t->header - k,
             "\nproblem: Hkv=%d, Hq=%d (GQA 4), D=%d, %s q/k/v/o, one query token; copy bandwidth %.1f GB/s "
             "(device-to-device copy, read + write, same run)",
             t->Hkv, 4 * t->Hkv, t->D, lk_dtype_name(o->dtype), t->copy_gbps);
    cli_device_slug(ctx, slug, sizeof slug);
    snprintf(t->dir, sizeof t->dir, "%s/%s", o->out, slug);
    return cli_mkdirs(t->dir);
}

static double gbps(double bytes, double ms) { return bytes / (ms * 1e6); }

int dec_table_time(const dec_table *t, decode_call *calls, int n, double *ms)
{
    void *args[BENCH_MAX_CALLS];
    for (int i = 0; i < n; i++)
        args[i] = &calls[i];
    int failed = bench_interleaved(t->ctx, decode_call_run, args, n, DEC_ROUNDS, NULL, ms);
    if (failed >= 0)
        fprintf(stderr, "call %d failed: %s\n", failed, lk_last_error(t->ctx));
    return failed >= 0;
}

/* The rows as a markdown table (md) and csv (NULL: none); with_err adds the error column. */
static void rows_out(FILE *md, FILE *csv, const dec_table *t, const dec_row *rows, int n, int with_err)
{
    fprintf(md, "| L | B | config | ms | dense ms | speedup | bytes read (MB) | dense/bytes | speedup ÷ byte ratio "
                "| GB/s | %% of copy |%s params |\n|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|%s---|\n",
            with_err ? " rel err |" : "", with_err ? "---:|" : "");
    if (csv)
        fprintf(csv, "L,B,config,ms,dense_ms,speedup,bytes,dense_bytes,byte_ratio,speedup_over_byte_ratio,gbps,"
                     "copy_fraction,%sparams\n", with_err ? "rel_err," : "");
    for (int i = 0; i < n; i++) {
        const dec_row *r = &rows[i];
        double speed = r->dense_ms / r->ms, ratio = r->dense_bytes / r->bytes, bw = gbps(r->bytes, r->ms);
        char err[32] = "";
        if (with_err)
            snprintf(err, sizeof err, isnan(r->rel_err) ? " — |" : " %.2e |", r->rel_err);
        fprintf(md, "| %lld | %d | %s | %.4f | %.4f | %.2f | %.2f | %.2f | %.2f | %.1f | %.0f%% |%s %s |\n",
                (long long)r->L, r->B, r->config, r->ms, r->dense_ms, speed, r->bytes / 1e6, ratio, speed / ratio, bw,
                100.0 * bw / t->copy_gbps, err, r->params);
        if (csv) {
            if (with_err)
                snprintf(err, sizeof err, "%.4e,", r->rel_err);
            fprintf(csv, "%lld,%d,%s,%.6f,%.6f,%.4f,%.0f,%.0f,%.4f,%.4f,%.2f,%.4f,%s\"%s\"\n", (long long)r->L, r->B,
                    r->config, r->ms, r->dense_ms, speed, r->bytes, r->dense_bytes, ratio, speed / ratio, bw,
                    bw / t->copy_gbps, err, r->params);
        }
    }
}

static void doc_free(dec_doc *doc)
{
    free(doc->pre_md);
    free(doc->pre_csv);
    doc->pre_md = doc->pre_csv = NULL;
}

int dec_table_begin(dec_table *t, dec_doc *doc, dec_pre_fn pre, dec_row **rows)
{
    size_t md_len = 0, csv_len = 0;
    FILE *md = open_memstream(&doc->pre_md, &md_len), *csv = open_memstream(&doc->pre_csv, &csv_len);
    if (md && csv && pre) {
        pre(t, md, csv);
        fprintf(csv, "# decode\n");
    }
    if (md)
        fclose(md);
    if (csv)
        fclose(csv);
    *rows = md && csv ? calloc(DEC_MAX_ROWS, sizeof **rows) : NULL;
    if (*rows)
        return 0;
    doc_free(doc);
    fprintf(stderr, "lk-bench: out of memory\n");
    return 1;
}

int dec_table_write(const dec_table *t, const dec_doc *doc, const dec_row *rows, int n, int done, int planned)
{
    static const char *const ext[] = {"md", "csv"};
    bench_file f[2];
    if (bench_files_nothing(n, t->dir, doc->name))
        return 1;
    int ok = bench_files_open(f, 2, t->dir, doc->name, ext);
    if (ok) {
        FILE *md = f[0].f, *csv = f[1].f;
        fprintf(md, "# %s\n\n", doc->title);
        bench_header(md, "    ", t->header, done, planned);
        fprintf(md, "\n%s%s", doc->pre_md ? doc->pre_md : "", doc->intro);
        bench_header(csv, "# ", t->header, done, planned);
        fputs(doc->pre_csv ? doc->pre_csv : "", csv);
        rows_out(md, csv, t, rows, n, doc->with_err);
    }
    return bench_files_close(f, 2, ok);
}

static int finish(const dec_table *t, const dec_doc *doc, const dec_row *rows, int n)
{
    if (dec_table_write(t, doc, rows, n, 1, 1))
        return 1;
    rows_out(stdout, NULL, t, rows, n, doc->with_err);
    printf("wrote %s/%s.{md,csv}\n", t->dir, doc->name);
    return 0;
}

int dec_table_end(const dec_table *t, dec_doc *doc, dec_row *rows, int n)
{
    int bad = finish(t, doc, rows, n);
    free(rows);
    doc_free(doc);
    return bad;
}
