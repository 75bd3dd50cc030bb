/* The fused-RoPE table of the backward (see bench_attention_bwd.h). */
#include <stdio.h>
#include <string.h>

#include "bench_attention_bwd.h"
#include "bench_attention_fwd.h"
#include "bench_report.h"
#include "bench_rounds.h"
#include "bwd_problem.h"
#include "cli.h"
#include "ops/attention_bwd.h"

#define MAX_LENGTHS 32
#define ROUNDS 3

enum { CALL_FUSED, CALL_PREPASS, CALL_UNFUSED, CALL_DISPATCH, CALL_DEFAULT, NCALLS };

/* One row: the five calls timed in interleaved rounds; the pre-pass time through *prepass_ms. */
static int bench_one(lk_context *ctx, lk_db *db, lk_tune_key key, int batch, int heads, bench_row *row,
                     double *prepass_ms)
{
    bwd_problem pb;
    if (bwd_problem_create(ctx, &key, batch, heads, heads, key.length, 1, 0, &pb) != LK_OK) {
        fprintf(stderr, "len %lld: cannot set up inputs: %s\n", (long long)key.length, lk_last_error(ctx));
        return 1;
    }
    lk_params defaults, tuned, p[NCALLS];
    lk_lookup_result where;
    lk_attention_bwd_defaults(lk_context_device(ctx), key.head_dim, &defaults);
    lk_tuned_params(ctx, &key, &defaults, &tuned, &where);
    int own[3];
    for (int v = 0; v < 3; v++)
        bench_variant_params(ctx, db, &key, &tuned, v, &p[v], &own[v]);
    p[CALL_DEFAULT] = defaults;
    bwd_call calls[NCALLS];
    void *args[NCALLS];
    for (int c = 0; c < NCALLS; c++) {
        calls[c] = (bwd_call){&pb, c == CALL_DISPATCH ? NULL : &p[c]};
        args[c] = &calls[c];
    }
    double med[NCALLS];
    int failed = bench_interleaved(ctx, bwd_call_run, args, NCALLS, ROUNDS, NULL, med);
    bwd_problem_free(&pb);
    if (failed >= 0) {
        fprintf(stderr, "len %lld causal %d: call %d failed: %s\n", (long long)key.length, key.flag, failed,
                lk_last_error(ctx));
        return 1;
    }
    int same = bench_same_launch(&defaults, &tuned, p, CALL_UNFUSED + 1);
    *row = (bench_row){.seq_len = key.length, .causal = key.flag, .head_dim = key.head_dim, .dtype = key.dtype,
                       .fused_ms = med[CALL_FUSED], .unfused_ms = med[CALL_UNFUSED],
                       .dispatch_ms = med[same >= 0 ? same : CALL_DISPATCH], .dispatch_timed_ms = med[CALL_DISPATCH],
                       .default_ms = med[CALL_DEFAULT],
                       .dispatch_variant = lk_params_get(&tuned, "VARIANT", -1)};
    double S = (double)key.length;
    row->flops = 2.5 * 4.0 * (double)batch * heads * S * S * key.head_dim * (key.flag ? 0.5 : 1.0);
    *prepass_ms = med[CALL_PREPASS];
    fprintf(stderr,
            "len %lld causal %d: fused %.3f pre-pass %.3f unfused %.3f dispatch %.3f (timed %.3f) default %.3f ms"
            " [dispatch from %s, same launch as v%d; own best tiles: v0 %s, v1 %s, v2 %s]\n",
            (long long)key.length, key.flag, row->fused_ms, *prepass_ms, row->unfused_ms, row->dispatch_ms,
            row->dispatch_timed_ms, row->default_ms, lk_param_source_name(where.source), same, own[0] ? "yes" : "no", own[1] ? "yes" : "no",
            own[2] ? "yes" : "no");
    return 0;
}

/* The run header: run (device, date, command), problem and the pre-pass times measured so far. */
static void bwd_header(const char *run, const bench_opts *o, int batch, int heads, int head_dim, const char *prepass,
                       char *header, size_t n)
{
    snprintf(header, n,
             "%s\nproblem: B=%d H=%d (Hkv=H), D=%d, %s, RoPE theta 10000; o and lse from one forward call;"
             " fused = VARIANT 0, unfused = VARIANT 2, each with its own best tiles; median of %d interleaved"
             " rounds; TFLOP/s of the dispatch with bwd = 2.5x fwd FLOPs\n%s",
             run, batch, heads, head_dim, lk_dtype_name(o->dtype), ROUNDS, prepass);
}

int bench_attention_bwd(lk_context *ctx, const bench_opts *o)
{
    int cpu = lk_context_device(ctx)->type == LK_DEVICE_CPU, head_dim = o->head_dim ? o->head_dim : 128;
    int heads = attn_heads(ctx, &o->shape), batch = tune_batch(&o->shape);
    int64_t lo = o->lo, hi = o->hi, lengths[MAX_LENGTHS];
    if (!lo && cli_range(cpu ? "512:2048" : "512:131072", &lo, &hi) == 0)
        printf("note: default --seq %lld:%lld on this %s device\n", (long long)lo, (long long)hi, cpu ? "CPU" : "GPU");
    char run[2048], header[3072], slug[256], dir[1024];
    cli_describe(ctx, o->argc, o->argv, run, sizeof run);
    cli_device_slug(ctx, slug, sizeof slug);
    snprintf(dir, sizeof dir, "%s/%s", o->out, slug);
    const char *device = lk_context_device(ctx)->name;
    lk_db *db = bench_open_db(o);
    int nlen = cli_lengths(lo, hi, lengths, MAX_LENGTHS), nrows = 0, fails = 0;
    bench_row rows[2 * MAX_LENGTHS];
    char prepass[1024] = "pre-pass (VARIANT 1) ms, seq_len/causal:";
    for (int l = 0; l < nlen; l++) {
        lk_tune_key key = {.op = "attention_bwd", .family = "rope", .dtype = o->dtype, .head_dim = head_dim,
                           .length = lengths[l]};
        if (!bwd_problem_fits(ctx, &key, batch, heads, heads, lengths[l]))
            continue;
        for (int c = 0; c < o->nflags; c++) {
            double ms;
            key.flag = o->flags[c];
            if (bench_one(ctx, db, key, batch, heads, &rows[nrows], &ms) != 0) {
                fails++;
                continue;
            }
            size_t k = strlen(prepass);
            snprintf(prepass + k, sizeof prepass - k, " %lld/%d %.3f", (long long)lengths[l], key.flag, ms);
            bwd_header(run, o, batch, heads, head_dim, prepass, header, sizeof header);
            bench_report_files(dir, "attention_bwd", device, header, rows, ++nrows, nlen * o->nflags);
        }
    }
    lk_db_close(db);
    bwd_header(run, o, batch, heads, head_dim, prepass, header, sizeof header);
    return bench_report(dir, "attention_bwd", device, header, rows, nrows) || fails;
}
