/* The tuner end to end on the OpenCL device: a tiny tuning run whose best row reaches the
 * runtime's launch, resume after a tuner killed with SIGKILL, and --dry-run; the same launch
 * check and the spaces of the quantized-cache decode ops; a space past its limits stops; one
 * tuner per database and device (the lock of tune_lock.h). lk-tune runs as a child process
 * (build/tuner/lk-tune, found next to this test's executable). */
#define _GNU_SOURCE
#include <dirent.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "harness.h"
#include "ops/attention_fwd.h"
#include "params.h"
#include "progress.h"
#include "space.h"
#include "tune.h"
#include "tune_lock.h"
#include "tunedb/db.h"

/* build/REL (a program of the build tree), beside this test's executable; skips the test when it
 * is not built. Static storage: the next call overwrites it. */
static const char *built(const char *rel)
{
    static char path[4096];
    char exe[4000];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    cr_assert(n > 0);
    exe[n] = '\0';
    snprintf(path, sizeof path, "%s/%s", dirname(exe), rel);
    if (access(path, X_OK) != 0)
        cr_skip_test("%s not built", path);
    return path;
}

/* build/tuner/TOOL (lk-tune or lk-bench). */
static const char *tool_path(const char *tool)
{
    char rel[256];
    snprintf(rel, sizeof rel, "tuner/%s", tool);
    return built(rel);
}

static const char *device_spec(void)
{
    const char *s = getenv("LK_TEST_OPENCL");
    return s && *s ? s : "opencl";
}

/* Starts argv (NULL-terminated); its stdout and stderr go to the returned pipe's read end (*fd). */
static pid_t start_argv(const char *const *argv, int *fd)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(p[1], 1);
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(p[1]);
    *fd = p[0];
    return pid;
}

/* Starts tool (lk-tune or lk-bench) with args (NULL-terminated, after the device), as start_argv. */
static pid_t start_tool(const char *tool, const char *const *args, int *fd)
{
    const char *argv[64] = {tool_path(tool), "--device", device_spec()};
    int n = 3;
    for (int i = 0; args[i] && n < 63; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    return start_argv(argv, fd);
}

/* Runs the started process to the end; returns its exit status with its output in out. */
static int finish(pid_t pid, int fd, char *out, size_t n)
{
    size_t k = 0;
    for (ssize_t r; k + 1 < n && (r = read(fd, out + k, n - 1 - k)) > 0;)
        k += (size_t)r;
    out[k] = '\0';
    close(fd);
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Runs tool to the end; returns its exit status with its output in out. */
static int run_tool(const char *tool, const char *const *args, char *out, size_t n)
{
    int fd;
    pid_t pid = start_tool(tool, args, &fd);
    return finish(pid, fd, out, n);
}

static int run_tune(const char *const *args, char *out, size_t n)
{
    return run_tool("lk-tune", args, out, n);
}

static void temp_dir(char *dir)
{
    strcpy(dir, "/tmp/lk-tuner-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

/* The number of measurements in db, from lk_db_show's counts by status. */
static long count_measurements(lk_db *db)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_eq(lk_db_show(db, f), LK_OK);
    fclose(f);
    long total = 0;
    char *m = strstr(text, "measurements:"), *end = strstr(text, "\nbest");
    for (char *line = m ? strchr(m, '\n') : NULL; line && (!end || line < end); line = strchr(line + 1, '\n')) {
        char status[32];
        long c;
        if (sscanf(line + 1, "%31s %ld", status, &c) == 2)
            total += c;
    }
    free(text);
    return total;
}

/* Runs lk-tune with args into db_path, points the runtime at that database (and nothing else),
 * opens the OpenCL test context and reads the best row of key from the file: it must exist at
 * bucket 128 and the file must be consistent. Returns the context; *best gets the row. */
static lk_context *tune_then_open(const char *const *args, const char *dir, const char *db_path,
                                  const lk_tune_key *key, lk_params *best, char *out, size_t n)
{
    cr_assert_eq(run_tune(args, out, n), 0, "lk-tune failed:\n%s", out);
    setenv("LK_TUNING_DB", db_path, 1);
    setenv("LK_SYSTEM_DB", "", 1);
    setenv("XDG_DATA_HOME", dir, 1);
    lk_context *ctx = lkt_open(LKT_OPENCL);
    lk_db *db = NULL;
    char err[256];
    cr_assert_eq(lk_db_open(db_path, 0, &db, err, sizeof err), LK_OK, "%s", err);
    int64_t bucket = 0;
    int found = 0;
    *best = (lk_params){0};
    cr_assert_eq(lk_db_lookup(db, lk_context_device(ctx), key, LK_MATCH_EXACT, best, &bucket, &found), LK_OK);
    cr_assert(found && bucket == 128, "no best row for the tuned key:\n%s", out);
    cr_assert_eq(lk_db_check(db), LK_OK, "%s", lk_db_error(db));
    lk_db_close(db);
    return ctx;
}

Test(tuner, tiny_run_reaches_the_launch, .timeout = 120)
{
    char dir[64], db_path[128], csv_path[128], out[65536];
    temp_dir(dir);
    snprintf(db_path, sizeof db_path, "%s/t.db", dir);
    snprintf(csv_path, sizeof csv_path, "%s/t.csv", dir);
    /* the OpenCL device the test's context opens (the default device may be a CUDA one) */
    const char *device = getenv("LK_TEST_OPENCL") ? getenv("LK_TEST_OPENCL") : "opencl";
    const char *args[] = {"--device", device, "--dtype", "f32", "--head-dim", "64", "--causal", "1", "--family", "rope",
                          "--seq", "128:128", "--strategy", "random", "--fraction", "0.1", "--db", db_path,
                          "--export", csv_path, NULL};
    lk_tune_key key = {.op = "attention_fwd", .family = "rope", .dtype = LK_F32, .head_dim = 64, .flag = 1,
                       .length = 100};
    lk_params best;
    lk_context *ctx = tune_then_open(args, dir, db_path, &key, &best, out, sizeof out);
    /* the RoPE paths' leaders were timed again side by side, and the best row is one of them */
    char *fin = strstr(out, "final round"), want[32];
    snprintf(want, sizeof want, "VARIANT=%d ", lk_params_get(&best, "VARIANT", -1));
    cr_expect(fin && strstr(fin, want), "no final round with the best's VARIANT:\n%s", out);
    /* --export with a search: searched first, then exported */
    FILE *csv = fopen(csv_path, "r");
    char line[1024];
    int rows = 0;
    while (csv && fgets(line, sizeof line, csv))
        rows += strstr(line, ",attention_fwd,rope,f32,64,1,128,") != NULL;
    if (csv)
        fclose(csv);
    cr_expect_eq(rows, 1, "the export after the search holds %d rows of the tuned key:\n%s", rows, out);

    /* a candidate its constraints reject before compiling (a cos/sin table off the fully fused
     * variant) is not stored: such rows once grew a database by ~100 000 a re-tune */
    lk_params table_off_fused = best;
    lk_params_set(&table_off_fused, "VARIANT", 1);
    lk_params_set(&table_off_fused, "ROPE_TABLE", 1);
    lk_db *db = NULL;
    char err[256];
    int stored = 1;
    cr_assert_eq(lk_db_open(db_path, 0, &db, err, sizeof err), LK_OK, "%s", err);
    cr_assert_eq(lk_db_measured(db, lk_context_device(ctx), &key, &table_off_fused, NULL, &stored), LK_OK);
    lk_db_close(db);
    cr_expect(!stored, "a candidate rejected by table_only_fused was stored:\n%s", out);

    /* the runtime uses it for S = 100 (bucket 128) */
    int64_t qs[4] = {1, 2, 100, 64}, ks[4] = {1, 1, 100, 64};
    float *q = malloc(sizeof(float) * 12800), *k = malloc(sizeof(float) * 6400), *v = malloc(sizeof(float) * 6400);
    lkt_rng rng = lkt_rng_make(lkt_seed(), 7);
    lkt_fill(&rng, q, 12800);
    lkt_fill(&rng, k, 6400);
    lkt_fill(&rng, v, 6400);
    lkt_tensor tq = lkt_upload(ctx, LK_F32, LKT_CONTIGUOUS, qs, q), tk = lkt_upload(ctx, LK_F32, LKT_CONTIGUOUS, ks, k);
    lkt_tensor tv = lkt_upload(ctx, LK_F32, LKT_CONTIGUOUS, ks, v), to = lkt_zeros(ctx, LK_F32, 4, qs);
    lk_rope_params rope = lk_rope_params_default();
    lk_attention_params ap = lk_attention_params_default();
    ap.causal = 1;
    ap.rope = &rope;
    LKT_OK(ctx, lk_attention_fwd(ctx, &tq.t, &tk.t, &tv.t, &to.t, NULL, &ap));
    LKT_OK(ctx, lk_sync(ctx));
    const char *launch = lk_last_launch(ctx);
    const char *names[] = {"BLOCK_M", "BLOCK_N", "STAGES", "VARIANT"};
    for (int i = 0; i < 4; i++) {
        char want[48];
        snprintf(want, sizeof want, " %s=%d ", names[i], lk_params_get(&best, names[i], -1));
        cr_expect(strstr(launch, want), "launch '%s' lacks '%s'", launch, want);
    }
    cr_expect(strstr(launch, "source=env-db"), "launch '%s' did not use the tuning DB", launch);
    lkt_free(&tq);
    lkt_free(&tk);
    lkt_free(&tv);
    lkt_free(&to);
    free(q);
    free(k);
    free(v);
    lk_context_destroy(ctx);
}

Test(tuner, resumes_after_sigkill, .timeout = 180)
{
    char dir[64], db_path[128], out[65536];
    temp_dir(dir);
    snprintf(db_path, sizeof db_path, "%s/r.db", dir);
    /* no program cache: every candidate compiles, so the second key is still running when killed */
    setenv("LK_CACHE_DIR", "", 1);
    const char *args[] = {"--dtype", "f32", "--head-dim", "both", "--causal", "both", "--family", "plain", "--seq",
                          "128:128", "--strategy", "random", "--fraction", "0.15", "--db", db_path, NULL};
    int fd;
    pid_t pid = start_tool("lk-tune", args, &fd);
    /* wait for the first key's result line, then kill the tuner inside the second key: the
     * resumed run must skip the first key (its planned candidates are all measured) */
    FILE *f = fdopen(fd, "r");
    char line[1024], first[256] = "";
    while (fgets(line, sizeof line, f))
        if (strstr(line, ": best ")) {
            snprintf(first, sizeof first, "%.*s", (int)(strstr(line, ": best ") - line), line);
            break;
        }
    nanosleep(&(struct timespec){0, 100000000}, NULL);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    fclose(f);
    cr_assert(first[0], "the tuner printed no key result before being killed");
    cr_expect(WIFSIGNALED(status), "the tuner finished before the kill; the test did not interrupt it");

    lk_db *db = NULL;
    char err[256];
    cr_assert_eq(lk_db_open(db_path, 0, &db, err, sizeof err), LK_OK, "%s", err);
    cr_assert_eq(lk_db_check(db), LK_OK, "after SIGKILL: %s", lk_db_error(db));
    long before = count_measurements(db);
    lk_db_close(db);
    cr_assert_gt(before, 0);

    cr_assert_eq(run_tune(args, out, sizeof out), 0, "resumed lk-tune failed:\n%s", out);
    char skipped[300];
    snprintf(skipped, sizeof skipped, "%s: already tuned, skipped", first);
    cr_expect(strstr(out, skipped), "the resumed run did not skip '%s':\n%s", first, out);
    cr_expect(strstr(out, ": best "), "the resumed run tuned nothing:\n%s", out);

    cr_assert_eq(lk_db_open(db_path, 0, &db, err, sizeof err), LK_OK, "%s", err);
    cr_expect_eq(lk_db_check(db), LK_OK, "after resuming: %s", lk_db_error(db));
    cr_expect_gt(count_measurements(db), before);
    lk_db_close(db);
}

/* An op's space past the limits of tuner/space.h (its definition, never user input) stops the tuner
 * with a message instead of writing past the arrays. */
Test(tuner, a_space_past_its_limits_aborts, .signal = SIGABRT)
{
    static const int two[] = {0, 1};
    space s;
    memset(&s, 0, sizeof s);
    for (int i = 0; i <= SPACE_MAX_LISTS; i++)
        space_add_list(&s, "X", 2, two);
}

Test(tuner, dry_run_prints_the_space, .timeout = 60)
{
    char dir[64], db_path[128], out[65536];
    temp_dir(dir);
    snprintf(db_path, sizeof db_path, "%s/d.db", dir);
    /* f32: the generic kernel's space on every device (f16 on NVIDIA GPUs is the tensor-core space) */
    const char *args[] = {"--dtype", "f32", "--head-dim", "128", "--causal", "0", "--family", "rope", "--seq",
                          "64:128", "--dry-run", "--db", db_path, NULL};
    cr_assert_eq(run_tune(args, out, sizeof out), 0, "%s", out);
    cr_expect(strstr(out, "len=64:") && strstr(out, "len=128:"), "no per-key space:\n%s", out);
    cr_expect(strstr(out, "VARIANT=0,ROPE_TABLE=1,BLOCK_M=16"), "candidates missing:\n%s", out);
    cr_expect(strstr(out, "rejected by table_only_fused"), "no constraint verdicts:\n%s", out);
    struct stat st;
    cr_expect_neq(stat(db_path, &st), 0, "--dry-run created %s", db_path);
}

/* --only holds parameters at one value: the dry run lists only matching candidates, a real run
 * measures (and records) only those, and a value outside the space is an error. */
Test(tuner, only_narrows_the_space, .timeout = 120)
{
    char dir[64], db_path[128], out[65536];
    temp_dir(dir);
    snprintf(db_path, sizeof db_path, "%s/o.db", dir);
    const char *dry[] = {"--dtype", "f32", "--head-dim", "128", "--causal", "0", "--family", "rope", "--seq", "64:64",
                         "--only", "VARIANT=2,STAGES=1", "--dry-run", NULL};
    cr_assert_eq(run_tune(dry, out, sizeof out), 0, "%s", out);
    cr_expect(strstr(out, "VARIANT=2,ROPE_TABLE=0,BLOCK_M=16,BLOCK_N=8,STAGES=1"), "candidate missing:\n%s", out);
    cr_expect(!strstr(out, "VARIANT=0") && !strstr(out, "VARIANT=1") && !strstr(out, "STAGES=2"),
              "--only left other values in the space:\n%s", out);

    const char *huge[] = {"--seq", "1:99999999999999999999999", "--dry-run", NULL}; /* once looped forever */
    cr_expect_eq(run_tune(huge, out, sizeof out), 2, "a length past 2^40 was accepted:\n%s", out);
    const char *nan_budget[] = {"--seq", "64", "--budget", "nan", "--dry-run", NULL};
    cr_expect_eq(run_tune(nan_budget, out, sizeof out), 2, "a NaN budget was accepted:\n%s", out);

    const char *bad[] = {"--dtype", "f32", "--seq", "64:64", "--only", "STAGES=9", "--dry-run", NULL};
    cr_expect_eq(run_tune(bad, out, sizeof out), 2, "a value outside the space was accepted:\n%s", out);
    cr_expect(strstr(out, "STAGES=9 is not in this key's space"), "no reason given:\n%s", out);

    const char *run[] = {"--dtype", "f32", "--head-dim", "64", "--causal", "0", "--family", "plain", "--seq",
                         "64:64", "--only", "BLOCK_M=16,BLOCK_N=8,STAGES=1", "--db", db_path, NULL};
    cr_assert_eq(run_tune(run, out, sizeof out), 0, "lk-tune failed:\n%s", out);
    lk_db *db = NULL;
    char err[256];
    cr_assert_eq(lk_db_open(db_path, 0, &db, err, sizeof err), LK_OK, "%s", err);
    cr_expect_eq(count_measurements(db), 1, "--only BLOCK_M, BLOCK_N, STAGES: one candidate, %ld recorded:\n%s",
                 count_measurements(db), out);
    lk_db_close(db);
}

/* lk-tune --strategy budget over f32 hd64 non-causal attention_fwd keys into a new database
 * (its path in db_path, of db_size bytes); the output in out. */
static void budget_run(const char *family, const char *seq, const char *budget, char *db_path, size_t db_size,
                       char *out, size_t n)
{
    char dir[64];
    temp_dir(dir);
    snprintf(db_path, db_size, "%s/b.db", dir);
    const char *args[] = {"--dtype", "f32", "--head-dim", "64", "--causal", "0", "--family", family, "--seq",
                          seq, "--strategy", "budget", "--budget", budget, "--db", db_path, NULL};
    cr_assert_eq(run_tune(args, out, n), 0, "lk-tune failed:\n%s", out);
}

/* --strategy budget: the rope key starts from the plain family's best at its own length (tuned
 * just before it), and the second length from the first length's ranking. */
Test(tuner, budget_search_is_seeded_from_the_sibling_family_and_the_nearest_tuned_length, .timeout = 180)
{
    char db_path[128], out[65536];
    budget_run("both", "64:128", "60s", db_path, sizeof db_path, out, sizeof out);
    char *plain64 = strstr(out, "plain f32 hd64 causal=0 len=64: best");
    cr_assert(plain64, "the plain key at 64 found no best:\n%s", out);
    /* one candidate per RoPE path: plain's tiles on VARIANT 0, 1 and 2 */
    cr_expect(strstr(plain64, "3 candidates seeded from family plain's best at length 64"),
              "the rope key was not seeded from plain:\n%s", out);
    char *rope64 = strstr(plain64, "rope f32 hd64 causal=0 len=64: best");
    cr_assert(rope64, "the rope key at 64 found no best:\n%s", out);
    cr_expect(strstr(rope64, "seeded from the ranking at length 64"), "the second length was not seeded:\n%s", out);
}

/* A re-tune after a kernel change: the key's earlier winner (timed with other kernels, so its time
 * no longer counts) is the first candidate timed again, ahead of the default, even when the
 * budget cuts the key short. The earlier winner here is the slowest non-default candidate of a
 * first run, recorded into a new database as if older kernels had found it fastest. */
Test(tuner, a_re_tune_times_the_key_s_earlier_winner_first, .timeout = 240)
{
    char first_db[128], out[65536];
    budget_run("plain", "256:256", "20s", first_db, sizeof first_db, out, sizeof out);
    lk_tune_key key = {.op = "attention_fwd", .family = "plain", .dtype = LK_F32, .head_dim = 64, .length = 256};
    lk_context *ctx = lkt_open(LKT_OPENCL);
    const lk_device_info *dev = lk_context_device(ctx);
    lk_db *db = NULL;
    char err[256];
    lk_params ranked[64], def, def_proj = {0};
    int n = 0;
    cr_assert_eq(lk_db_open(first_db, 0, &db, err, sizeof err), LK_OK, "%s", err);
    cr_assert_eq(lk_db_ranked_ever(db, dev, &key, ranked, 64, &n), LK_OK);
    lk_db_close(db);
    lk_attention_fwd_defaults(dev, 64, &def);
    for (int i = 0; n && i < ranked[0].n; i++) /* the default on the space's lists */
        lk_params_set(&def_proj, ranked[0].v[i].name, lk_params_get(&def, ranked[0].v[i].name, ranked[0].v[i].value));
    int earlier = -1;
    for (int i = n - 1; i >= 0 && earlier < 0; i--)
        if (!lk_params_equal(&ranked[i], &def_proj))
            earlier = i;
    cr_assert(earlier > 0, "the first run measured %d candidates, none slower than another but the default:\n%s", n,
              out);

    char dir[64], db_path[160], text[512], version[256];
    temp_dir(dir);
    snprintf(db_path, sizeof db_path, "%s/old.db", dir);
    lk_params_format(&ranked[earlier], "", ",", text, sizeof text);
    lk_db_measurement m = {LK_DB_OK, text, NULL, 0.001, 0.001, 0.001, 3, "lk-tune 0.0.1 kernels older"};
    cr_assert_eq(lk_db_open(db_path, 1, &db, err, sizeof err), LK_OK, "%s", err);
    cr_assert_eq(lk_db_record(db, dev, &key, &m), LK_OK, "%s", lk_db_error(db));
    lk_db_close(db);

    const char *args[] = {"--dtype", "f32", "--head-dim", "64", "--causal", "0", "--family", "plain", "--seq",
                          "256:256", "--strategy", "budget", "--budget", "1s", "--db", db_path, NULL};
    cr_assert_eq(run_tune(args, out, sizeof out), 0, "lk-tune failed:\n%s", out);
    cr_expect(strstr(out, "1 candidate seeded from this key's earlier winner"), "not seeded:\n%s", out);
    tune_version(version, sizeof version);
    int has = 0;
    cr_assert_eq(lk_db_open(db_path, 0, &db, err, sizeof err), LK_OK, "%s", err);
    cr_assert_eq(lk_db_measured(db, dev, &key, &ranked[earlier], version, &has), LK_OK);
    lk_db_close(db);
    lk_context_destroy(ctx);
    cr_expect(has, "the earlier winner %s was not timed again:\n%s", text, out);
}

/* --strategy budget with less time than a key's space needs: the built-in default is seeded second,
 * right after the nearest tuned length's winner, so a key cut short after two candidates or more
 * has measured it (a pick is then never slower than an untuned call). */
Test(tuner, a_budget_search_cut_short_has_measured_the_default, .timeout = 180)
{
    char db_path[128], out[65536];
    budget_run("plain", "256:512", "1s", db_path, sizeof db_path, out, sizeof out);
    lk_tune_key key = {.op = "attention_fwd", .family = "plain", .dtype = LK_F32, .head_dim = 64, .length = 512};
    lk_params best = {0}, def, projected = {0};
    lk_context *ctx = lkt_open(LKT_OPENCL);
    lk_db *db = NULL;
    char err[256];
    int has = 0, found = 0;
    double ms;
    cr_assert_eq(lk_db_open(db_path, 0, &db, err, sizeof err), LK_OK, "%s", err);
    cr_assert_eq(lk_db_best_with(db, lk_context_device(ctx), &key, &projected, &best, &ms, &found), LK_OK);
    cr_assert(found, "no best row at length 512:\n%s", out);
    char *line = strstr(out, "plain f32 hd64 causal=0 len=512: best");
    int ok = 0, valid = 0;
    cr_assert(line && sscanf(strchr(line, '(') ? strchr(line, '(') : "", "(%d ok of %d valid", &ok, &valid) == 2,
              "no result line for length 512:\n%s", out);
    cr_assert(strstr(out, "seeded from the ranking at length 256 and the default"), "not seeded:\n%s", out);
    lk_attention_fwd_defaults(lk_context_device(ctx), 64, &def);
    for (int i = 0; i < best.n; i++) /* the default on the space's lists, which the best row names */
        lk_params_set(&projected, best.v[i].name, lk_params_get(&def, best.v[i].name, best.v[i].value));
    cr_assert_eq(lk_db_measured(db, lk_context_device(ctx), &key, &projected, NULL, &has), LK_OK);
    lk_db_close(db);
    lk_context_destroy(ctx);
    cr_log_info("length 512: %d of %d valid candidates measured in the budget", ok, valid);
    cr_expect(ok < 2 || has, "%d candidates measured at length 512, the default not among them:\n%s", ok, out);
}

/* The number of entries in dir (0 when it cannot be listed). */
static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d)
        closedir(d);
    return n;
}

/* A compile-ahead worker (the GPU-only warm-up, run by hand here) builds its share of the
 * candidates into the program cache and exits 0 without touching the database; one whose
 * deadline (now_s(), CLOCK_MONOTONIC) has passed builds nothing, nor does one whose database
 * has measured every candidate of its key. */
Test(tuner, compile_ahead_worker_fills_the_program_cache, .timeout = 180)
{
    char dir[64], cache[128], db_path[128], out[65536];
    temp_dir(dir);
    snprintf(cache, sizeof cache, "%s/cache", dir);
    snprintf(db_path, sizeof db_path, "%s/w.db", dir);
    setenv("LK_CACHE_DIR", cache, 1);
    const char *args[] = {"--dtype", "f32", "--head-dim", "64", "--causal", "0", "--family", "plain", "--seq",
                          "64:64", "--db", db_path, "--warm-worker", "0/6/0", NULL};
    cr_assert_eq(run_tune(args, out, sizeof out), 0, "%s", out);
    cr_expect_geq(count_files(cache), 1, "no program in %s:\n%s", cache, out);
    struct stat st;
    cr_expect_neq(stat(db_path, &st), 0, "the worker created %s", db_path);
    const char *bad[] = {"--warm-worker", "3/2/0", NULL};
    cr_expect_eq(run_tune(bad, out, sizeof out), 2, "a bad --warm-worker was accepted:\n%s", out);
    const char *no_deadline[] = {"--warm-worker", "0/2", NULL};
    cr_expect_eq(run_tune(no_deadline, out, sizeof out), 2, "--warm-worker without a deadline was accepted:\n%s", out);

    char late_cache[160];
    snprintf(late_cache, sizeof late_cache, "%s/late", dir);
    setenv("LK_CACHE_DIR", late_cache, 1);
    args[13] = "0/6/1.0"; /* one second after boot: long past */
    cr_assert_eq(run_tune(args, out, sizeof out), 0, "%s", out);
    cr_expect_neq(stat(late_cache, &st), 0, "a worker past its deadline built into %s:\n%s", late_cache, out);

    /* every candidate of the key measured: a resumed run's worker has nothing to build */
    const char *tune[] = {"--dtype", "f32", "--head-dim", "64", "--causal", "0", "--family", "plain", "--seq", "64:64",
                          "--strategy", "exhaustive", "--db", db_path, NULL};
    cr_assert_eq(run_tune(tune, out, sizeof out), 0, "%s", out);
    char done_cache[160];
    snprintf(done_cache, sizeof done_cache, "%s/done", dir);
    setenv("LK_CACHE_DIR", done_cache, 1);
    args[13] = "0/1/0";
    cr_assert_eq(run_tune(args, out, sizeof out), 0, "%s", out);
    cr_expect_neq(stat(done_cache, &st), 0, "a worker built measured candidates into %s:\n%s", done_cache, out);

    /* the random strategy times its fraction of the search order: 1 of 18 here, and the default */
    char random_cache[160];
    snprintf(random_cache, sizeof random_cache, "%s/random", dir);
    setenv("LK_CACHE_DIR", random_cache, 1);
    const char *random[] = {"--dtype", "f32", "--head-dim", "64", "--causal", "0", "--family", "plain", "--seq",
                            "64:64", "--strategy", "random", "--fraction", "0.05", "--warm-worker", "0/1/0", NULL};
    cr_assert_eq(run_tune(random, out, sizeof out), 0, "%s", out);
    int built = count_files(random_cache);
    cr_expect(built >= 1 && built <= 2, "%d programs for the default and one candidate:\n%s", built, out);
    setenv("LK_CACHE_DIR", cache, 1);
}

/* The quantized-cache decode ops: both spaces print, and a tiny kivi_decode run's best row
 * reaches lk_kivi_attention's launch for a cache of the tuned key (k2v2, G = 32, bucket 128). */
Test(tuner, kivi_ops_reach_the_launch, .timeout = 180)
{
    char dir[64], db_path[128], out[65536];
    temp_dir(dir);
    snprintf(db_path, sizeof db_path, "%s/k.db", dir);
    const char *dry[] = {"--op", "lowrank_decode", "--dtype", "f32", "--seq", "128:128", "--dry-run", NULL};
    cr_assert_eq(run_tune(dry, out, sizeof out), 0, "%s", out);
    cr_expect(strstr(out, "lowrank_decode k2v2 f32 hd128 rank=64 len=128:") &&
                  strstr(out, "lowrank_decode k8v8 f32 hd128 rank=64 len=128:"),
              "no per-family space:\n%s", out);
    /* candidate rows: which values depends on the device (a CPU's SPLITS 1 and 16, a GPU's 0 and 32) */
    cr_expect(strstr(out, "\n  SPLITS=") && strstr(out, ",BLOCK_N=") && strstr(out, ",WG="),
              "no candidate rows:\n%s", out);

    const char *args[] = {"--op", "kivi_decode", "--family", "k2v2", "--dtype", "f32", "--head-dim", "64", "--seq",
                          "128:128", "--strategy", "random", "--fraction", "0.1", "--db", db_path, NULL};
    lk_tune_key key = {.op = "kivi_decode", .family = "k2v2", .dtype = LK_F32, .head_dim = 64, .flag = 32,
                       .length = 100};
    lk_params best;
    lk_context *ctx = tune_then_open(args, dir, db_path, &key, &best, out, sizeof out);

    const int64_t H = 2, n = 100, D = 64;
    lk_kivi_config cfg = lk_kivi_config_default(1, H, D, n);
    lk_kivi_cache *cache;
    LKT_OK(ctx, lk_kivi_cache_create(ctx, &cfg, &cache));
    float *kv = calloc((size_t)(H * n * D), 4), *q = calloc((size_t)(4 * D), 4);
    int64_t ks[4] = {1, H, n, D}, qs[4] = {1, 4, 1, D};
    lkt_tensor tk = lkt_upload(ctx, LK_F32, LKT_CONTIGUOUS, ks, kv), tq = lkt_upload(ctx, LK_F32, LKT_CONTIGUOUS, qs, q);
    lkt_tensor to = lkt_zeros(ctx, LK_F32, 4, qs);
    LKT_OK(ctx, lk_kivi_cache_append(ctx, cache, &tk.t, &tk.t));
    lk_decode_params p = lk_decode_params_default();
    LKT_OK(ctx, lk_kivi_attention(ctx, cache, &tq.t, &to.t, NULL, &p));
    LKT_OK(ctx, lk_sync(ctx));
    const char *launch = lk_last_launch(ctx);
    const char *names[] = {"BLOCK_N", "WG"};
    for (int i = 0; i < 2; i++) {
        char want[48];
        snprintf(want, sizeof want, " %s=%d ", names[i], lk_params_get(&best, names[i], -1));
        cr_expect(strstr(launch, want), "launch '%s' lacks '%s'", launch, want);
    }
    cr_expect(strstr(launch, "source=env-db"), "launch '%s' did not use the tuning DB", launch);
    lkt_free(&tk);
    lkt_free(&tq);
    lkt_free(&to);
    free(kv);
    free(q);
    lk_kivi_cache_destroy(cache);
    lk_context_destroy(ctx);
}

/* The text of dir/<the one device folder>/name (malloc'ed), or NULL when it is missing. */
static char *read_result(const char *dir, const char *name)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "no output folder %s", dir);
    char path[1024] = "";
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.')
            snprintf(path, sizeof path, "%s/%s/%s", dir, e->d_name, name);
    closedir(d);
    FILE *f = path[0] ? fopen(path, "r") : NULL;
    if (!f)
        return NULL;
    char *text = calloc(1, 1 << 16);
    cr_assert_not_null(text);
    fread(text, 1, (1 << 16) - 1, f);
    fclose(f);
    return text;
}

static int count_of(const char *text, const char *what)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, what)); p += strlen(what))
        n++;
    return n;
}

/* Starts lk-bench with args, reads its output until `lines` lines starting with prefix (each
 * printed after a row or step was measured, before its table is rewritten), then kills it with
 * SIGKILL. Returns how many such lines it saw; *killed: whether the kill interrupted it. */
static int bench_killed_after(const char *const *args, const char *prefix, int lines, int *killed)
{
    int fd, seen = 0, status;
    pid_t pid = start_tool("lk-bench", args, &fd);
    FILE *f = fdopen(fd, "r");
    char line[1024];
    while (seen < lines && fgets(line, sizeof line, f))
        seen += !strncmp(line, prefix, strlen(prefix));
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    fclose(f);
    *killed = WIFSIGNALED(status);
    return seen;
}

/* No *.tmp file anywhere under dir. */
static void expect_no_temporary(const char *dir)
{
    char cmd[256], found[256] = "";
    snprintf(cmd, sizeof cmd, "find %s -name '*.tmp' | head -1", dir);
    FILE *ls = popen(cmd, "r");
    cr_assert_not_null(ls);
    if (!fgets(found, sizeof found, ls))
        found[0] = '\0';
    pclose(ls);
    cr_expect_eq(found[0], '\0', "a temporary file was left: %s", found);
}

/* A benchmark test's paths: a temporary folder, its results folder, and a database that does
 * not exist (no tuned tiles: every call runs the built-in defaults). */
typedef struct bench_paths {
    char dir[64], out[128], db[128];
} bench_paths;

static void bench_paths_make(bench_paths *p)
{
    temp_dir(p->dir);
    snprintf(p->out, sizeof p->out, "%s/results", p->dir);
    snprintf(p->db, sizeof p->db, "%s/none.db", p->dir);
}

/* Kills lk-bench (args) after its second progress line (prefix: printed after a row or step
 * is measured, before the table is rewritten) and expects out/<device>/file to hold first_row
 * and to say it is partial. */
static void expect_rows_kept_after_kill(const char *const *args, const char *prefix, const char *out,
                                        const char *file, const char *first_row)
{
    int killed;
    cr_assert_eq(bench_killed_after(args, prefix, 2, &killed), 2, "lk-bench ended before its second step");
    cr_expect(killed, "lk-bench finished before the kill; the test did not interrupt it");
    char *md = read_result(out, file);
    cr_assert_not_null(md, "a killed run left no %s", file);
    cr_expect(strstr(md, "status: partial"), "the table does not say it is partial:\n%s", md);
    cr_expect(strstr(md, first_row), "the first row is missing:\n%s", md);
    free(md);
}

/* lk-bench rewrites its table after every row: killed after its second row, the table holds
 * the rows measured and says it is partial; a finished run holds every row and no partial mark,
 * with no temporary file left beside it. */
Test(tuner, bench_keeps_the_rows_of_a_killed_run, .timeout = 240)
{
    bench_paths p;
    char out[65536];
    bench_paths_make(&p);
    const char *args[] = {"--dtype", "f32", "--head-dim", "64", "--heads", "1", "--causal", "both", "--seq",
                          "64:256", "--db", p.db, "--out", p.out, NULL};
    expect_rows_kept_after_kill(args, "len ", p.out, "attention_fwd_hd64.md", "| 64 | 0 | 64 | f32 |");

    cr_assert_eq(run_tool("lk-bench", args, out, sizeof out), 0, "lk-bench failed:\n%s", out);
    char *md = read_result(p.out, "attention_fwd_hd64.md"), *csv = read_result(p.out, "attention_fwd_hd64.csv");
    cr_assert(md && csv, "a finished run left no table:\n%s", out);
    cr_expect(!strstr(md, "partial") && !strstr(csv, "partial"), "a finished table says it is partial:\n%s", md);
    cr_expect_eq(count_of(md, " | f32 | "), 6, "not 3 lengths x 2 causal rows:\n%s", md);
    cr_expect_eq(count_of(csv, ",f32,"), 6, "not 6 CSV rows:\n%s", csv);
    free(md);
    free(csv);
    expect_no_temporary(p.out);
}

/* The decode tables likewise: killed after its second (length, batch) step, attention_decode's
 * table holds the first step's row and says it is partial. */
Test(tuner, decode_bench_keeps_the_rows_of_a_killed_run, .timeout = 240)
{
    bench_paths p;
    bench_paths_make(&p);
    const char *args[] = {"--op", "attention_decode", "--dtype", "f32", "--head-dim", "64", "--batch", "1", "--seq",
                          "256:1024", "--db", p.db, "--out", p.out, NULL};
    expect_rows_kept_after_kill(args, "L ", p.out, "attention_decode.md", "| 256 | 1 | dense");
}

/* The OpenCL test device's fingerprint (the device lk-tune --device device_spec() opens) into fp,
 * its name into name. */
static void test_device(char *fp, size_t nfp, char *name, size_t nname)
{
    lk_context *ctx = lkt_open(LKT_OPENCL);
    snprintf(fp, nfp, "%s", lk_context_device(ctx)->fingerprint);
    snprintf(name, nname, "%s", lk_context_device(ctx)->name);
    lk_context_destroy(ctx);
}

/* The lock lk-tune takes for (db_path, the device of fingerprint fp), taken by this process. */
static void hold_lock(tune_lock *l, const char *db_path, const char *fp)
{
    pid_t holder = 0;
    char err[256];
    cr_assert_eq(tune_lock_try(l, db_path, fp, &holder, err, sizeof err), TUNE_LOCK_TAKEN,
                 "cannot take the lock (held by %ld): %s", (long)holder, err);
}

/* The measurements in db_path (0 when it cannot be opened). */
static long measurements_in(const char *db_path)
{
    lk_db *db = NULL;
    char err[256];
    if (lk_db_open(db_path, 0, &db, err, sizeof err) != LK_OK)
        return 0;
    long n = count_measurements(db);
    lk_db_close(db);
    return n;
}

/* A one-candidate tuning run into db_path, or with force the whole space again (18 candidates,
 * seconds on PoCL); without force, args[14] is free for one more option. */
static void lock_run_args(const char *db_path, int force, const char **args)
{
    const char *a[] = {"--dtype", "f32", "--head-dim", "64", "--causal", "0", "--family", "plain", "--seq", "64:64",
                       "--db", db_path, force ? "--force" : "--only", force ? NULL : "BLOCK_M=16,BLOCK_N=8,STAGES=1",
                       NULL, NULL};
    memcpy(args, a, sizeof a);
    if (force)
        args[13] = NULL;
}

/* A second lk-tune on the device and database of one that holds the lock (this process, as
 * lk-tune would) exits at once with status TUNE_LOCK_BUSY_EXIT and a message naming the
 * database, the device and this process's pid, having timed nothing. What does not time takes
 * no lock: --dry-run, --export or --import alone, a compile-ahead worker. Another database, or
 * the same database locked for another device, is not blocked. */
Test(tuner, a_second_tuner_of_the_device_and_database_exits_at_once, .timeout = 120)
{
    char dir[64], db_path[128], other_db[128], csv_path[128], out[65536], fp[384], name[256];
    temp_dir(dir);
    snprintf(db_path, sizeof db_path, "%s/l.db", dir);
    snprintf(other_db, sizeof other_db, "%s/other.db", dir);
    snprintf(csv_path, sizeof csv_path, "%s/l.csv", dir);
    test_device(fp, sizeof fp, name, sizeof name);
    const char *args[20], *other[20];
    lock_run_args(db_path, 0, args);
    lock_run_args(other_db, 0, other);
    cr_assert_eq(run_tune(args, out, sizeof out), 0, "lk-tune failed:\n%s", out); /* one row to export */
    cr_assert_eq(measurements_in(db_path), 1);

    tune_lock lock;
    hold_lock(&lock, db_path, fp);
    const char *force[20];
    lock_run_args(db_path, 1, force);
    double t0 = now_s();
    cr_expect_eq(run_tune(force, out, sizeof out), TUNE_LOCK_BUSY_EXIT, "a second tuner was not refused:\n%s", out);
    cr_expect_lt(now_s() - t0, 30.0, "the refused tuner took %.1f s", now_s() - t0);
    char pid[32];
    snprintf(pid, sizeof pid, "process %ld ", (long)getpid());
    cr_expect(strstr(out, db_path) && strstr(out, name) && strstr(out, pid) && strstr(out, "--wait"),
              "the message does not name the database %s, the device '%s' and %s:\n%s", db_path, name, pid, out);
    cr_expect_eq(measurements_in(db_path), 1, "the refused tuner recorded measurements:\n%s", out);

    /* what does not time runs beside the tuner */
    const char *export_only[] = {"--db", db_path, "--export", csv_path, NULL};
    cr_expect_eq(run_tune(export_only, out, sizeof out), 0, "--export alone was blocked:\n%s", out);
    const char *import_only[] = {"--db", other_db, "--import", csv_path, NULL};
    cr_expect_eq(run_tune(import_only, out, sizeof out), 0, "--import alone was blocked:\n%s", out);
    const char *dry[] = {"--dtype", "f32", "--head-dim", "64", "--causal", "0", "--family", "plain", "--seq", "64:64",
                         "--db", db_path, "--dry-run", NULL};
    cr_expect_eq(run_tune(dry, out, sizeof out), 0, "--dry-run was blocked:\n%s", out);
    const char *worker[] = {"--dtype", "f32", "--head-dim", "64", "--causal", "0", "--family", "plain", "--seq",
                            "64:64", "--db", db_path, "--warm-worker", "0/2/1.0", NULL}; /* deadline long past */
    cr_expect_eq(run_tune(worker, out, sizeof out), 0, "a compile-ahead worker took the lock:\n%s", out);

    /* another database of the same device */
    cr_expect_eq(run_tune(other, out, sizeof out), 0, "a tuner of another database was blocked:\n%s", out);
    /* the same database, locked for another device */
    tune_lock_release(&lock);
    const char *fake = "opencl|Nobody|another device|1.0|1|1|1";
    cr_assert_neq(tune_lock_offset(fake), tune_lock_offset(fp));
    hold_lock(&lock, db_path, fake);
    cr_expect_eq(run_tune(force, out, sizeof out), 0, "a tuner was blocked by another device's lock:\n%s", out);
    cr_expect_gt(measurements_in(db_path), 1, "the tuner timed nothing:\n%s", out);
    tune_lock_release(&lock);
}

/* With --wait the second tuner says it waits, times nothing while the lock is held, and once it
 * is released tunes (skipping what is recorded) and exits 0. */
Test(tuner, with_wait_a_second_tuner_runs_once_the_first_is_done, .timeout = 120)
{
    char dir[64], db_path[128], fp[384], name[256];
    temp_dir(dir);
    snprintf(db_path, sizeof db_path, "%s/w.db", dir);
    test_device(fp, sizeof fp, name, sizeof name);
    tune_lock lock;
    hold_lock(&lock, db_path, fp);
    const char *args[20];
    lock_run_args(db_path, 0, args);
    args[14] = "--wait";
    int fd;
    pid_t pid = start_tool("lk-tune", args, &fd);
    FILE *f = fdopen(fd, "r");
    char line[1024], want[64], rest[65536] = "";
    snprintf(want, sizeof want, "waiting for process %ld,", (long)getpid());
    int waiting = 0;
    while (!waiting && fgets(line, sizeof line, f)) {
        waiting = strstr(line, want) != NULL;
        strncat(rest, line, sizeof rest - strlen(rest) - 1);
    }
    cr_assert(waiting, "no line saying it waits for %ld:\n%s", (long)getpid(), rest);
    nanosleep(&(struct timespec){0, 500000000}, NULL);
    int status = 0;
    cr_expect_eq(waitpid(pid, &status, WNOHANG), 0, "the waiting tuner ended while the lock was held");
    cr_expect_eq(measurements_in(db_path), 0, "the waiting tuner timed candidates");
    tune_lock_release(&lock);
    while (fgets(line, sizeof line, f))
        strncat(rest, line, sizeof rest - strlen(rest) - 1);
    fclose(f);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the waiting tuner failed:\n%s", rest);
    cr_expect(strstr(rest, "resuming") && strstr(rest, ": best "), "it did not tune after the wait:\n%s", rest);
    cr_expect_eq(measurements_in(db_path), 1);
}

/* Between two lk-tune processes: the second names the first's pid; the first killed (SIGKILL),
 * the kernel has dropped its lock and the second runs. */
Test(tuner, a_killed_tuner_leaves_no_lock, .timeout = 180)
{
    char dir[64], db_path[128], out[65536];
    temp_dir(dir);
    snprintf(db_path, sizeof db_path, "%s/k.db", dir);
    setenv("LK_CACHE_DIR", "", 1); /* every candidate compiles: the first is still timing when stopped */
    const char *first[20], *second[20];
    lock_run_args(db_path, 1, first);
    lock_run_args(db_path, 0, second);
    int fd;
    pid_t pid = start_tool("lk-tune", first, &fd);
    FILE *f = fdopen(fd, "r");
    char line[1024];
    int started = 0;
    while (!started && fgets(line, sizeof line, f))
        started = !strncmp(line, "device: ", 8); /* printed once the lock is taken */
    cr_assert(started, "the first tuner did not start");
    kill(pid, SIGSTOP);
    char want[64];
    snprintf(want, sizeof want, "process %ld ", (long)pid);
    cr_expect_eq(run_tune(second, out, sizeof out), TUNE_LOCK_BUSY_EXIT, "the second tuner ran:\n%s", out);
    cr_expect(strstr(out, want), "the message does not name %s:\n%s", want, out);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    fclose(f);
    cr_expect(WIFSIGNALED(status), "the first tuner finished before the kill");
    cr_expect_eq(run_tune(second, out, sizeof out), 0, "the lock outlived its killed holder:\n%s", out);
}

/* tools/cli_number.c parses the numbers of lk-tune and lk-bench (cli_count, cli_whole, cli_real)
 * and of lk-info (HEAD_DIM, FLAG, LENGTH) and lk-db (--tolerance): the whole text, inside the
 * range; out of range or malformed text is refused with each tool's own message. */
Test(tuner, one_number_parser_serves_every_tool, .timeout = 180)
{
    long long w = 7;
    int c = 7;
    double r = 7.0;
    cr_expect(cli_whole("42", 0, 42, &w) == 0 && w == 42);
    cr_expect(cli_whole(" -3", -3, 0, &w) == 0 && w == -3, "leading white space is skipped, as strtoll does");
    const char *bad_whole[] = {"", "4x", "4 ", "43", "-4", "0x10", "99999999999999999999", "1e3"};
    for (size_t i = 0; i < sizeof bad_whole / sizeof *bad_whole; i++) {
        w = 7;
        cr_expect(cli_whole(bad_whole[i], -3, 42, &w) == -1 && w == 7, "'%s' was taken", bad_whole[i]);
    }
    cr_expect(cli_whole("1099511627776", 0, 1LL << 40, &w) == 0 && w == 1LL << 40);
    cr_expect(cli_count("65535", 1, 65535, &c) == 0 && c == 65535);
    cr_expect(cli_count("65536", 1, 65535, &c) == -1 && c == 65535);
    cr_expect(cli_count("0", 1, 65535, &c) == -1 && cli_count("4294967297", 1, 65535, &c) == -1 && c == 65535);
    cr_expect(cli_real("0.05", &r) == 0 && r == 0.05);
    cr_expect(cli_real("1e-3", &r) == 0 && r == 1e-3);
    cr_expect(cli_real("nan", &r) == 0 && r != r, "NaN is the caller's range check to refuse");
    const char *bad_real[] = {"", "abc", "1 ", "5,", "0.5x"};
    for (size_t i = 0; i < sizeof bad_real / sizeof *bad_real; i++) {
        r = 7.0;
        cr_expect(cli_real(bad_real[i], &r) == -1 && r == 7.0, "'%s' was taken", bad_real[i]);
    }

    char out[65536], dir[64], db_path[128];
    temp_dir(dir);
    snprintf(db_path, sizeof db_path, "%s/none.db", dir);
    const char *tolerances[] = {"abc", "", "-0.1", "1e6", "nan", "5,"};
    for (size_t i = 0; i < sizeof tolerances / sizeof *tolerances; i++) {
        const char *argv[] = {built("lk-db"), "compare", db_path, "--db", db_path, "--tolerance", tolerances[i], NULL};
        char want[96];
        snprintf(want, sizeof want, "lk-db compare: --tolerance wants a number >= 0, got '%s'\n", tolerances[i]);
        int fd;
        pid_t pid = start_argv(argv, &fd);
        cr_expect_eq(finish(pid, fd, out, sizeof out), 2, "--tolerance '%s' was taken:\n%s", tolerances[i], out);
        cr_expect(strstr(out, want), "no message for --tolerance '%s':\n%s", tolerances[i], out);
    }
    const char *good[] = {built("lk-db"), "compare", db_path, "--db", db_path, "--tolerance", "999999", NULL};
    int fd;
    pid_t pid = start_argv(good, &fd);
    cr_expect_eq(finish(pid, fd, out, sizeof out), 1, "a good --tolerance was refused:\n%s", out); /* no database */
    cr_expect(!strstr(out, "--tolerance"), "%s", out);

    struct { const char *hd, *flag, *len; int ok; } tuning[] = {
        {"64", "0", "4096", 1}, {"4096", "1073741824", "1099511627776", 1}, {"0", "-1073741824", "0", 1},
        {"4097", "0", "4096", 0}, {"-1", "0", "4096", 0}, {"64", "1073741825", "4096", 0},
        {"64", "0", "1099511627777", 0}, {"x", "0", "1", 0}, {"64", "0", "", 0}, {"64", "0", "12a", 0},
        {"64", "0", "99999999999999999999999", 0}};
    for (size_t i = 0; i < sizeof tuning / sizeof *tuning; i++) {
        const char *argv[] = {built("lk-info"), "--tuning", "attention_fwd", "f16", tuning[i].hd, tuning[i].flag,
                              tuning[i].len, NULL};
        pid = start_argv(argv, &fd);
        int rc = finish(pid, fd, out, sizeof out);
        if (strstr(out, "default device: none"))
            cr_skip_test("lk-info finds no device:\n%s", out);
        const char *bad = strstr(out, "bad DTYPE (f16, f32), HEAD_DIM, FLAG or LENGTH");
        cr_expect(tuning[i].ok ? rc == 0 && !bad : rc == 1 && bad, "lk-info --tuning ... %s %s %s gave %d:\n%s",
                  tuning[i].hd, tuning[i].flag, tuning[i].len, rc, out);
    }
}
