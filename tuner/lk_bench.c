/* lk-bench: the fused-RoPE table. For each length and causal setting, the forward time of the
 * best fused variant (VARIANT 0 or 1, Q rotated in the kernel), the unfused path (VARIANT 2),
 * the tuned dispatch (lk_attention_fwd, the database picks), and the untuned default; tiles of
 * the variants come from the database when it has them for the key (else the defaults).
 *   lk-bench [--device SPEC] [--seq LO:HI] [--head-dim 64|128] [--dtype f16|f32] [--causal 0|1|both]
 *            [--heads H] [--batch B] [--out results] [--db PATH]
 * Default --seq: 512:131072 on GPUs, 512:4096 on CPUs (a 2-core CPU takes minutes beyond). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_report.h"
#include "cli.h"
#include "ops/attention_fwd.h"
#include "problem.h"
#include "timing.h"

#define MAX_LENGTHS 32

static int usage(const char *why)
{
    fprintf(stderr,
            "%s\nlk-bench [--device SPEC] [--seq LO:HI] [--head-dim 64|128] [--dtype f16|f32] [--causal 0|1|both]\n"
            "         [--heads H] [--batch B] [--out results] [--db PATH]\n"
            "default --seq: 512:131072 on GPUs, 512:4096 on CPUs\n",
            why);
    return 2;
}

/* Median ms of one call: lk_attention_fwd_run with `tuned`, or the public entry (tuned NULL). */
static double time_call(lk_context *ctx, attn_problem *pb, const lk_attention_params *ap, const lk_params *tuned)
{
    attn_call call = {pb, *ap, tuned};
    timing tm;
    if (time_op(ctx, attn_call_run, &call, 0.0, &tm) != LK_OK) {
        fprintf(stderr, "run failed: %s\n", lk_last_error(ctx));
        return -1.0;
    }
    return tm.median_ms;
}

static double time_variant(lk_context *ctx, attn_problem *pb, const lk_attention_params *ap, const lk_params *tuned,
                           int variant)
{
    lk_params p = *tuned;
    lk_params_set(&p, "VARIANT", variant);
    return time_call(ctx, pb, ap, &p);
}

/* One row: the four timings for (length, causal) over problem pb. 0 on success. */
static int bench_one(lk_context *ctx, attn_problem *pb, int causal, bench_row *row)
{
    lk_rope_params rope = lk_rope_params_default();
    lk_tune_key key = {.op = "attention_fwd", .family = "rope", .dtype = pb->dtype, .head_dim = (int)pb->D,
                       .flag = causal, .length = pb->S};
    lk_attention_params ap;
    attn_params_for_key(&key, &rope, &ap);
    lk_params defaults, tuned;
    lk_lookup_result where;
    lk_attention_fwd_defaults(lk_context_device(ctx), key.head_dim, &defaults);
    lk_tuned_params(ctx, &key, &defaults, &tuned, &where);
    double v0 = time_variant(ctx, pb, &ap, &tuned, 0), v1 = time_variant(ctx, pb, &ap, &tuned, 1);
    *row = (bench_row){.seq_len = pb->S, .causal = causal, .head_dim = key.head_dim, .dtype = pb->dtype,
                       .fused_ms = v0 < v1 ? v0 : v1,
                       .unfused_ms = time_variant(ctx, pb, &ap, &tuned, 2),
                       .dispatch_ms = time_call(ctx, pb, &ap, NULL),
                       .default_ms = time_call(ctx, pb, &ap, &defaults)};
    row->flops = 4.0 * (double)(pb->B * pb->Hq) * (double)pb->S * (double)pb->S * (double)pb->D * (causal ? 0.5 : 1.0);
    fprintf(stderr, "len %lld causal %d: fused %.3f (v0 %.3f, v1 %.3f) unfused %.3f dispatch %.3f default %.3f ms"
                    " [tiles from %s]\n",
            (long long)pb->S, causal, row->fused_ms, v0, v1, row->unfused_ms, row->dispatch_ms, row->default_ms,
            lk_param_source_name(where.source));
    return v0 < 0 || v1 < 0 || row->unfused_ms < 0 || row->dispatch_ms < 0 || row->default_ms < 0;
}

int main(int argc, char **argv)
{
    const char *device = NULL, *seq = NULL, *dtype = "f16", *causal_s = "both", *out = "results";
    int head_dim = 128, heads = 0, batch = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            return usage("") - 2;
        if (!v)
            return usage("missing value or unknown option");
        if (!strcmp(a, "--device"))
            device = v;
        else if (!strcmp(a, "--seq"))
            seq = v;
        else if (!strcmp(a, "--head-dim"))
            head_dim = atoi(v);
        else if (!strcmp(a, "--dtype"))
            dtype = v;
        else if (!strcmp(a, "--causal"))
            causal_s = v;
        else if (!strcmp(a, "--heads"))
            heads = atoi(v);
        else if (!strcmp(a, "--batch"))
            batch = atoi(v);
        else if (!strcmp(a, "--out"))
            out = v;
        else if (!strcmp(a, "--db"))
            setenv("LK_TUNING_DB", v, 1); /* the dispatch reads the database through the lookup layers */
        else
            return usage("unknown option");
        i++;
    }
    lk_dtype dtypes[2];
    int causal[2], ncausal = cli_pair(causal_s, 0, 1, causal);
    if (cli_dtypes(dtype, dtypes) != 1 || !ncausal || (head_dim != 64 && head_dim != 128) || heads < 0 || batch < 1)
        return usage("bad option value");
    lk_context *ctx = cli_open(device);
    if (!ctx)
        return 1;
    int cpu = lk_context_device(ctx)->type == LK_DEVICE_CPU;
    int64_t lo, hi, lengths[MAX_LENGTHS];
    if (!seq)
        printf("note: default --seq %s on this %s device\n", cpu ? "512:4096" : "512:131072", cpu ? "CPU" : "GPU");
    if (cli_range(seq ? seq : cpu ? "512:4096" : "512:131072", &lo, &hi)) {
        lk_context_destroy(ctx);
        return usage("bad --seq");
    }
    if (!heads)
        heads = cpu ? 1 : 16;
    int nlen = cli_lengths(lo, hi, lengths, MAX_LENGTHS), nrows = 0, fails = 0;
    bench_row rows[2 * MAX_LENGTHS];
    for (int l = 0; l < nlen; l++) {
        attn_problem pb;
        if (!attn_problem_fits(ctx, dtypes[0], batch, heads, heads, lengths[l], head_dim))
            continue;
        if (attn_problem_create(ctx, dtypes[0], batch, heads, heads, lengths[l], head_dim, 1, 0, &pb) != LK_OK) {
            fprintf(stderr, "len %lld: cannot set up inputs: %s\n", (long long)lengths[l], lk_last_error(ctx));
            fails++;
            continue;
        }
        for (int c = 0; c < ncausal; c++)
            if (bench_one(ctx, &pb, causal[c], &rows[nrows]) == 0)
                nrows++;
            else
                fails++;
        attn_problem_free(&pb);
    }
    char header[2048], slug[256], dir[1024];
    cli_describe(ctx, argc, argv, header, sizeof header);
    size_t k = strlen(header);
    snprintf(header + k, sizeof header - k, "\nproblem: B=%d H=%d (Hkv=H), D=%d, %s, RoPE theta 10000", batch, heads,
             head_dim, lk_dtype_name(dtypes[0]));
    cli_device_slug(ctx, slug, sizeof slug);
    snprintf(dir, sizeof dir, "%s/%s", out, slug);
    int rc = bench_report(dir, lk_context_device(ctx)->name, header, rows, nrows) || fails;
    lk_context_destroy(ctx);
    return rc;
}
