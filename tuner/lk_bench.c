/* lk-bench: an op's benchmark table (see op.h; each op's bench_<op>.c says what it measures).
 *   lk-bench [--op attention_fwd] [--device SPEC] [--seq LO:HI] [--head-dim D] [--dtype f16|f32]
 *            [--causal 0|1|both] [--heads H] [--batch B] [--out results] [--db PATH]
 * Default --seq: the op's range (attention_fwd: 512:131072 on GPUs, 512:16384 on CPUs; on a 2-core
 * machine the 8K and 16K rows take about 25 minutes, estimated from the 4K row's 1.2 s calls, so
 * the main job passes 512:4096). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "op.h"

static int usage(const char *why)
{
    char names[256];
    tune_op_names(names, sizeof names, 1);
    fprintf(stderr,
            "%s%slk-bench [--op NAME] [--device SPEC] [--seq LO:HI] [--head-dim D] [--dtype f16|f32]\n"
            "         [--causal 0|1|both] [--heads H] [--batch B] [--out results] [--db PATH]\n"
            "ops: %s (default attention_fwd)\n",
            why ? why : "", why ? "\n" : "", names);
    return 2;
}

int main(int argc, char **argv)
{
    const char *device = NULL, *seq = NULL, *dtype = "f16", *flags = "both", *op_name = "attention_fwd";
    bench_opts o = {.out = "results", .argc = argc, .argv = argv};
    cli_line_buffered();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            return usage(NULL) - 2;
        if (!v)
            return usage("missing value or unknown option");
        if (!strcmp(a, "--op"))
            op_name = v;
        else if (!strcmp(a, "--device"))
            device = v;
        else if (!strcmp(a, "--seq"))
            seq = v;
        else if (!strcmp(a, "--head-dim")) {
            if (cli_count(v, 1, 256, &o.head_dim))
                return usage("bad --head-dim (1..256)");
        }
        else if (!strcmp(a, "--dtype"))
            dtype = v;
        else if (!strcmp(a, "--causal") || !strcmp(a, "--flag"))
            flags = v;
        else if (!strcmp(a, "--heads")) {
            if (cli_count(v, 1, 65535, &o.shape.heads))
                return usage("bad --heads (1..65535)");
        } else if (!strcmp(a, "--batch")) {
            if (cli_count(v, 1, 65535, &o.shape.batch))
                return usage("bad --batch (1..65535)");
        }
        else if (!strcmp(a, "--out"))
            o.out = v;
        else if (!strcmp(a, "--db")) {
            o.db = v;
            setenv("LK_TUNING_DB", v, 1); /* the dispatch reads the database through the lookup layers */
        } else
            return usage("unknown option");
        i++;
    }
    const tune_op *op = tune_op_find(op_name, 1);
    lk_dtype dtypes[2];
    if (!op)
        return usage("unknown --op");
    if (cli_dtypes(dtype, dtypes) != 1 || !(o.nflags = cli_pair(flags, 0, 1, o.flags)) || o.head_dim < 0 ||
        o.shape.heads < 0 || o.shape.batch < 0 || (seq && cli_range(seq, &o.lo, &o.hi)))
        return usage("bad option value");
    o.dtype = dtypes[0];
    lk_context *ctx = cli_open(device);
    if (!ctx)
        return 1;
    int rc = op->bench(ctx, &o);
    lk_context_destroy(ctx);
    return rc;
}
