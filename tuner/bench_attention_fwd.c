/* The fused-RoPE table (see bench_attention_fwd.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_attention_fwd.h"
#include "bench_report.h"
#include "bench_rounds.h"
#include "cli.h"
#include "ops/attention_fwd.h"
#include "problem.h"
#include "timing.h"
#include "tunedb/db.h"

#define MAX_LENGTHS 32
#define ROUNDS 5 /* = the calls per row: each call takes each place in the order once */

enum { CALL_V0, CALL_V1, CALL_UNFUSED, CALL_DISPATCH, CALL_DEFAULT, NCALLS };

/* One row: the five calls timed in ROUNDS interleaved rounds. 0 on success. */
static int bench_one(lk_context *ctx, lk_db *db, attn_problem *pb, int causal, bench_row *row)
{
    lk_rope_params rope = lk_rope_params_default();
    lk_tune_key key = {.op = "attention_fwd", .family = "rope", .dtype = pb->dtype, .head_dim = (int)pb->D,
                       .flag = causal, .length = pb->S};
    lk_params defaults, tuned, p[NCALLS];
    lk_lookup_result where;
    lk_attention_fwd_defaults(lk_context_device(ctx), key.head_dim, &defaults);
    lk_tuned_params(ctx, &key, &defaults, &tuned, &where);
    int own[3];
    for (int v = 0; v < 3; v++)
        bench_variant_params(ctx, db, &key, &tuned, v, &p[v], &own[v]);
    p[CALL_DEFAULT] = defaults;
    attn_call calls[NCALLS];
    void *args[NCALLS];
    for (int c = 0; c < NCALLS; c++) {
        calls[c] = (attn_call){pb, {0}, c == CALL_DISPATCH ? NULL : &p[c]};
        attn_params_for_key(&key, &rope, &calls[c].ap);
        args[c] = &calls[c];
    }
    double med[NCALLS];
    /* the fused column is the faster of v0 and v1: a v0 far behind v1 sits out after one round */
    const int rival[NCALLS] = {[CALL_V0] = CALL_V1, [CALL_V1] = -1, [CALL_UNFUSED] = -1, [CALL_DISPATCH] = -1,
                               [CALL_DEFAULT] = -1};
    int failed = bench_interleaved(ctx, attn_call_run, args, NCALLS, ROUNDS, rival, med);
    if (failed >= 0) {
        fprintf(stderr, "len %lld causal %d: call %d failed: %s\n", (long long)pb->S, causal, failed,
                lk_last_error(ctx));
        return 1;
    }
    double v0 = med[CALL_V0], v1 = med[CALL_V1];
    int same = bench_same_launch(&defaults, &tuned, p, CALL_UNFUSED + 1);
    *row = (bench_row){.seq_len = pb->S, .causal = causal, .head_dim = key.head_dim, .dtype = pb->dtype,
                       .fused_ms = v0 < v1 ? v0 : v1, .unfused_ms = med[CALL_UNFUSED],
                       .dispatch_ms = med[same >= 0 ? same : CALL_DISPATCH], .dispatch_timed_ms = med[CALL_DISPATCH],
                       .default_ms = med[CALL_DEFAULT], .dispatch_variant = lk_params_get(&tuned, "VARIANT", -1)};
    row->flops = 4.0 * (double)(pb->B * pb->Hq) * (double)pb->S * (double)pb->S * (double)pb->D * (causal ? 0.5 : 1.0);
    fprintf(stderr,
            "len %lld causal %d: fused %.3f (v0 %.3f, v1 %.3f) unfused %.3f dispatch %.3f (timed %.3f) default %.3f ms"
            " [dispatch from %s, same launch as v%d; own best tiles: v0 %s, v1 %s, v2 %s]\n",
            (long long)pb->S, causal, row->fused_ms, v0, v1, row->unfused_ms, row->dispatch_ms, row->dispatch_timed_ms,
            row->default_ms, lk_param_source_name(where.source), same, own[0] ? "yes" : "no", own[1] ? "yes" : "no", own[2] ? "yes" : "no");
    return 0;
}

int bench_attention_fwd(lk_context *ctx, const bench_opts *o)
{
    int cpu = lk_context_device(ctx)->type == LK_DEVICE_CPU, head_dim = o->head_dim ? o->head_dim : 128;
    int heads = attn_heads(ctx, &o->shape), batch = tune_batch(&o->shape);
    int64_t lo = o->lo, hi = o->hi, lengths[MAX_LENGTHS];
    if (!lo && cli_range(cpu ? "512:16384" : "512:131072", &lo, &hi) == 0)
        printf("note: default --seq %lld:%lld on this %s device\n", (long long)lo, (long long)hi, cpu ? "CPU" : "GPU");
    char header[2048], slug[256], dir[1024], name[64];
    cli_describe(ctx, o->argc, o->argv, header, sizeof header);
    size_t k = strlen(header);
    snprintf(header + k, sizeof header - k,
             "\nproblem: B=%d H=%d (Hkv=H), D=%d, %s, RoPE theta 10000; each variant with its own best tiles;"
             " median of %d interleaved rounds (the fully fused variant, if %.2fx slower than the K pre-pass in"
             " the first, sits out the others)",
             batch, heads, head_dim, lk_dtype_name(o->dtype), ROUNDS, BENCH_RETIRE_FACTOR);
    cli_device_slug(ctx, slug, sizeof slug);
    snprintf(dir, sizeof dir, "%s/%s", o->out, slug);
    /* the hd128 table is the notes' table; other head dims get their own files */
    snprintf(name, sizeof name, head_dim == 128 ? "attention_fwd" : "attention_fwd_hd%d", head_dim);
    const char *device = lk_context_device(ctx)->name;
    lk_db *db = bench_open_db(o);
    int nlen = cli_lengths(lo, hi, lengths, MAX_LENGTHS), nrows = 0, fails = 0;
    bench_row rows[2 * MAX_LENGTHS];
    for (int l = 0; l < nlen; l++) {
        attn_problem pb;
        if (!attn_problem_fits(ctx, o->dtype, batch, heads, heads, lengths[l], head_dim))
            continue;
        if (attn_problem_create(ctx, o->dtype, batch, heads, heads, lengths[l], head_dim, 1, 0, &pb) != LK_OK) {
            fprintf(stderr, "len %lld: cannot set up inputs: %s\n", (long long)lengths[l], lk_last_error(ctx));
            fails++;
            continue;
        }
        for (int c = 0; c < o->nflags; c++)
            if (bench_one(ctx, db, &pb, o->flags[c], &rows[nrows]) == 0)
                bench_report_files(dir, name, device, header, rows, ++nrows, nlen * o->nflags);
            else
                fails++;
        attn_problem_free(&pb);
    }
    lk_db_close(db);
    return bench_report(dir, name, device, header, rows, nrows) || fails;
}
