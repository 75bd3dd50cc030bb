/* lk-tune: search an op's kernel parameters per device and length bucket and record every
 * candidate in the tuning database (see tune.h, op.h).
 *   lk-tune [--device SPEC] [--op NAME] [--family F|both] [--dtype f16|f32|both] [--head-dim D|both]
 *           [--causal|--flag F|both] [--seq LO:HI] [--budget 10m] [--strategy exhaustive|random|budget]
 *           [--fraction F] [--db PATH] [--force] [--dry-run] [--export FILE.csv] [--import FILE.csv]
 *           [--heads H] [--batch B] [--only NAME=V[,NAME=V]] [--wait]
 * --only holds parameters at one value each (the space narrowed to the candidates that match,
 * e.g. --only MMA=2 to tune the wgmma forward alone; nothing is recorded for the others, so a
 * later full run still times them); a name or value outside a key's space is an error.
 * Before timing on a GPU, worker copies of lk-tune (--warm-worker I/N/DEADLINE, internal) build
 * the candidates' kernels in parallel (warm.h); their time counts against --budget, and they
 * start no new compile past half of it.
 * Defaults come from the op: attention_fwd tunes families plain and rope (in that order: plain's
 * best at a length seeds rope's search there), head_dim 128, causal both, lengths 512:131072 on
 * GPUs and 512:4096 on CPUs. --family both: every family of the op.
 * --causal is the op's flag (--flag is the same option): causal 0|1 for attention, the group G
 * for kivi_decode, the rank for lowrank_decode; "both" is the op's two flag choices.
 * --import runs before the search and --export after it; given alone (no --seq, --strategy,
 * --budget, --fraction, --force or --only) they only import or export.
 * One tuner per (database, device): a run that times takes a lock first (tune_lock.h); when
 * another lk-tune holds it, this one exits with status 75 naming that one's pid, or with --wait
 * waits for it to finish and then resumes (skipping what it recorded). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "progress.h"
#include "tune.h"
#include "tune_lock.h"
#include "warm.h"

static int usage(const char *why)
{
    char names[256];
    tune_op_names(names, sizeof names, 0);
    fprintf(stderr,
            "%s%slk-tune [--device SPEC] [--op NAME] [--family F|both] [--dtype f16|f32|both]\n"
            "        [--head-dim D|both] [--causal|--flag F|both] [--seq LO:HI] [--budget 10m]\n"
            "        [--strategy exhaustive|random|budget] [--fraction F] [--db PATH] [--force]\n"
            "        [--dry-run] [--export FILE.csv] [--import FILE.csv] [--heads H] [--batch B]\n"
            "        [--only NAME=V[,NAME=V]]  (hold parameters at one value, e.g. --only MMA=2)\n"
            "        [--wait]  (for another lk-tune on this device and database, see below)\n"
            "--import runs before the search, --export after it; alone, they only import/export\n"
            "one tuner per database and device: while another lk-tune times this device into this\n"
            "database (a lock on DB.lock), exit at once with status 75, or with --wait, wait for it\n"
            "to finish, then go on (skipping what it recorded)\n"
            "ops: %s (default attention_fwd)\n",
            why ? why : "", why ? "\n" : "", names);
    return 2;
}

/* The file's own device lines name the devices of its rows: the header names no device (that of
 * the machine exporting was mistaken for the data's). */
static int export_csv(lk_db *db, const char *db_path, const char *file, int argc, char **argv)
{
    char comment[2048];
    cli_describe_command(argc, argv, comment, sizeof comment);
    if (lk_db_export_csv_file(db, file, comment) != LK_OK) {
        fprintf(stderr, "export to %s failed (an existing file is left as it was): %s\n", file, lk_db_error(db));
        return 1;
    }
    printf("exported %s to %s\n", db_path, file);
    return 0;
}

static int import_csv(lk_db *db, const char *db_path, const char *file)
{
    FILE *f = fopen(file, "r");
    if (!f) {
        perror(file);
        return 1;
    }
    int rows = 0;
    lk_status st = lk_db_import_csv(db, f, file, &rows);
    fclose(f);
    if (st != LK_OK) {
        fprintf(stderr, "import failed: %s\n", lk_db_error(db));
        return 1;
    }
    printf("imported %d rows from %s into %s\n", rows, file, db_path);
    return 0;
}

int main(int argc, char **argv)
{
    tune_opts o = {.fraction = 0.25, .budget_s = 600.0};
    cli_line_buffered();
    const char *device = NULL, *db_path = NULL, *export_file = NULL, *import_file = NULL, *family = "both";
    const char *dtype = "f16", *head_dim = NULL, *flag = NULL, *seq = NULL, *strategy = "exhaustive";
    const char *op_name = "attention_fwd";
    double warm_deadline = 0.0;
    int dry_run = 0, warm_index = -1, warm_count = 0, search_asked = 0; /* --seq/--strategy/... given */
    int wait = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (!strcmp(a, "--force"))
            o.force = 1, takes = 0, search_asked = 1;
        else if (!strcmp(a, "--dry-run"))
            dry_run = 1, takes = 0;
        else if (!strcmp(a, "--wait"))
            wait = 1, takes = 0;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            return usage(NULL) - 2;
        else if (!v)
            return usage("missing value or unknown option");
        else if (!strcmp(a, "--device"))
            device = v;
        else if (!strcmp(a, "--op"))
            op_name = v;
        else if (!strcmp(a, "--family"))
            family = v;
        else if (!strcmp(a, "--dtype"))
            dtype = v;
        else if (!strcmp(a, "--head-dim"))
            head_dim = v;
        else if (!strcmp(a, "--causal") || !strcmp(a, "--flag"))
            flag = v;
        else if (!strcmp(a, "--seq"))
            seq = v, search_asked = 1;
        else if (!strcmp(a, "--budget")) {
            search_asked = 1;
            if ((o.budget_s = cli_duration(v)) < 0)
                return usage("bad --budget (90s, 10m, 1h)");
        } else if (!strcmp(a, "--strategy"))
            strategy = v, search_asked = 1;
        else if (!strcmp(a, "--fraction")) {
            search_asked = 1;
            if (cli_real(v, &o.fraction) || !(o.fraction > 0.0 && o.fraction <= 1.0))
                return usage("--fraction must be in (0, 1]");
        } else if (!strcmp(a, "--db"))
            db_path = v;
        else if (!strcmp(a, "--export"))
            export_file = v;
        else if (!strcmp(a, "--import"))
            import_file = v;
        else if (!strcmp(a, "--warm-worker")) {
            if (sscanf(v, "%d/%d/%lf", &warm_index, &warm_count, &warm_deadline) != 3 || warm_index < 0 ||
                warm_index >= warm_count)
                return usage("bad --warm-worker");
        } else if (!strcmp(a, "--only")) {
            search_asked = 1;
            if (lk_params_parse(v, &o.only) != LK_OK || o.only.n == 0)
                return usage("bad --only (NAME=V[,NAME=V], e.g. MMA=2)");
        } else if (!strcmp(a, "--heads")) {
            if (cli_count(v, 1, 65535, &o.shape.heads))
                return usage("bad --heads (1..65535)");
        } else if (!strcmp(a, "--batch")) {
            if (cli_count(v, 1, 65535, &o.shape.batch))
                return usage("bad --batch (1..65535)");
        } else
            return usage("unknown option");
        i += takes;
    }

    int64_t lo, hi;
    if (!(o.op = tune_op_find(op_name, 0)))
        return usage("unknown --op");
    o.nfamilies = 0;
    for (int f = 0; f < o.op->nfamilies; f++)
        if (!strcmp(family, "both") || !strcmp(family, o.op->families[f]))
            o.families[o.nfamilies++] = o.op->families[f];
    o.strategy = !strcmp(strategy, "exhaustive") ? TUNE_EXHAUSTIVE : !strcmp(strategy, "random") ? TUNE_RANDOM
                 : !strcmp(strategy, "budget")   ? TUNE_BUDGET : -1;
    const int *hd = o.op->head_dim_choices;
    if (!o.nfamilies)
        return usage("bad --family (one of the op's families, or both)");
    if ((int)o.strategy < 0)
        return usage("bad --strategy (exhaustive, random, budget)");
    if (!(o.ndtypes = cli_dtypes(dtype, o.dtypes)))
        return usage("bad --dtype (f16, f32, both)");
    if (!(o.nhead_dims = cli_pair(head_dim ? head_dim : o.op->head_dims, hd[0], hd[1], o.head_dims)))
        return usage("bad --head-dim (one of the op's two, or both)");
    if (!(o.nflags = o.op->flag_name ? cli_pair(flag ? flag : o.op->flags, o.op->flag_choices[0],
                                                 o.op->flag_choices[1], o.flags)
                                     : (o.flags[0] = 0, 1)))
        return usage("bad --flag / --causal (one of the op's two, or both)");
    if (seq && cli_range(seq, &lo, &hi))
        return usage("bad --seq (LO:HI or N, 1 <= LO <= HI <= 2^40)");

    lk_context *ctx = cli_open(device);
    if (!ctx)
        return 1;
    if (!seq && cli_range(lk_context_device(ctx)->type == LK_DEVICE_CPU ? o.op->seq_cpu : o.op->seq_gpu, &lo, &hi)) {
        lk_context_destroy(ctx);
        return usage("the op's default length range is malformed");
    }
    int rc = 0;
    lk_tune_key *keys = malloc(TUNE_MAX_KEYS * sizeof *keys);
    o.nlengths = cli_lengths(lo, hi, o.lengths, 64);
    int nkeys = keys ? tune_keys(ctx, &o, keys, TUNE_MAX_KEYS) : 0;
    if (o.only.n && tune_check_only(ctx, &o, keys, nkeys) != 0) {
        free(keys);
        lk_context_destroy(ctx);
        return usage("--only does not fit the keys' spaces");
    }
    char path[1024], err[512];
    if (!db_path)
        db_path = lk_tunedb_default_path(path, sizeof path);
    if (warm_index >= 0) {
        lk_db *db = NULL; /* read only, to skip what is measured; a missing database is no error */
        if (db_path[0])
            lk_db_open(db_path, 0, &db, err, sizeof err);
        rc = tune_warm_worker(ctx, db, &o, keys, nkeys, warm_index, warm_count, warm_deadline);
        lk_db_close(db);
    } else if (dry_run) {
        tune_dry_run(ctx, &o, keys, nkeys);
    } else {
        lk_db *db = NULL;
        tune_lock lock = {.fd = -1};
        int export_only = export_file && !import_file && !search_asked; /* reads only: the file stays as it is */
        if (!db_path[0] || lk_db_open(db_path, !export_only, &db, err, sizeof err) != LK_OK) {
            fprintf(stderr, "cannot open the tuning database '%s': %s\n", db_path, db_path[0] ? err : "no path");
            rc = 1;
        } else {
            /* --import first, the search (unless only --import/--export was asked), --export last;
             * a search first takes the (database, device) lock, held until the end */
            int search = search_asked || !(import_file || export_file);
            rc = search ? tune_lock_acquire(&lock, db_path, lk_context_device(ctx), wait) : 0;
            if (!rc && import_file)
                rc = import_csv(db, db_path, import_file);
            if (!rc && search) {
                printf("device: %s; database: %s\n", lk_context_device(ctx)->name, db_path);
                double t0 = now_s();
                tune_warm(ctx, &o, keys, nkeys, argc, argv, o.strategy == TUNE_BUDGET ? o.budget_s / 2.0 : 0.0);
                o.budget_s -= now_s() - t0;
                rc = tune_run(ctx, db, &o, keys, nkeys);
            }
            if (!rc && export_file)
                rc = export_csv(db, db_path, export_file, argc, argv);
        }
        lk_db_close(db);
        tune_lock_release(&lock);
    }
    free(keys);
    lk_context_destroy(ctx);
    return rc;
}
