/* The KDA throughput table (see bench_kda.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench_kda.h"
#include "bench_files.h"
#include "bench_rounds.h"
#include "cli.h"
#include "kda_problem.h"
#include "ops/kda.h"

#define MAX_LENGTHS 32
#define ROUNDS 3

enum { CALL_DISPATCH, CALL_DEFAULT, CALL_CHUNK, CALL_STATE, CALL_OUT, NCALLS };

typedef struct kda_row {
    int64_t T;
    double dispatch_ms, default_ms;
    double stage_ms[3];  /* the dispatch's kda_chunk, kda_state, kda_out alone (STAGES = 1, 2, 4) */
    double tokens;       /* B * T per call */
    double model_flops;  /* paper Eq. 13 with C = 64: (6 T d^2 + 3 T C d + T C^2) per head */
    char params[96];     /* the dispatch's parameters */
} kda_row;

/* The out stage's time in fmt, or `fused` where the state pass wrote o (NaN: nothing launched). */
static const char *out_text(double ms, const char *fmt, const char *fused, char buf[16])
{
    if (isnan(ms))
        return fused;
    snprintf(buf, 16, fmt, ms);
    return buf;
}

static double tok_per_s(double tokens, double ms)
{
    return tokens / (ms * 1e-3);
}

static int bench_one(lk_context *ctx, const lk_tune_key *key, int batch, int heads, kda_row *row)
{
    kda_problem pb;
    if (kda_problem_create(ctx, key->dtype, batch, key->length, heads, key->head_dim, 1, 0, &pb) != LK_OK) {
        fprintf(stderr, "T %lld: cannot set up inputs: %s\n", (long long)key->length, lk_last_error(ctx));
        return 1;
    }
    lk_params defaults, tuned;
    lk_lookup_result where;
    lk_kda_defaults(lk_context_device(ctx), key->head_dim, key->head_dim, &defaults);
    lk_tuned_params(ctx, key, &defaults, &tuned, &where);
    lk_params stage[3];
    for (int i = 0; i < 3; i++) {
        stage[i] = tuned;
        lk_params_set(&stage[i], "STAGES", 1 << i);
    }
    kda_call calls[NCALLS] = {{&pb, NULL}, {&pb, &defaults}, {&pb, &stage[0]}, {&pb, &stage[1]}, {&pb, &stage[2]}};
    void *args[NCALLS] = {&calls[0], &calls[1], &calls[2], &calls[3], &calls[4]};
    double med[NCALLS];
    int failed = bench_interleaved(ctx, kda_call_run, args, NCALLS, ROUNDS, NULL, med);
    /* with the output fused into the state pass (FUSEOUT) the out stage launches nothing */
    if (failed < 0 && kda_call_run(ctx, &calls[CALL_OUT]) == LK_OK && !lk_last_launch(ctx)[0])
        med[CALL_OUT] = NAN;
    kda_problem_free(&pb);
    if (failed >= 0) {
        fprintf(stderr, "T %lld: call %d failed: %s\n", (long long)key->length, failed, lk_last_error(ctx));
        return 1;
    }
    double T = (double)key->length, d = key->head_dim, C = 64.0;
    *row = (kda_row){.T = key->length, .dispatch_ms = med[CALL_DISPATCH], .default_ms = med[CALL_DEFAULT],
                     .tokens = (double)batch * T,
                     .stage_ms = {med[CALL_CHUNK], med[CALL_STATE], med[CALL_OUT]},
                     .model_flops = (double)batch * heads * (6 * T * d * d + 3 * T * C * d + T * C * C)};
    lk_params_format(&tuned, "", ",", row->params, sizeof row->params);
    char out_ms[16];
    fprintf(stderr, "T %lld: dispatch %.3f ms (%.0f tok/s, %s from %s), default %.3f ms; the dispatch's "
                    "chunk %.3f, state %.3f, out %s ms\n", (long long)key->length,
            row->dispatch_ms, tok_per_s(row->tokens, row->dispatch_ms), row->params,
            lk_param_source_name(where.source), row->default_ms, row->stage_ms[0], row->stage_ms[1],
            out_text(row->stage_ms[2], "%.3f", "in state", out_ms));
    return 0;
}

static void write_markdown(FILE *f, const kda_row *rows, int n, lk_dtype dtype, int head_dim)
{
    fprintf(f, "| T | dtype | K=V | dispatch ms | default ms | tok/s (dispatch) | tok/s (default) | "
               "model TFLOP/s | chunk ms | state ms | out ms | dispatch params |\n"
               "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for (int i = 0; i < n; i++) {
        const kda_row *r = &rows[i];
        char out_ms[16];
        fprintf(f, "| %lld | %s | %d | %.3f | %.3f | %.0f | %.0f | %.4f | %.3f | %.3f | %s | %s |\n", (long long)r->T,
                lk_dtype_name(dtype), head_dim, r->dispatch_ms, r->default_ms, tok_per_s(r->tokens, r->dispatch_ms),
                tok_per_s(r->tokens, r->default_ms), r->model_flops / (r->dispatch_ms * 1e-3) / 1e12,
                r->stage_ms[0], r->stage_ms[1], out_text(r->stage_ms[2], "%.3f", "in state", out_ms), r->params);
    }
}

static void write_csv(FILE *f, const kda_row *rows, int n, lk_dtype dtype, int head_dim)
{
    fprintf(f, "T,dtype,head_dim,dispatch_ms,default_ms,tokens_per_s_dispatch,tokens_per_s_default,model_tflops,"
               "chunk_ms,state_ms,out_ms,dispatch_params\n");
    for (int i = 0; i < n; i++) {
        const kda_row *r = &rows[i];
        char out_ms[16];
        fprintf(f, "%lld,%s,%d,%.6f,%.6f,%.1f,%.1f,%.6f,%.6f,%.6f,%s,\"%s\"\n", (long long)r->T, lk_dtype_name(dtype),
                head_dim, r->dispatch_ms, r->default_ms, tok_per_s(r->tokens, r->dispatch_ms),
                tok_per_s(r->tokens, r->default_ms), r->model_flops / (r->dispatch_ms * 1e-3) / 1e12,
                r->stage_ms[0], r->stage_ms[1], out_text(r->stage_ms[2], "%.6f", "", out_ms), r->params);
    }
}

/* Writes kda.md and kda.csv into dir (bench_files.h): rows[0..n) of the planned rows. */
static int write_files(const char *dir, const char *header, const kda_row *rows, int n, int planned, lk_dtype dtype,
                       int head_dim)
{
    static const char *const ext[] = {"md", "csv"};
    bench_file f[2];
    if (bench_files_nothing(n, dir, "kda"))
        return 1;
    int ok = bench_files_open(f, 2, dir, "kda", ext);
    if (ok) {
        FILE *md = f[0].f, *csv = f[1].f;
        fprintf(md, "# kda: lk_kda_fwd throughput, tuned dispatch and untuned defaults\n\n");
        bench_header(md, "    ", header, n, planned);
        fprintf(md, "\nTimes are medians of device-event runs (%d interleaved rounds); tok/s = B*T / time. chunk, "
                    "state, out: the dispatch parameters' kda_chunk, kda_state and kda_out (or their tensor-core forms) launched alone; "
                    "out \"in state\" (empty in the csv): the state pass writes o (FUSEOUT), kda_out does not run.\n\n",
                ROUNDS);
        write_markdown(md, rows, n, dtype, head_dim);
        bench_header(csv, "# ", header, n, planned);
        write_csv(csv, rows, n, dtype, head_dim);
    }
    return bench_files_close(f, 2, ok);
}

int bench_kda(lk_context *ctx, const bench_opts *o)
{
    int cpu = lk_context_device(ctx)->type == LK_DEVICE_CPU, head_dim = o->head_dim ? o->head_dim : 128;
    int heads = kda_heads(ctx, &o->shape), batch = tune_batch(&o->shape);
    int64_t lo = o->lo, hi = o->hi, lengths[MAX_LENGTHS];
    if (!lo && cli_range(cpu ? "256:4096" : "1024:65536", &lo, &hi) == 0)
        printf("note: default --seq %lld:%lld on this %s device\n", (long long)lo, (long long)hi, cpu ? "CPU" : "GPU");
    char header[3072], slug[256], dir[1024];
    cli_describe(ctx, o->argc, o->argv, header, sizeof header);
    size_t k = strlen(header);
    snprintf(header + k, sizeof header - k,
             "\nproblem: B=%d H=HV=%d, K=V=%d, %s q/k/v/o, f32 g and beta, L2 norm of q and k in the kernel,"
             " initial and final state; model FLOPs as the Kimi Linear paper (Eq. 13, C = 64)",
             batch, heads, head_dim, lk_dtype_name(o->dtype));
    cli_device_slug(ctx, slug, sizeof slug);
    snprintf(dir, sizeof dir, "%s/%s", o->out, slug);
    int nlen = cli_lengths(lo, hi, lengths, MAX_LENGTHS), nrows = 0, fails = 0;
    kda_row rows[MAX_LENGTHS];
    for (int l = 0; l < nlen; l++) {
        lk_tune_key key = {.op = "kda_fwd", .dtype = o->dtype, .head_dim = head_dim, .length = lengths[l]};
        if (!kda_problem_fits(ctx, o->dtype, batch, lengths[l], heads, head_dim))
            continue;
        if (bench_one(ctx, &key, batch, heads, &rows[nrows]) != 0)
            fails++;
        else
            write_files(dir, header, rows, ++nrows, nlen, o->dtype, head_dim);
    }
    if (write_files(dir, header, rows, nrows, nrows, o->dtype, head_dim))
        return 1;
    write_markdown(stdout, rows, nrows, o->dtype, head_dim);
    printf("wrote %s/kda.{md,csv}\n", dir);
    return fails != 0;
}
