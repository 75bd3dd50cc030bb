/* Decode-attention benchmark tables (see bench_decode.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bandwidth.h"
#include "bench_decode.h"
#include "bench_report.h"
#include "bench_rounds.h"
#include "cli.h"
#include "decode_problem.h"
#include "ops/attention_decode.h"
#include "ops/kv_sparse_decode.h"

#define MAX_LENGTHS 32
#define MAX_ROWS 512
#define ROUNDS 3

typedef struct dec_row {
    int64_t L;
    int B;
    char config[32];
    double ms, dense_ms;   /* this configuration, the dense decode of the same problem */
    double bytes, dense_bytes;
    char params[96];
} dec_row;

typedef struct bench_ctx {
    lk_context *ctx;
    const bench_opts *o;
    int D, Hkv, nb, batches[2];
    int64_t lengths[MAX_LENGTHS];
    int nlen;
    double copy_gbps;
    char dir[1024], header[3072];
} bench_ctx;

static int setup(lk_context *ctx, const bench_opts *o, const char *cpu_range, const char *gpu_range, bench_ctx *b)
{
    memset(b, 0, sizeof *b);
    b->ctx = ctx;
    b->o = o;
    int cpu = lk_context_device(ctx)->type == LK_DEVICE_CPU;
    b->D = o->head_dim ? o->head_dim : 128;
    b->Hkv = decode_kv_heads(ctx, &o->shape);
    b->nb = o->shape.batch > 0 ? 1 : 2;
    b->batches[0] = o->shape.batch > 0 ? o->shape.batch : 1;
    b->batches[1] = 8;
    int64_t lo = o->lo, hi = o->hi;
    if (!lo && cli_range(cpu ? cpu_range : gpu_range, &lo, &hi) == 0)
        printf("note: default --seq %lld:%lld on this %s device\n", (long long)lo, (long long)hi, cpu ? "CPU" : "GPU");
    b->nlen = cli_lengths(lo, hi, b->lengths, MAX_LENGTHS);
    if (bench_copy_bandwidth(ctx, 0, &b->copy_gbps) != LK_OK) {
        fprintf(stderr, "copy bandwidth: %s\n", lk_last_error(ctx));
        return 1;
    }
    printf("copy bandwidth: %.1f GB/s (read + write)\n", b->copy_gbps);
    char slug[256];
    cli_describe(ctx, o->argc, o->argv, b->header, sizeof b->header);
    size_t k = strlen(b->header);
    snprintf(b->header + k, sizeof b->header - k,
             "\nproblem: Hkv=%d, Hq=%d (GQA 4), D=%d, %s q/k/v/o, one query token; copy bandwidth %.1f GB/s "
             "(device-to-device copy, read + write, same run)",
             b->Hkv, 4 * b->Hkv, b->D, lk_dtype_name(o->dtype), b->copy_gbps);
    cli_device_slug(ctx, slug, sizeof slug);
    snprintf(b->dir, sizeof b->dir, "%s/%s", o->out, slug);
    return cli_mkdirs(b->dir);
}

static double gbps(double bytes, double ms) { return bytes / (ms * 1e6); }

/* Times calls[0..n) on one problem in interleaved rounds; 0 on success. */
static int time_calls(bench_ctx *b, decode_call *calls, int n, double *ms)
{
    void *args[BENCH_MAX_CALLS];
    for (int i = 0; i < n; i++)
        args[i] = &calls[i];
    int failed = bench_interleaved(b->ctx, decode_call_run, args, n, ROUNDS, ms);
    if (failed >= 0)
        fprintf(stderr, "call %d failed: %s\n", failed, lk_last_error(b->ctx));
    return failed >= 0;
}

static FILE *open_out(const bench_ctx *b, const char *name, const char *ext)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s.%s", b->dir, name, ext);
    FILE *f = fopen(path, "w");
    if (!f)
        perror(path);
    return f;
}

static void write_rows(FILE *md, FILE *csv, const bench_ctx *b, const dec_row *rows, int n)
{
    fprintf(md, "| L | B | config | ms | dense ms | speedup | bytes read (MB) | dense/bytes | speedup ÷ byte ratio "
                "| GB/s | %% of copy | params |\n|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    if (csv)
        fprintf(csv, "L,B,config,ms,dense_ms,speedup,bytes,dense_bytes,byte_ratio,speedup_over_byte_ratio,gbps,"
                     "copy_fraction,params\n");
    for (int i = 0; i < n; i++) {
        const dec_row *r = &rows[i];
        double speed = r->dense_ms / r->ms, ratio = r->dense_bytes / r->bytes, bw = gbps(r->bytes, r->ms);
        fprintf(md, "| %lld | %d | %s | %.4f | %.4f | %.2f | %.2f | %.2f | %.2f | %.1f | %.0f%% | %s |\n",
                (long long)r->L, r->B, r->config, r->ms, r->dense_ms, speed, r->bytes / 1e6, ratio, speed / ratio, bw,
                100.0 * bw / b->copy_gbps, r->params);
        if (csv)
            fprintf(csv, "%lld,%d,%s,%.6f,%.6f,%.4f,%.0f,%.0f,%.4f,%.4f,%.2f,%.4f,\"%s\"\n", (long long)r->L, r->B,
                    r->config, r->ms, r->dense_ms, speed, r->bytes, r->dense_bytes, ratio, speed / ratio, bw,
                    bw / b->copy_gbps, r->params);
    }
}

/* ---- dense decode ------------------------------------------------------------------------- */

int bench_attention_decode(lk_context *ctx, const bench_opts *o)
{
    bench_ctx b;
    if (setup(ctx, o, "1024:8192", "4096:131072", &b))
        return 1;
    dec_row *rows = calloc(MAX_ROWS, sizeof *rows);
    int n = 0, fails = 0;
    for (int l = 0; l < b.nlen; l++)
        for (int bi = 0; bi < b.nb; bi++) {
            int B = b.batches[bi];
            decode_problem pb;
            if (!decode_problem_fits(ctx, o->dtype, B, b.Hkv, b.lengths[l], b.D) ||
                decode_problem_create(ctx, o->dtype, B, 4 * b.Hkv, b.Hkv, b.lengths[l], b.D, 1, &pb) != LK_OK) {
                fails++;
                continue;
            }
            lk_params defaults, tuned;
            lk_tune_key key;
            lk_lookup_result where;
            lk_attention_decode_defaults(lk_context_device(ctx), b.D, &defaults);
            lk_attention_decode_key(&pb.q, &pb.k, &key);
            lk_tuned_params(ctx, &key, &defaults, &tuned, &where);
            decode_call calls[2] = {{&pb, NULL, NULL}, {&pb, NULL, &defaults}};
            double ms[2];
            if (time_calls(&b, calls, 2, ms) == 0) {
                double bytes = 2.0 * B * b.Hkv * (double)b.lengths[l] * b.D * lk_dtype_size(o->dtype);
                dec_row *r = &rows[n++];
                *r = (dec_row){.L = b.lengths[l], .B = B, .ms = ms[0], .dense_ms = ms[1], .bytes = bytes,
                               .dense_bytes = bytes};
                snprintf(r->config, sizeof r->config, "dense (vs defaults)");
                lk_params_format(&tuned, "", ",", r->params, sizeof r->params);
                fprintf(stderr, "L %lld B %d: dispatch %.4f ms, defaults %.4f ms, %.1f GB/s\n", (long long)b.lengths[l],
                        B, ms[0], ms[1], gbps(bytes, ms[0]));
            } else {
                fails++;
            }
            decode_problem_free(&pb);
        }
    FILE *md = open_out(&b, "attention_decode", "md"), *csv = open_out(&b, "attention_decode", "csv");
    if (!md || !csv)
        return 1;
    fprintf(md, "# attention_decode: dense decode attention (split over tokens + combine)\n\n");
    bench_prefixed(md, "    ", b.header);
    fprintf(md, "\n\"ms\" is the tuned dispatch, \"dense ms\" the built-in defaults; bytes = K and V read once. "
                "Medians of %d interleaved rounds.\n\n", ROUNDS);
    bench_prefixed(csv, "# ", b.header);
    write_rows(md, csv, &b, rows, n);
    write_rows(stdout, NULL, &b, rows, n);
    fclose(md);
    fclose(csv);
    printf("wrote %s/attention_decode.{md,csv}\n", b.dir);
    free(rows);
    return fails != 0;
}

/* ---- sparse cache ----------------------------------------------------------------------------- */

/* Bytes of a cache at each sparsity and bit width, measured on a 1088-token cache (16 blocks
 * compressed), against dense fp16 of the compressed tokens. */
static void bytes_table(bench_ctx *b, FILE *md, FILE *csv)
{
    static const double sparsity[] = {0.5, 0.7, 0.9};
    static const int bits[] = {16, 4, 2};
    fprintf(md, "## Bytes against dense fp16 (compressed blocks; K and V; D = %d)\n\n"
                "| sparsity | keep / D | bits | bytes per token per head | %% of dense fp16 | target |\n"
                "|---:|---:|---:|---:|---:|---|\n", b->D);
    fprintf(csv, "# bytes\nsparsity,keep,bits,bytes_per_token_head,fraction_of_fp16\n");
    decode_problem pb;
    if (decode_problem_create(b->ctx, LK_F16, 1, 1, 1, 16 * 64 + 64, b->D, 7, &pb) != LK_OK)
        return;
    for (int s = 0; s < 3; s++)
        for (int i = 0; i < 3; i++) {
            lk_kv_sparse_config cfg = sparse_config(SPARSE_PLAIN, 1, 1, b->D, pb.L, sparsity[s], NULL);
            cfg.key_bits = cfg.value_bits = bits[i];
            lk_kv_sparse_cache *c;
            lk_kv_sparse_bytes m;
            if (lk_kv_sparse_create(b->ctx, &cfg, &c) != LK_OK || lk_kv_sparse_append(b->ctx, c, &pb.k, &pb.v) != LK_OK)
                continue;
            lk_kv_sparse_memory(c, &m);
            double fp16 = 2.0 * m.compressed_tokens * b->D * 2, frac = m.sparse_bytes / fp16;
            const char *target = sparsity[s] == 0.7 && bits[i] == 16 ? (frac <= 0.45 ? "<= 45%: met" : "<= 45%: MISSED")
                                 : sparsity[s] == 0.7 && bits[i] == 2 ? (frac <= 0.15 ? "<= 15%: met" : "<= 15%: MISSED")
                                                                      : "";
            fprintf(md, "| %.0f%% | %d / %d | %d | %.1f | %.1f%% | %s |\n", 100 * sparsity[s], cfg.keep, b->D, bits[i],
                    m.sparse_bytes / (double)m.compressed_tokens, 100 * frac, target);
            fprintf(csv, "%.2f,%d,%d,%.2f,%.4f\n", sparsity[s], cfg.keep, bits[i],
                    m.sparse_bytes / (double)m.compressed_tokens, frac);
            lk_kv_sparse_destroy(c);
        }
    decode_problem_free(&pb);
    fprintf(md, "\n");
}

/* The tuned parameters of the sparse key with VARIANT forced. */
static void variant_params(lk_context *ctx, const decode_problem *pb, const lk_kv_sparse_cache *c, int variant,
                           lk_params *out)
{
    lk_tune_key key;
    lk_params defaults;
    lk_lookup_result where;
    lk_kv_sparse_decode_key(&pb->q, c, &key);
    lk_kv_sparse_decode_defaults(lk_context_device(ctx), pb->D, pb->Hkv < 4 ? pb->Hkv : 4, 4, &defaults);
    lk_tuned_params(ctx, &key, &defaults, out, &where);
    lk_params_set(out, "VARIANT", variant);
    if (lk_kv_sparse_decode_check_params(ctx, out, pb->D, pb->Hkv < 4 ? pb->Hkv : 4, 4) != LK_OK)
        lk_params_set(out, "BLOCK_N", 2); /* the two-stage tiles may not fit the fused path */
}

int bench_kv_sparse(lk_context *ctx, const bench_opts *o)
{
    bench_ctx b;
    if (setup(ctx, o, "1024:4096", "4096:131072", &b))
        return 1;
    dec_row *rows = calloc(MAX_ROWS, sizeof *rows);
    int n = 0, fails = 0;
    enum { C_DENSE, C_PLAIN, C_2BIT, C_ROT, C_ROT_FUSED, C_ROT_TWO, NC };
    static const char *names[NC] = {"dense", "mustafar-fp16", "sparse-2bit", "rotatekv-2bit", "rotatekv-2bit fused",
                                    "rotatekv-2bit two-stage"};
    for (int l = 0; l < b.nlen; l++)
        for (int bi = 0; bi < b.nb; bi++) {
            int B = b.batches[bi];
            decode_problem pb;
            lk_kv_sparse_cache *cache[SPARSE_CONFIGS] = {0};
            if (!decode_problem_fits(ctx, o->dtype, B, b.Hkv, b.lengths[l], b.D) ||
                decode_problem_create(ctx, o->dtype, B, 4 * b.Hkv, b.Hkv, b.lengths[l], b.D, 1, &pb) != LK_OK) {
                fails++;
                continue;
            }
            int ok = 1;
            for (int k = 0; k < SPARSE_CONFIGS && ok; k++)
                ok = decode_problem_sparse(&pb, (sparse_kind)k, &cache[k]) == LK_OK;
            lk_params fused, two;
            if (ok) {
                variant_params(ctx, &pb, cache[SPARSE_ROTATE], LK_SPARSE_FUSED, &fused);
                variant_params(ctx, &pb, cache[SPARSE_ROTATE], LK_SPARSE_TWO_STAGE, &two);
            }
            decode_call calls[NC] = {{&pb, NULL, NULL},          {&pb, cache[SPARSE_PLAIN], NULL},
                                     {&pb, cache[SPARSE_2BIT], NULL}, {&pb, cache[SPARSE_ROTATE], NULL},
                                     {&pb, cache[SPARSE_ROTATE], &fused}, {&pb, cache[SPARSE_ROTATE], &two}};
            double ms[NC];
            if (!ok || time_calls(&b, calls, NC, ms) != 0) {
                fprintf(stderr, "L %lld B %d: %s\n", (long long)b.lengths[l], B, lk_last_error(ctx));
                fails++;
            } else {
                double dense_bytes = 2.0 * B * b.Hkv * (double)b.lengths[l] * b.D * lk_dtype_size(o->dtype);
                for (int c = 0; c < NC && n < MAX_ROWS; c++) {
                    const lk_kv_sparse_cache *cc = calls[c].cache;
                    dec_row *r = &rows[n++];
                    *r = (dec_row){.L = b.lengths[l], .B = B, .ms = ms[c], .dense_ms = ms[C_DENSE],
                                   .bytes = cc ? (double)lk_kv_sparse_read_bytes(cc) : dense_bytes,
                                   .dense_bytes = dense_bytes};
                    snprintf(r->config, sizeof r->config, "%s", names[c]);
                    if (calls[c].tuned)
                        lk_params_format(calls[c].tuned, "", ",", r->params, sizeof r->params);
                    else
                        snprintf(r->params, sizeof r->params, "dispatch");
                }
                fprintf(stderr, "L %lld B %d: dense %.4f, fp16 %.4f, 2bit %.4f, rotatekv %.4f (fused %.4f, two-stage %.4f) ms\n",
                        (long long)b.lengths[l], B, ms[0], ms[1], ms[2], ms[3], ms[4], ms[5]);
            }
            for (int k = 0; k < SPARSE_CONFIGS; k++)
                lk_kv_sparse_destroy(cache[k]);
            decode_problem_free(&pb);
        }
    FILE *md = open_out(&b, "kv_sparse", "md"), *csv = open_out(&b, "kv_sparse", "csv");
    if (!md || !csv)
        return 1;
    fprintf(md, "# kv_sparse: Mustafar sparse KV cache (70%% sparsity) and RotateKV, decode against dense\n\n");
    bench_prefixed(md, "    ", b.header);
    fprintf(md, "\n");
    bench_prefixed(csv, "# ", b.header);
    bytes_table(&b, md, csv);
    fprintf(md, "## Decode attention against the dense decode\n\nBytes read: the compressed cache (bitmaps, "
                "parameters, packed words, offsets, dense sinks and window) or dense K and V. Targets: GB/s >= 70%% "
                "of copy at L >= 32K, speedup ÷ byte ratio >= 0.8. Medians of %d interleaved rounds.\n\n", ROUNDS);
    fprintf(csv, "# decode\n");
    write_rows(md, csv, &b, rows, n);
    write_rows(stdout, NULL, &b, rows, n);
    fclose(md);
    fclose(csv);
    printf("wrote %s/kv_sparse.{md,csv}\n", b.dir);
    free(rows);
    return fails != 0;
}
