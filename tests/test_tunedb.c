/* Tuning database: layers and their order, device-match levels, nearest bucket, defaults,
 * overrides, broken and foreign files, CSV round trip, the static check of rows' parameters (at
 * import and at lookup), a reader while a tuner writes, and a tuner killed mid-write. No device
 * needed: devices are made up, contexts are fakes that carry only the device info. Each test gets
 * its own temp dir and environment (Criterion runs each test in its own process). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_DEFAULT, open_memstream, fmemopen */
#endif
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "ops/op_params_check.h"
#include "tunedb/db.h"

static char dir[256];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/lk_tunedb_XXXXXX");
    cr_assert(mkdtemp(dir), "mkdtemp failed");
    char xdg[512];
    snprintf(xdg, sizeof xdg, "%s/xdg", dir);
    setenv("XDG_DATA_HOME", xdg, 1); /* never the real user DB */
    setenv("LK_SYSTEM_DB", "", 1);
    unsetenv("LK_TUNING_DB");
    unsetenv("LK_LOG");
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void teardown(void)
{
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(tunedb, .init = setup, .fini = teardown);

/* ---- helpers ---------------------------------------------------------------------------- */

static const char *in_dir(const char *name)
{
    static char paths[8][600];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, sizeof paths[0], "%s/%s", dir, name);
    return p;
}

static lk_device_info device(lk_backend_kind backend, const char *vendor, const char *name, const char *driver,
                             lk_device_type type)
{
    lk_device_info d;
    memset(&d, 0, sizeof d);
    d.backend = backend;
    d.type = type;
    snprintf(d.platform_name, sizeof d.platform_name, "Test Platform");
    snprintf(d.vendor, sizeof d.vendor, "%s", vendor);
    snprintf(d.name, sizeof d.name, "%s", name);
    snprintf(d.driver, sizeof d.driver, "%s", driver);
    d.compute_units = 8;
    d.local_mem_bytes = 65536;
    d.clock_mhz = 1000;
    snprintf(d.fingerprint, sizeof d.fingerprint, "%s|%s|%s|%s|8|65536|1000",
             backend == LK_BACKEND_CUDA ? "cuda" : "opencl", vendor, name, driver);
    return d;
}

/* The device most tests look up from. */
static lk_device_info gpu_a(void)
{
    return device(LK_BACKEND_OPENCL, "Acme", "Acme X100", "1.0", LK_DEVICE_GPU);
}

static lk_tune_key key_at(int64_t length)
{
    lk_tune_key k;
    memset(&k, 0, sizeof k);
    snprintf(k.op, sizeof k.op, "attention_fwd");
    snprintf(k.family, sizeof k.family, "plain");
    k.dtype = LK_F16;
    k.head_dim = 128;
    k.flag = 1;
    k.length = length;
    return k;
}

static lk_db *open_writer(const char *path)
{
    lk_db *db = NULL;
    char err[1024];
    cr_assert_eq(lk_db_open(path, 1, &db, err, sizeof err), LK_OK, "open %s for writing: %s", path, err);
    return db;
}

/* One measurement by tuner_version `version`. */
static void record_by(lk_db *db, const lk_device_info *d, const lk_tune_key *k, lk_db_outcome outcome,
                      const char *params, double median, const char *version)
{
    lk_db_measurement m = {outcome, params, outcome == LK_DB_OK ? NULL : "test failure", median, median * 0.9,
                           median * 1.1, 10, version};
    cr_assert_eq(lk_db_record(db, d, k, &m), LK_OK, "record %s: %s", params, lk_db_error(db));
}

static void record(lk_db *db, const lk_device_info *d, const lk_tune_key *k, lk_db_outcome outcome,
                   const char *params, double median)
{
    record_by(db, d, k, outcome, params, median, "test");
}

/* One ok measurement of the test key at bucket `length` for device d in the file at path. */
static void put(const char *path, const lk_device_info *d, int64_t length, const char *params, double median)
{
    lk_db *db = open_writer(path);
    lk_tune_key k = key_at(length);
    record(db, d, &k, LK_DB_OK, params, median);
    lk_db_close(db);
}

static lk_context *fake_context(const lk_device_info *d)
{
    lk_context *ctx = calloc(1, sizeof *ctx);
    cr_assert(ctx);
    ctx->info = *d;
    return ctx;
}

static void free_context(lk_context *ctx)
{
    lk_tunedb_context_free(ctx);
    free(ctx);
}

/* Look the test key up at length on ctx with empty defaults; params text into buf. */
static lk_lookup_result look_ctx(lk_context *ctx, int64_t length, char *buf, size_t n)
{
    lk_tune_key k = key_at(length);
    lk_params out;
    lk_lookup_result r;
    cr_assert_eq(lk_tuned_params(ctx, &k, NULL, &out, &r), LK_OK, "lookup: %s", ctx->last_error);
    lk_params_format(&out, "", ",", buf, n);
    return r;
}

/* Same, from a fresh context on device d (so the environment is read again). */
static lk_lookup_result look(const lk_device_info *d, int64_t length, char *buf, size_t n)
{
    lk_context *ctx = fake_context(d);
    lk_lookup_result r = look_ctx(ctx, length, buf, n);
    free_context(ctx);
    return r;
}

static void expect(const lk_device_info *d, int64_t length, const char *params, lk_param_source source,
                   lk_device_match match, int64_t bucket)
{
    char got[1024];
    lk_lookup_result r = look(d, length, got, sizeof got);
    cr_expect_str_eq(got, params, "device '%s' length %lld: params '%s', expected '%s'", d->name,
                     (long long)length, got, params);
    cr_expect_eq(r.source, source, "device '%s' length %lld: source %s, expected %s", d->name, (long long)length,
                 lk_param_source_name(r.source), lk_param_source_name(source));
    cr_expect_eq(r.match, match, "device '%s' length %lld: match %s, expected %s", d->name, (long long)length,
                 lk_device_match_name(r.match), lk_device_match_name(match));
    cr_expect_eq(r.bucket, bucket, "device '%s' length %lld: bucket %lld, expected %lld", d->name,
                 (long long)length, (long long)r.bucket, (long long)bucket);
}

static size_t read_file(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot read %s", path);
    size_t got = fread(buf, 1, n, f);
    fclose(f);
    return got;
}

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* stderr into a file between capture_begin and capture_end. */
static int capture_begin(const char *path)
{
    fflush(stderr);
    int saved = dup(2), fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    cr_assert(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    return saved;
}

static void capture_end(int saved)
{
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
}

static int count_lines_with(const char *path, const char *needle)
{
    char line[2048];
    int n = 0;
    FILE *f = fopen(path, "r");
    cr_assert(f);
    while (fgets(line, sizeof line, f))
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

/* Raw SQLite, to make files that are not ours. The tests link only longkern (which links
 * SQLite privately), so the functions are found in the already-loaded library. */
static void raw_sql(const char *path, const char *sql)
{
    int (*open_fn)(const char *, void **);
    int (*exec_fn)(void *, const char *, void *, void *, char **);
    int (*close_fn)(void *);
    *(void **)&open_fn = dlsym(RTLD_DEFAULT, "sqlite3_open");
    *(void **)&exec_fn = dlsym(RTLD_DEFAULT, "sqlite3_exec");
    *(void **)&close_fn = dlsym(RTLD_DEFAULT, "sqlite3_close");
    cr_assert(open_fn && exec_fn && close_fn, "SQLite functions not found in the process");
    void *h = NULL;
    char *msg = NULL;
    cr_assert_eq(open_fn(path, &h), 0, "sqlite3_open %s", path);
    int rc = exec_fn(h, sql, NULL, NULL, &msg);
    cr_assert_eq(rc, 0, "%s: %s", sql, msg ? msg : "?");
    close_fn(h);
}

static const char *csv_header = "backend,vendor,device_name,driver,device_type,compute_units,local_mem,clock_mhz,"
                                "fingerprint,op,family,dtype,head_dim,flag,bucket,params,median_ms,min_ms,p80_ms\n";

/* Export db to a malloc'ed string with no comment. */
static char *export_text(lk_db *db)
{
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    cr_assert(f);
    cr_assert_eq(lk_db_export_csv(db, f, NULL), LK_OK, "export: %s", lk_db_error(db));
    fclose(f);
    return text;
}

static int data_lines(const char *csv)
{
    int n = 0;
    for (const char *p = csv; *p; p = strchr(p, '\n') + 1) {
        n += *p != '#' && strncmp(p, "backend,", 8) != 0;
        if (!strchr(p, '\n'))
            break;
    }
    return n;
}

/* ---- buckets and names ------------------------------------------------------------------ */

Test(tunedb, length_bucket_is_next_power_of_two)
{
    int64_t cases[][2] = {{-5, 1}, {0, 1}, {1, 1}, {2, 2}, {3, 4}, {1000, 1024}, {1024, 1024}, {1025, 2048},
                          {131072, 131072}, {131073, 262144}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq(lk_length_bucket(cases[i][0]), cases[i][1], "bucket(%lld) = %lld, expected %lld",
                     (long long)cases[i][0], (long long)lk_length_bucket(cases[i][0]), (long long)cases[i][1]);
    cr_expect_str_eq(lk_param_source_name(LK_SOURCE_USER_DB), "user-db");
    cr_expect_str_eq(lk_device_match_name(LK_MATCH_VENDOR_TYPE), "vendor-type");
}

/* ---- layers ----------------------------------------------------------------------------- */

Test(tunedb, each_layer_wins_in_order_and_falls_back)
{
    lk_device_info a = gpu_a();
    const char *env = in_dir("env.db"), *user = in_dir("xdg/longkern/tuning.db"), *sys = in_dir("sys.db");
    put(env, &a, 4096, "STAGES=1", 1.0);
    put(user, &a, 4096, "STAGES=2", 1.0);
    put(sys, &a, 4096, "STAGES=3", 1.0);
    setenv("LK_TUNING_DB", env, 1);
    setenv("LK_SYSTEM_DB", sys, 1);
    expect(&a, 4000, "STAGES=1", LK_SOURCE_ENV_DB, LK_MATCH_EXACT, 4096);
    char got[256];
    lk_lookup_result r = look(&a, 4000, got, sizeof got);
    cr_expect_str_eq(r.path, env, "path %s", r.path);

    unsetenv("LK_TUNING_DB");
    expect(&a, 4000, "STAGES=2", LK_SOURCE_USER_DB, LK_MATCH_EXACT, 4096);
    setenv("XDG_DATA_HOME", in_dir("nothing-here"), 1);
    expect(&a, 4000, "STAGES=3", LK_SOURCE_SYSTEM_DB, LK_MATCH_EXACT, 4096);
    setenv("LK_SYSTEM_DB", "", 1);
    expect(&a, 4000, "", LK_SOURCE_DEFAULT, LK_MATCH_NONE, 0);

    /* Without XDG_DATA_HOME the user DB is under $HOME/.local/share. */
    unsetenv("XDG_DATA_HOME");
    setenv("HOME", in_dir("home"), 1);
    put(in_dir("home/.local/share/longkern/tuning.db"), &a, 4096, "STAGES=4", 1.0);
    expect(&a, 4000, "STAGES=4", LK_SOURCE_USER_DB, LK_MATCH_EXACT, 4096);
}

Test(tunedb, device_level_is_the_outer_loop)
{
    lk_device_info a = gpu_a();
    lk_device_info other_driver = device(LK_BACKEND_OPENCL, "Acme", "Acme X100", "2.0", LK_DEVICE_GPU);
    lk_device_info sibling = device(LK_BACKEND_OPENCL, "Acme", "Acme X200", "1.0", LK_DEVICE_GPU);
    const char *env = in_dir("env.db"), *user = in_dir("xdg/longkern/tuning.db"), *sys = in_dir("sys.db");
    setenv("LK_TUNING_DB", env, 1);
    setenv("LK_SYSTEM_DB", sys, 1);
    put(env, &sibling, 4096, "STAGES=1", 1.0);        /* vendor-type level in the first layer */
    put(user, &other_driver, 4096, "STAGES=2", 1.0);  /* device-name level in the second */
    expect(&a, 4096, "STAGES=2", LK_SOURCE_USER_DB, LK_MATCH_DEVICE_NAME, 4096);
    put(sys, &a, 4096, "STAGES=3", 1.0);              /* exact level in the last */
    expect(&a, 4096, "STAGES=3", LK_SOURCE_SYSTEM_DB, LK_MATCH_EXACT, 4096);
}

Test(tunedb, device_levels_exact_then_name_then_vendor_and_type)
{
    lk_device_info a = gpu_a();
    lk_device_info other_driver = device(LK_BACKEND_OPENCL, "Acme", "Acme X100", "2.0", LK_DEVICE_GPU);
    lk_device_info sibling = device(LK_BACKEND_OPENCL, "Acme", "Acme X200", "1.0", LK_DEVICE_GPU);
    lk_device_info acme_cpu = device(LK_BACKEND_OPENCL, "Acme", "Acme C1", "1.0", LK_DEVICE_CPU);
    lk_device_info stranger = device(LK_BACKEND_OPENCL, "Other Inc", "Other G1", "1.0", LK_DEVICE_GPU);
    lk_device_info a_cuda = device(LK_BACKEND_CUDA, "Acme", "Acme X100", "1.0", LK_DEVICE_GPU);
    lk_device_info newcomer = device(LK_BACKEND_OPENCL, "Acme", "Acme X300", "1.0", LK_DEVICE_GPU);
    const char *env = in_dir("env.db");
    setenv("LK_TUNING_DB", env, 1);

    put(env, &sibling, 4096, "STAGES=3", 3.0);
    expect(&a, 4096, "STAGES=3", LK_SOURCE_ENV_DB, LK_MATCH_VENDOR_TYPE, 4096);
    put(env, &other_driver, 4096, "STAGES=2", 2.0);
    expect(&a, 4096, "STAGES=2", LK_SOURCE_ENV_DB, LK_MATCH_DEVICE_NAME, 4096);
    put(env, &a, 4096, "STAGES=1", 5.0);
    expect(&a, 4096, "STAGES=1", LK_SOURCE_ENV_DB, LK_MATCH_EXACT, 4096);

    /* Vendor-type level among several devices: the lowest median at the nearest bucket. */
    expect(&newcomer, 4096, "STAGES=2", LK_SOURCE_ENV_DB, LK_MATCH_VENDOR_TYPE, 4096);
    /* Other type, other vendor, other backend: nothing matches. */
    expect(&acme_cpu, 4096, "", LK_SOURCE_DEFAULT, LK_MATCH_NONE, 0);
    expect(&stranger, 4096, "", LK_SOURCE_DEFAULT, LK_MATCH_NONE, 0);
    expect(&a_cuda, 4096, "", LK_SOURCE_DEFAULT, LK_MATCH_NONE, 0);
}

Test(tunedb, nearest_bucket_in_log_space_ties_go_to_the_larger)
{
    lk_device_info a = gpu_a();
    const char *env = in_dir("env.db");
    setenv("LK_TUNING_DB", env, 1);
    put(env, &a, 1024, "BLOCK_N=8", 1.0);
    put(env, &a, 16384, "BLOCK_N=128", 9.0);
    /* query length, its bucket's log2 distance to 2^10 and 2^14, expected bucket */
    int64_t cases[][2] = {
        {1, 1024},       /* 2^0: 10 vs 14 */
        {1024, 1024},    /* exact */
        {1500, 1024},    /* 2^11: 1 vs 3 */
        {2048, 1024},    /* 2^11 */
        {3000, 16384},   /* 2^12: 2 vs 2, a tie: the larger */
        {4096, 16384},   /* 2^12 */
        {8192, 16384},   /* 2^13: 3 vs 1 */
        {100000, 16384}, /* 2^17: 7 vs 3 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char want[32];
        snprintf(want, sizeof want, "BLOCK_N=%lld", (long long)cases[i][1] / 128); /* 8 or 128 */
        expect(&a, cases[i][0], want, LK_SOURCE_ENV_DB, LK_MATCH_EXACT, cases[i][1]);
    }
}

Test(tunedb, rows_are_laid_over_the_defaults)
{
    lk_device_info a = gpu_a();
    const char *env = in_dir("env.db");
    setenv("LK_TUNING_DB", env, 1);
    lk_params defaults, out;
    cr_assert_eq(lk_params_parse("VARIANT=1,BLOCK_M=2,BLOCK_N=3", &defaults), LK_OK);
    lk_context *ctx = fake_context(&a);
    lk_tune_key k = key_at(4096);
    lk_lookup_result r;
    cr_assert_eq(lk_tuned_params(ctx, &k, &defaults, &out, &r), LK_OK);
    char text[256];
    lk_params_format(&out, "", ",", text, sizeof text);
    cr_expect_str_eq(text, "VARIANT=1,BLOCK_M=2,BLOCK_N=3", "no DB: %s", text);
    cr_expect_eq(r.source, LK_SOURCE_DEFAULT);
    free_context(ctx);

    put(env, &a, 4096, "BLOCK_M=20,STAGES=4", 1.0);
    ctx = fake_context(&a);
    cr_assert_eq(lk_tuned_params(ctx, &k, &defaults, &out, &r), LK_OK);
    lk_params_format(&out, "", ",", text, sizeof text);
    cr_expect_str_eq(text, "VARIANT=1,BLOCK_M=20,BLOCK_N=3,STAGES=4", "with a row: %s", text);
    cr_expect_eq(r.source, LK_SOURCE_ENV_DB);
    free_context(ctx);
}

Test(tunedb, parameter_text_takes_one_separator_between_pairs)
{
    static const char *good[] = {"", "  ", "A=1", "A=1,B=-2", "A=1;B=2", "A=1 B=2", " A=1 , B=2 ", "A=1\t;\tB=2 "};
    static const char *bad[] = {",A=1",  "A=1,,B=2", "A=1,",  "A=1;", ";",     ",",      "A=1, ,B=2",
                                "A=1;,B=2", "A=",     "A= 1", "A=1x", "=1",     "A=1,A=2", "A=99999999999"};
    lk_params p;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_expect_eq(lk_params_parse(good[i], &p), LK_OK, "'%s' was refused", good[i]);
    cr_assert_eq(lk_params_parse(" A=1 , B=2 ", &p), LK_OK);
    cr_expect(p.n == 2 && lk_params_get(&p, "A", 0) == 1 && lk_params_get(&p, "B", 0) == 2, "%d pairs", p.n);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(lk_params_parse(bad[i], &p), LK_ERR_INVALID_ARGUMENT, "'%s' was accepted", bad[i]);
}

/* ---- overrides and describe ------------------------------------------------------------- */

Test(tunedb, override_wins_is_most_specific_and_clears)
{
    lk_device_info a = gpu_a();
    const char *env = in_dir("env.db");
    setenv("LK_TUNING_DB", env, 1);
    put(env, &a, 4096, "BLOCK_M=16", 1.0);
    lk_context *ctx = fake_context(&a);
    char got[256];
    lk_lookup_result r;

    cr_assert_eq(lk_tuning_override(ctx, "attention_fwd", LK_F16, 128, 1, 0, "BLOCK_M=64"), LK_OK, "%s",
                 ctx->last_error);
    r = look_ctx(ctx, 3000, got, sizeof got);
    cr_expect_str_eq(got, "BLOCK_M=64");
    cr_expect_eq(r.source, LK_SOURCE_OVERRIDE);
    cr_expect_eq(r.bucket, 0);

    /* A length's bucket beats every length; a family beats every family. */
    cr_assert_eq(lk_tuning_override(ctx, "attention_fwd", LK_F16, 128, 1, 3000, "BLOCK_M=128"), LK_OK);
    cr_assert_eq(lk_tuning_override(ctx, "attention_fwd:plain", LK_F16, 128, 1, 0, "BLOCK_M=32"), LK_OK);
    cr_assert_eq(lk_tuning_override(ctx, "attention_fwd:rope", LK_F16, 128, 1, 0, "BLOCK_M=8"), LK_OK);
    r = look_ctx(ctx, 2500, got, sizeof got);
    cr_expect_str_eq(got, "BLOCK_M=128", "length 2500: %s", got);
    cr_expect_eq(r.bucket, 4096);
    r = look_ctx(ctx, 100000, got, sizeof got);
    cr_expect_str_eq(got, "BLOCK_M=32", "length 100000: %s", got);

    /* Setting a key again replaces it. */
    cr_assert_eq(lk_tuning_override(ctx, "attention_fwd:plain", LK_F16, 128, 1, 0, "BLOCK_M=48"), LK_OK);
    look_ctx(ctx, 100000, got, sizeof got);
    cr_expect_str_eq(got, "BLOCK_M=48", "replaced: %s", got);

    /* Other dtype: no override, the DB row. */
    lk_tune_key k = key_at(4096);
    k.dtype = LK_F32;
    lk_params out;
    cr_assert_eq(lk_tuned_params(ctx, &k, NULL, &out, &r), LK_OK);
    cr_expect_eq(r.source, LK_SOURCE_DEFAULT, "f32 has no row and no override: %s", lk_param_source_name(r.source));

    cr_assert_eq(lk_tuning_clear_overrides(ctx), LK_OK);
    r = look_ctx(ctx, 3000, got, sizeof got);
    cr_expect_str_eq(got, "BLOCK_M=16", "after clear: %s", got);
    cr_expect_eq(r.source, LK_SOURCE_ENV_DB);

    /* Bad arguments: an error with a message, nothing set. */
    cr_expect_eq(lk_tuning_override(ctx, "attention_fwd", LK_F16, 128, 1, 0, "BLOCK_M="), LK_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(ctx->last_error, "BLOCK_M="), "message: %s", ctx->last_error);
    cr_expect_eq(lk_tuning_override(ctx, "attention_fwd", LK_F16, 128, 1, 0, "64"), LK_ERR_INVALID_ARGUMENT);
    cr_expect_eq(lk_tuning_override(ctx, "", LK_F16, 128, 1, 0, "A=1"), LK_ERR_INVALID_ARGUMENT);
    cr_expect_eq(lk_tuning_override(ctx, "attention_fw", LK_F16, 128, 1, 0, "BLOCK_M=16"), LK_ERR_INVALID_ARGUMENT,
                 "a misspelt op was accepted");
    cr_expect_eq(lk_tuning_override(ctx, "attention_fwd", LK_F16, 128, 1, 0, "BLOCK_M=4294967360"),
                 LK_ERR_INVALID_ARGUMENT, "a value past int was accepted");
    cr_expect_eq(lk_tuning_override(ctx, "attention_fwd", LK_F16, 128, 1, 0, "BLOCK_M=16,BLOCK_M=32"),
                 LK_ERR_INVALID_ARGUMENT, "a name given twice was accepted");
    cr_expect_eq(lk_tuning_override(ctx, "a_very_long_op_name_that_does_not_fit", LK_F16, 128, 1, 0, "A=1"),
                 LK_ERR_INVALID_ARGUMENT);
    cr_expect_eq(lk_tuning_override(ctx, "attention_fwd", (lk_dtype)9, 128, 1, 0, "A=1"), LK_ERR_INVALID_ARGUMENT);
    cr_expect_eq(lk_tuning_override(ctx, "attention_fwd", LK_F16, 128, 1, -1, "A=1"), LK_ERR_INVALID_ARGUMENT);
    cr_expect_eq(lk_tuning_override(ctx, "attention_fwd", LK_F16, 128, 1, 0, NULL), LK_ERR_NULL_POINTER);
    cr_expect_eq(lk_tuning_override(NULL, "attention_fwd", LK_F16, 128, 1, 0, "A=1"), LK_ERR_NULL_POINTER);
    look_ctx(ctx, 3000, got, sizeof got);
    cr_expect_str_eq(got, "BLOCK_M=16", "after failed overrides: %s", got);
    free_context(ctx);
}

Test(tunedb, describe_and_info_log_say_where_parameters_came_from)
{
    lk_device_info a = gpu_a();
    const char *env = in_dir("env.db");
    setenv("LK_TUNING_DB", env, 1);
    setenv("LK_LOG", "info", 1);
    put(env, &a, 4096, "BLOCK_M=16,BLOCK_N=32", 1.0);
    lk_context *ctx = fake_context(&a);
    char text[1024], want[1024];
    const char *log = in_dir("stderr.txt");
    int saved = capture_begin(log);
    lk_status st = lk_tuning_describe(ctx, "attention_fwd:plain", LK_F16, 128, 1, 3000, text, sizeof text);
    char text2[256];
    lk_status st2 = lk_tuning_describe(ctx, "kda_fwd", LK_F32, 64, 0, 10, text2, sizeof text2);
    capture_end(saved);
    cr_assert_eq(st, LK_OK, "%s", ctx->last_error);
    snprintf(want, sizeof want, "BLOCK_M=16,BLOCK_N=32 source=env-db match=exact bucket=4096 path=%s", env);
    cr_expect_str_eq(text, want);
    cr_expect_eq(count_lines_with(log, "env-db match=exact bucket=4096"), 1, "LK_LOG=info names the layer");
    cr_expect_eq(count_lines_with(log, "kda_fwd f32 head_dim=64 flag=0 length=10: default"), 1, "default logged");

    cr_assert_eq(st2, LK_OK);
    cr_expect_str_eq(text2, "(built-in defaults) source=default match=none bucket=0");
    cr_expect_eq(lk_tuning_describe(ctx, "kda_fwd", LK_F32, 64, 0, 10, text, 0), LK_ERR_INVALID_ARGUMENT);
    cr_expect_eq(lk_tuning_describe(ctx, "rope", LK_F32, 64, 0, 10, text, sizeof text), LK_ERR_INVALID_ARGUMENT,
                 "an op that is not tuned was described");
    free_context(ctx);
}

/* ---- files that are not ours ------------------------------------------------------------ */

Test(tunedb, corrupt_file_warns_once_falls_back_and_is_never_written)
{
    unsigned seed = (unsigned)time(NULL);
    srand(seed);
    lk_device_info a = gpu_a();
    const char *bad = in_dir("random.db"), *user = in_dir("xdg/longkern/tuning.db");
    char bytes[4096], after[8192];
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] = (char)(rand() & 0xff);
    FILE *f = fopen(bad, "wb");
    cr_assert(f);
    fwrite(bytes, 1, sizeof bytes, f);
    fclose(f);
    put(user, &a, 4096, "STAGES=1", 1.0);
    setenv("LK_TUNING_DB", bad, 1);

    const char *log = in_dir("stderr.txt");
    lk_context *ctx = fake_context(&a);
    char got[256];
    int saved = capture_begin(log);
    lk_lookup_result r[3];
    for (int i = 0; i < 3; i++)
        r[i] = look_ctx(ctx, 4096, got, sizeof got);
    capture_end(saved);
    free_context(ctx);
    for (int i = 0; i < 3; i++)
        cr_expect_eq(r[i].source, LK_SOURCE_USER_DB, "seed %u lookup %d: %s", seed, i,
                     lk_param_source_name(r[i].source));
    cr_expect_str_eq(got, "STAGES=1", "seed %u", seed);
    cr_expect_eq(count_lines_with(log, bad), 1, "seed %u: one warning naming %s", seed, bad);

    lk_db *db = NULL;
    char err[1024];
    cr_expect_eq(lk_db_open(bad, 1, &db, err, sizeof err), LK_ERR_DATABASE, "seed %u: a writer opened it", seed);
    cr_expect_null(db);
    cr_expect(strstr(err, "not a SQLite database"), "message: %s", err);
    cr_expect_eq(read_file(bad, after, sizeof after), sizeof bytes, "seed %u: size changed", seed);
    cr_expect(memcmp(bytes, after, sizeof bytes) == 0, "seed %u: bytes changed", seed);
    cr_expect(!exists(in_dir("random.db-wal")) && !exists(in_dir("random.db-journal")), "side files created");
}

/* A writer refuses the file at path (bytes unchanged); a reader gets an error mentioning what. */
static void expect_refused(const char *path, const char *what)
{
    static char before[1 << 16], after[1 << 16];
    size_t n = read_file(path, before, sizeof before);
    lk_db *db = NULL;
    char err[1024];
    cr_expect_eq(lk_db_open(path, 0, &db, err, sizeof err), LK_ERR_DATABASE, "reader opened %s", path);
    cr_expect(strstr(err, what), "reader message '%s' lacks '%s'", err, what);
    cr_expect_eq(lk_db_open(path, 1, &db, err, sizeof err), LK_ERR_DATABASE, "writer opened %s", path);
    cr_expect(strstr(err, what) && strstr(err, "not modified"), "writer message: %s", err);
    cr_expect_eq(read_file(path, after, sizeof after), n);
    cr_expect(memcmp(before, after, n) == 0, "%s was modified", path);
}

Test(tunedb, foreign_and_newer_sqlite_files_are_left_alone)
{
    lk_device_info a = gpu_a();
    const char *foreign = in_dir("foreign.db"), *newer = in_dir("newer.db"), *sys = in_dir("sys.db");
    raw_sql(foreign, "CREATE TABLE notes(x TEXT); INSERT INTO notes VALUES('mine');");
    expect_refused(foreign, "another program");

    put(newer, &a, 4096, "N=1", 1.0);
    raw_sql(newer, "PRAGMA journal_mode = DELETE; PRAGMA user_version = 99;");
    expect_refused(newer, "newer longkern");

    /* our marker and schema version, but not our tables: found by a fuzzing pass, where lk-tune
     * switched it to WAL and lost every measurement with exit status 0 */
    const char *marked = in_dir("marked.db");
    raw_sql(marked, "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                    "INSERT INTO meta VALUES('format', 'longkern-tuning'); CREATE TABLE devices(x INT);"
                    "PRAGMA user_version = 1;");
    expect_refused(marked, "lacks its tables");

    /* In the lookup both are skipped with a warning each; the system DB serves. */
    put(sys, &a, 4096, "STAGES=3", 1.0);
    setenv("LK_SYSTEM_DB", sys, 1);
    setenv("LK_TUNING_DB", foreign, 1);
    setenv("XDG_DATA_HOME", in_dir("xdg2"), 1);
    lk_db *db = open_writer(in_dir("xdg2/longkern/tuning.db"));
    lk_db_close(db);
    raw_sql(in_dir("xdg2/longkern/tuning.db"), "PRAGMA user_version = 7;");
    const char *log = in_dir("stderr.txt");
    int saved = capture_begin(log);
    expect(&a, 4096, "STAGES=3", LK_SOURCE_SYSTEM_DB, LK_MATCH_EXACT, 4096);
    capture_end(saved);
    cr_expect_eq(count_lines_with(log, "skipped"), 2, "one warning per broken layer");
}

Test(tunedb, empty_file_is_silent_for_readers_and_initialised_by_writers)
{
    lk_device_info a = gpu_a();
    const char *empty = in_dir("empty.db");
    FILE *f = fopen(empty, "wb");
    cr_assert(f);
    fclose(f);
    setenv("LK_TUNING_DB", empty, 1);
    const char *log = in_dir("stderr.txt");
    int saved = capture_begin(log);
    expect(&a, 4096, "", LK_SOURCE_DEFAULT, LK_MATCH_NONE, 0);
    capture_end(saved);
    cr_expect_eq(count_lines_with(log, "longkern"), 0, "an empty file gave a message");
    put(empty, &a, 4096, "STAGES=2", 1.0);
    expect(&a, 4096, "STAGES=2", LK_SOURCE_ENV_DB, LK_MATCH_EXACT, 4096);
}

/* ---- writing ---------------------------------------------------------------------------- */

Test(tunedb, record_validates_and_best_is_the_lowest_ok_median)
{
    lk_device_info a = gpu_a();
    const char *path = in_dir("db/sub/tuning.db"); /* directories are created */
    lk_db *db = open_writer(path);
    lk_tune_key k = key_at(4096);
    int has = -1;
    cr_assert_eq(lk_db_has_best(db, &a, &k, &has), LK_OK);
    cr_expect_eq(has, 0);
    record(db, &a, &k, LK_DB_OK, "M=3", 3.0);
    record(db, &a, &k, LK_DB_OK, "M=1", 1.0);
    record(db, &a, &k, LK_DB_WRONG_RESULT, "M=0", 0.1); /* fast but wrong: never best */
    record(db, &a, &k, LK_DB_OK, "M=2", 2.0);
    cr_assert_eq(lk_db_has_best(db, &a, &k, &has), LK_OK);
    cr_expect_eq(has, 1);

    lk_db_measurement bad_params = {LK_DB_OK, "M=", NULL, 1, 1, 1, 1, NULL};
    lk_db_measurement no_times = {LK_DB_OK, "M=9", NULL, -1, -1, -1, 0, NULL};
    cr_expect_eq(lk_db_record(db, &a, &k, &bad_params), LK_ERR_DATABASE);
    cr_expect(strstr(lk_db_error(db), "M="), "%s", lk_db_error(db));
    cr_expect_eq(lk_db_record(db, &a, &k, &no_times), LK_ERR_DATABASE);
    lk_db_measurement timeout = {LK_DB_TIMEOUT, "M=9", "over 10 s", -1, -1, -1, 0, NULL};
    cr_expect_eq(lk_db_record(db, &a, &k, &timeout), LK_OK, "%s", lk_db_error(db));
    cr_expect_eq(lk_db_check(db), LK_OK, "%s", lk_db_error(db));

    lk_params p;
    int64_t bucket;
    int found;
    cr_assert_eq(lk_db_lookup(db, &a, &k, LK_MATCH_EXACT, &p, &bucket, &found), LK_OK);
    cr_expect(found && lk_params_get(&p, "M", -1) == 1, "best M=%d", lk_params_get(&p, "M", -1));
    lk_db_close(db);

    cr_assert_eq(lk_db_open(path, 0, &db, NULL, 0), LK_OK);
    cr_expect_eq(lk_db_record(db, &a, &k, &timeout), LK_ERR_DATABASE, "a reader wrote");
    lk_db_close(db);
    cr_expect_eq(lk_db_open(in_dir("missing.db"), 0, &db, NULL, 0), LK_ERR_IO);
}

Test(tunedb, a_candidate_timed_again_counts_at_its_latest_time)
{
    lk_device_info a = gpu_a();
    lk_db *db = open_writer(in_dir("t.db"));
    lk_tune_key k = key_at(4096);
    record(db, &a, &k, LK_DB_OK, "M=1,VARIANT=0", 1.0); /* a lucky first run */
    record(db, &a, &k, LK_DB_OK, "M=2,VARIANT=2", 1.1);
    record(db, &a, &k, LK_DB_OK, "M=3,VARIANT=2", 1.5);
    record(db, &a, &k, LK_DB_OK, "M=1,VARIANT=0", 1.3); /* the final round's side-by-side times */
    record(db, &a, &k, LK_DB_OK, "M=2,VARIANT=2", 1.2);
    lk_params p, must = {0};
    int64_t bucket;
    int found;
    double ms;
    cr_assert_eq(lk_db_lookup(db, &a, &k, LK_MATCH_EXACT, &p, &bucket, &found), LK_OK);
    cr_expect(found && lk_params_get(&p, "M", -1) == 2, "best M=%d", lk_params_get(&p, "M", -1));
    lk_params_set(&must, "VARIANT", 0);
    cr_assert_eq(lk_db_best_with(db, &a, &k, &must, &p, &ms, &found), LK_OK);
    cr_expect(found && ms == 1.3, "variant 0 at %g ms, not its latest 1.3", ms);
    record(db, &a, &k, LK_DB_WRONG_RESULT, "M=2,VARIANT=2", 0.1); /* only ok rows supersede */
    cr_assert_eq(lk_db_lookup(db, &a, &k, LK_MATCH_EXACT, &p, &bucket, &found), LK_OK);
    cr_expect(found && lk_params_get(&p, "M", -1) == 2, "best M=%d", lk_params_get(&p, "M", -1));
    cr_expect_eq(lk_db_check(db), LK_OK, "%s", lk_db_error(db));
    lk_params ranked[4];
    int n = 0;
    lk_tune_key near = key_at(1024);
    record(db, &a, &near, LK_DB_OK, "M=9", 1.0);
    cr_assert_eq(lk_db_ranked_near(db, &a, &near, ranked, 4, &n, &bucket), LK_OK);
    cr_expect(n == 3 && lk_params_get(&ranked[0], "M", -1) == 2 && lk_params_get(&ranked[1], "M", -1) == 1,
              "ranking at 4096 by latest times: n %d, first M=%d, second M=%d", n, lk_params_get(&ranked[0], "M", -1),
              lk_params_get(&ranked[1], "M", -1));
    lk_db_close(db);
}

/* lk-tune stores the kernels' version as tuner_version: once a key is timed by another version,
 * the earlier version's rows stop counting, however fast they were. */
Test(tunedb, rows_of_other_kernels_stop_counting_once_a_key_is_timed_again)
{
    lk_device_info a = gpu_a();
    lk_db *db = open_writer(in_dir("t.db"));
    lk_tune_key k = key_at(4096), other = key_at(16384);
    record_by(db, &a, &k, LK_DB_OK, "M=1", 1.0, "lk-tune kernels v1");
    record_by(db, &a, &k, LK_DB_OK, "M=2", 2.0, "lk-tune kernels v1");
    record_by(db, &a, &other, LK_DB_OK, "M=1", 1.0, "lk-tune kernels v1");
    lk_params p;
    int64_t bucket;
    int found, has;
    cr_assert_eq(lk_db_lookup(db, &a, &k, LK_MATCH_EXACT, &p, &bucket, &found), LK_OK);
    cr_expect(found && lk_params_get(&p, "M", -1) == 1, "v1: best M=%d", lk_params_get(&p, "M", -1));
    record_by(db, &a, &k, LK_DB_REJECTED, "M=4", -1, "lk-tune kernels v2"); /* only ok rows supersede */
    cr_assert_eq(lk_db_lookup(db, &a, &k, LK_MATCH_EXACT, &p, &bucket, &found), LK_OK);
    cr_expect(found && lk_params_get(&p, "M", -1) == 1, "a rejected v2 row: best M=%d", lk_params_get(&p, "M", -1));
    record_by(db, &a, &k, LK_DB_OK, "M=3", 3.0, "lk-tune kernels v2");
    cr_assert_eq(lk_db_lookup(db, &a, &k, LK_MATCH_EXACT, &p, &bucket, &found), LK_OK);
    cr_expect(found && lk_params_get(&p, "M", -1) == 3, "v2 timed: best M=%d, a v1 row", lk_params_get(&p, "M", -1));
    record_by(db, &a, &k, LK_DB_OK, "M=2", 2.5, "lk-tune kernels v2");
    cr_assert_eq(lk_db_lookup(db, &a, &k, LK_MATCH_EXACT, &p, &bucket, &found), LK_OK);
    cr_expect(found && lk_params_get(&p, "M", -1) == 2, "best M=%d", lk_params_get(&p, "M", -1));
    cr_assert_eq(lk_db_lookup(db, &a, &other, LK_MATCH_EXACT, &p, &bucket, &found), LK_OK);
    cr_expect(found && lk_params_get(&p, "M", -1) == 1, "another key keeps its v1 row");
    lk_params m1 = {0};
    lk_params_set(&m1, "M", 1);
    cr_assert_eq(lk_db_measured(db, &a, &k, &m1, "lk-tune kernels v2", &has), LK_OK);
    cr_expect(!has, "M=1 was measured by v1 only: v2 measures it again");
    cr_assert_eq(lk_db_measured(db, &a, &k, &m1, "lk-tune kernels v1", &has), LK_OK);
    cr_expect(has);
    cr_assert_eq(lk_db_measured(db, &a, &k, &m1, NULL, &has), LK_OK);
    cr_expect(has, "any version");
    cr_expect_eq(lk_db_check(db), LK_OK, "%s", lk_db_error(db));
    lk_db_close(db);
}

Test(tunedb, check_detects_a_best_row_that_disagrees)
{
    lk_device_info a = gpu_a();
    const char *path = in_dir("t.db");
    put(path, &a, 4096, "M=1", 1.0);
    raw_sql(path, "UPDATE best SET median_ms = 5.0;");
    lk_db *db;
    cr_assert_eq(lk_db_open(path, 0, &db, NULL, 0), LK_OK);
    cr_expect_eq(lk_db_check(db), LK_ERR_DATABASE, "the checker accepted a wrong best row");
    cr_expect(strstr(lk_db_error(db), "1 best rows"), "%s", lk_db_error(db));
    lk_db_close(db);
}

/* ---- CSV -------------------------------------------------------------------------------- */

Test(tunedb, csv_export_import_round_trip)
{
    lk_device_info a = gpu_a();
    lk_device_info odd = device(LK_BACKEND_CUDA, "Odd, \"Quoted\" Vendor", "GPU, rev 2", "555.1", LK_DEVICE_GPU);
    lk_db *src = open_writer(in_dir("src.db"));
    for (int b = 512; b <= 131072; b *= 4) {
        lk_tune_key k = key_at(b);
        record(src, &a, &k, LK_DB_OK, "BLOCK_M=64,BLOCK_N=32", b / 1000.0 + 0.123456789);
        record(src, &a, &k, LK_DB_BUILD_FAILED, "BLOCK_M=256,BLOCK_N=256", -1);
        record(src, &odd, &k, LK_DB_OK, "BLOCK_M=128,STAGES=2", b / 3000.0);
        snprintf(k.family, sizeof k.family, "%s", "");
        k.flag = 0;
        record(src, &odd, &k, LK_DB_OK, "VARIANT=2", 0.5);
    }
    char *first = export_text(src);
    cr_expect_eq(data_lines(first), 3 * 5, "rows exported:\n%s", first);
    cr_expect(strstr(first, "\"GPU, rev 2\"") && strstr(first, "\"Odd, \"\"Quoted\"\" Vendor\""),
              "quoting:\n%s", first);
    cr_expect(strstr(first, "# device: GPU, rev 2"), "device comment:\n%s", first);

    lk_db *dst = open_writer(in_dir("dst.db"));
    FILE *in = fmemopen(first, strlen(first), "r");
    int rows = 0;
    cr_assert_eq(lk_db_import_csv(dst, in, "first.csv", &rows), LK_OK, "%s", lk_db_error(dst));
    fclose(in);
    cr_expect_eq(rows, 15);
    char *second = export_text(dst);
    cr_expect_str_eq(second, first, "round trip differs:\n--- first\n%s--- second\n%s", first, second);
    cr_expect_eq(lk_db_check(dst), LK_OK, "%s", lk_db_error(dst));

    lk_tune_key k = key_at(3000); /* tuned at 2048 and 8192: a tie, the larger */
    lk_params p;
    int64_t bucket;
    int found;
    cr_assert_eq(lk_db_lookup(dst, &odd, &k, LK_MATCH_EXACT, &p, &bucket, &found), LK_OK);
    cr_expect(found && bucket == 8192 && lk_params_get(&p, "STAGES", 0) == 2, "found %d bucket %lld", found,
              (long long)bucket);
    free(first);
    free(second);
    lk_db_close(src);
    lk_db_close(dst);
}

Test(tunedb, malformed_csv_imports_nothing_and_names_the_line)
{
    static const char good[] = "opencl,Acme,Acme X100,1.0,gpu,8,65536,1000,\"opencl|Acme|Acme X100|1.0|8|65536|1000\","
                               "attention_fwd,plain,f16,128,1,4096,\"BLOCK_M=64\",1.5,1.4,1.6\n";
    static const struct { const char *row; const char *message; } cases[] = {
        {"opencl,Acme,Acme X100,1.0,gpu,8,65536,1000\n", "8 fields"},
        {"opencl,Acme,X,1.0,gpu,8,65536,1000,fp,attention_fwd,plain,f16,128,1,3000,\"A=1\",1,1,1\n", "power of two"},
        {"opencl,Acme,X,1.0,gpu,8,65536,1000,fp,attention_fwd,plain,f16,128,1,4096,\"A=1\",fast,1,1\n", "median_ms"},
        {"opencl,Acme,X,1.0,gpu,8,65536,1000,fp,attention_fwd,plain,f64,128,1,4096,\"A=1\",1,1,1\n", "dtype"},
        {"vulkan,Acme,X,1.0,gpu,8,65536,1000,fp,attention_fwd,plain,f16,128,1,4096,\"A=1\",1,1,1\n", "backend"},
        {"opencl,Acme,X,1.0,gpu,8,65536,1000,fp,attention_fwd,plain,f16,128,1,4096,\"BLOCK_M\",1,1,1\n", "params"},
        {"opencl,Acme,X,1.0,gpu,8,65536,1000,fp,attention_fwd,plain,f16,128,1,4096,\"A=1,1,1,1\n", "not closed"},
        {"opencl,Ac\"me,X,1.0,gpu,8,65536,1000,fp,attention_fwd,plain,f16,128,1,4096,\"A=1\",1,1,1\n", "quote"},
        {"opencl,Acme,X,1.0,gpu,8,-1,1000,fp,attention_fwd,plain,f16,128,1,4096,\"A=1\",1,1,1\n", "local_mem"},
        {"opencl,Acme,X,1.0,gpu,8,65536,1000,fp,attention_fw,plain,f16,128,1,4096,\"A=1\",1,1,1\n", "not a tuned op"},
        /* parameters the op does not read, or values outside their static range (lk_op_params_check) */
        {"opencl,Acme,X,1.0,gpu,8,65536,1000,fp,attention_fwd,plain,f16,128,1,4096,\"BLOCKM=64\",1,1,1\n",
         "attention_fwd has no parameter BLOCKM"},
        {"opencl,Acme,X,1.0,gpu,8,65536,1000,fp,attention_fwd,rope,f16,128,1,4096,\"BLOCK_M=64,STAGES=0\",1,1,1\n",
         "attention_fwd: parameter STAGES=0"},
        {"opencl,Acme,X,1.0,gpu,8,65536,1000,fp,kda_fwd,,f16,128,0,4096,\"CHUNK=48,SUB=16\",1,1,1\n",
         "kda_fwd: parameter CHUNK=48"},
        {"opencl,Acme,X,1.0,gpu,8,65536,1000,fp,kivi_decode,k2v2,f16,128,32,4096,\"SPLITS=-1\",1,1,1\n",
         "kivi_decode: parameter SPLITS=-1"},
        {"opencl,Acme,X,1.0,gpu,8,65536,1000,fp,lowrank_decode,k4v4,f16,128,64,4096,\"DIRECT=1\",1,1,1\n",
         "lowrank_decode: parameter DIRECT=1"},
        {"opencl,Acme,X,1.0,gpu,8,65536,1000,fp,kv_sparse,plain,f16,128,0,4096,\"WG=64,KBUF=1\",1,1,1\n",
         "kv_sparse has no parameter KBUF"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[64], text[2048];
        snprintf(name, sizeof name, "case%zu.db", i);
        snprintf(text, sizeof text, "# comment line\n%s%s%s", csv_header, good, cases[i].row);
        lk_db *db = open_writer(in_dir(name));
        FILE *in = fmemopen(text, strlen(text), "r");
        int rows = -1;
        cr_expect_eq(lk_db_import_csv(db, in, "bad.csv", &rows), LK_ERR_DATABASE, "case %zu imported:\n%s", i, text);
        fclose(in);
        cr_expect(strstr(lk_db_error(db), "bad.csv:4:") && strstr(lk_db_error(db), cases[i].message),
                  "case %zu: message '%s' should name line 4 and '%s'", i, lk_db_error(db), cases[i].message);
        cr_expect_eq(rows, 0);
        char *out = export_text(db);
        cr_expect_eq(data_lines(out), 0, "case %zu: rows were imported:\n%s", i, out);
        free(out);
        lk_db_close(db);
    }
    /* No header at all. */
    lk_db *db = open_writer(in_dir("nohdr.db"));
    FILE *in = fmemopen((void *)good, strlen(good), "r");
    cr_expect_eq(lk_db_import_csv(db, in, "x.csv", NULL), LK_ERR_DATABASE);
    cr_expect(strstr(lk_db_error(db), "x.csv:1:"), "%s", lk_db_error(db));
    fclose(in);
    lk_db_close(db);
}

/* ---- the static check of parameters ---------------------------------------------------- */

/* lk_op_params_check: every name an op reads, each within its static range, passes (names may be
 * missing); an unknown name, a value outside the range, an unknown op fail with the op, the name
 * and the value in the message. */
Test(tunedb, static_check_knows_each_ops_names_and_ranges)
{
    static const struct { const char *op, *params; } good[] = {
        {"attention_fwd", ""},
        {"attention_fwd", "VARIANT=2,ROPE_TABLE=1,BLOCK_M=64,BLOCK_N=32,STAGES=2"},
        {"attention_fwd", "MMA=2,WARPS=12,BLOCK_M=192,BLOCK_N=128,STAGES=4,OVERLAP=1,PRODUCER=1"},
        {"attention_fwd", "MMA=1,WARPS=4,BLOCK_M=128,BLOCK_N=64,STAGES=1,QSMEM=1"},
        {"attention_bwd", "VARIANT=0,BLOCK_M1=8,BLOCK_N1=64,BLOCK_M2=64,BLOCK_N2=16"},
        {"attention_bwd", "MMA=1,WARPS=8,BLOCK_N=256,BLOCK_M=16,STAGES=3"},
        {"attention_decode", "SPLITS=0,BLOCK_N=64,WG=128"},
        {"kv_sparse", "VARIANT=1,DIRECT=3,LOADER=1,SPLITS=4096,BLOCK_N=1,WG=32"},
        {"kivi_decode", "DIRECT=1,KBUF=2,SPLITS=8,BLOCK_N=256,WG=64"},
        {"lowrank_decode", "DIRECT=3,KBUF=1,SPLITS=0,BLOCK_N=128,WG=256"},
        {"kda_fwd", "CHUNK=64,SUB=16,BV=16,WG=128,OBV=64,MMA=1,SMMA=1,CMMA=1,SCR16=1,STAGES=7"},
    };
    static const struct { const char *op, *params, *message; } bad[] = {
        {"attention_fwd", "BLOCKM=64", "attention_fwd has no parameter BLOCKM (=64)"},
        {"attention_fwd", "BLOCK_M=0", "attention_fwd: parameter BLOCK_M=0 is out of range (>= 1)"},
        {"attention_fwd", "BLOCK_N=-16", "attention_fwd: parameter BLOCK_N=-16 is out of range (1..256)"},
        {"attention_fwd", "STAGES=5", "attention_fwd: parameter STAGES=5 is out of range (1..4)"},
        {"attention_fwd", "VARIANT=3", "attention_fwd: parameter VARIANT=3"},
        {"attention_fwd", "WARPS=6", "attention_fwd: parameter WARPS=6 is out of range (one of 4, 8, 12)"},
        {"attention_fwd", "MMA=3", "attention_fwd: parameter MMA=3"},
        {"attention_fwd", "SPLITS=4", "attention_fwd has no parameter SPLITS"},
        {"attention_bwd", "BLOCK_M=48",
         "attention_bwd: parameter BLOCK_M=48 is out of range (a power of two in 16..64)"},
        {"attention_bwd", "MMA=2", "attention_bwd: parameter MMA=2"},
        {"attention_bwd", "BLOCK_N1=512", "attention_bwd: parameter BLOCK_N1=512"},
        {"attention_decode", "BLOCK_N=48",
         "attention_decode: parameter BLOCK_N=48 is out of range (a power of two in 1..64)"},
        {"attention_decode", "SPLITS=4097", "attention_decode: parameter SPLITS=4097 is out of range (0..4096)"},
        {"attention_decode", "WG=0", "attention_decode: parameter WG=0"},
        {"kv_sparse", "BLOCK_N=128", "kv_sparse: parameter BLOCK_N=128"},
        {"kv_sparse", "DIRECT=4", "kv_sparse: parameter DIRECT=4"},
        {"kivi_decode", "KBUF=3", "kivi_decode: parameter KBUF=3 is out of range (1..2)"},
        {"kivi_decode", "BLOCK_N=512", "kivi_decode: parameter BLOCK_N=512"},
        {"lowrank_decode", "DIRECT=1", "lowrank_decode: parameter DIRECT=1 is out of range (one of 0, 2, 3)"},
        {"kda_fwd", "SUB=12", "kda_fwd: parameter SUB=12 is out of range (a power of two in 1..64)"},
        {"kda_fwd", "CHUNK=128", "kda_fwd: parameter CHUNK=128"},
        {"kda_fwd", "OBV=66", "kda_fwd: parameter OBV=66 is out of range (a multiple of 4 in 4..256)"},
        {"kda_fwd", "STAGES=3", "kda_fwd: parameter STAGES=3 is out of range (7)"},
        {"kda_fwd", "KT=16", "kda_fwd has no parameter KT"},
        {"attention_fw", "BLOCK_M=64", "'attention_fw' is not a tuned op"},
    };
    lk_params p;
    char why[512];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        cr_assert_eq(lk_params_parse(good[i].params, &p), LK_OK);
        cr_expect_eq(lk_op_params_check(good[i].op, &p, why, sizeof why), LK_OK, "%s '%s' refused: %s", good[i].op,
                     good[i].params, why);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(lk_params_parse(bad[i].params, &p), LK_OK);
        cr_expect_eq(lk_op_params_check(bad[i].op, &p, why, sizeof why), LK_ERR_INVALID_ARGUMENT, "%s '%s' passed",
                     bad[i].op, bad[i].params);
        cr_expect(strstr(why, bad[i].message), "%s '%s': message '%s' lacks '%s'", bad[i].op, bad[i].params, why,
                  bad[i].message);
    }
    cr_assert_eq(lk_params_parse("BLOCK_M=64", &p), LK_OK);
    cr_expect_eq(lk_op_params_check("attention_fwd", &p, NULL, 0), LK_OK);
    cr_expect_eq(lk_op_params_check(NULL, &p, NULL, 0), LK_ERR_INVALID_ARGUMENT);
    char names[256];
    lk_tune_op_names(names, sizeof names);
    cr_expect_str_eq(names, "attention_fwd, attention_bwd, attention_decode, kda_fwd, kv_sparse, kivi_decode, "
                            "lowrank_decode");
}

/* A row the static check refuses (another version's names, a hand edit) is skipped at lookup with
 * one warning naming the file, the op and the parameter: the next layer serves, else the defaults. */
Test(tunedb, a_row_failing_the_static_check_is_skipped_with_one_warning)
{
    lk_device_info a = gpu_a();
    const char *env = in_dir("env.db"), *sys = in_dir("sys.db");
    put(env, &a, 4096, "BLOCKM=64", 1.0);
    put(sys, &a, 4096, "BLOCK_M=32,STAGES=2", 1.0);
    setenv("LK_TUNING_DB", env, 1);
    setenv("LK_SYSTEM_DB", sys, 1);
    const char *log = in_dir("stderr.txt");
    lk_context *ctx = fake_context(&a);
    char got[256];
    lk_lookup_result r[3];
    int saved = capture_begin(log);
    for (int i = 0; i < 3; i++)
        r[i] = look_ctx(ctx, 4000, got, sizeof got);
    capture_end(saved);
    free_context(ctx);
    for (int i = 0; i < 3; i++)
        cr_expect_eq(r[i].source, LK_SOURCE_SYSTEM_DB, "lookup %d: %s", i, lk_param_source_name(r[i].source));
    cr_expect_str_eq(got, "BLOCK_M=32,STAGES=2");
    cr_expect_eq(count_lines_with(log, "tuning row skipped"), 1, "one warning for three lookups");
    cr_expect_eq(count_lines_with(log, env), 1, "the warning names %s", env);
    cr_expect_eq(count_lines_with(log, "attention_fwd has no parameter BLOCKM"), 1, "the warning names op and name");

    /* The only row refused: the defaults, laid over nothing. */
    put(sys, &a, 4096, "BLOCK_M=32,STAGES=9", 0.5);
    saved = capture_begin(log);
    expect(&a, 4000, "", LK_SOURCE_DEFAULT, LK_MATCH_NONE, 0);
    capture_end(saved);
    cr_expect_eq(count_lines_with(log, "tuning row skipped"), 2, "a warning per refused layer");
    cr_expect_eq(count_lines_with(log, "STAGES=9 is out of range"), 1, "the system row's warning");
}

/* ---- concurrency and crashes ------------------------------------------------------------ */

/* The last writer to close leaves the rollback journal, so the library's read-only lookups
 * create no -wal/-shm files beside the database; while a reader has it open, a writer closes
 * without waiting and the file stays in WAL mode. */
Test(tunedb, read_only_opens_leave_no_side_files)
{
    lk_device_info a = gpu_a();
    const char *path = in_dir("side.db");
    char wal[4200], shm[4200];
    snprintf(wal, sizeof wal, "%s-wal", path);
    snprintf(shm, sizeof shm, "%s-shm", path);
    put(path, &a, 4096, "STAGES=1", 1.0);
    cr_expect(!exists(wal) && !exists(shm), "the writer left side files");

    setenv("LK_TUNING_DB", path, 1);
    lk_context *ctx = fake_context(&a);
    char got[256];
    cr_expect_eq(look_ctx(ctx, 4096, got, sizeof got).source, LK_SOURCE_ENV_DB);
    cr_expect_str_eq(got, "STAGES=1");
    free_context(ctx);
    cr_expect(!exists(wal) && !exists(shm), "a read-only lookup left side files");

    lk_db *reader = NULL, *writer = open_writer(path);
    char err[1024];
    cr_assert_eq(lk_db_open(path, 0, &reader, err, sizeof err), LK_OK, "%s", err);
    lk_tune_key k = key_at(8192);
    record(writer, &a, &k, LK_DB_OK, "A=2", 1.0);
    time_t t0 = time(NULL);
    lk_db_close(writer);
    cr_expect(time(NULL) - t0 < 2, "the writer's close waited for the reader");
    lk_params p;
    int64_t bucket;
    int found;
    cr_expect_eq(lk_db_lookup(reader, &a, &k, LK_MATCH_EXACT, &p, &bucket, &found), LK_OK);
    cr_expect(found && lk_params_get(&p, "A", 0) == 2, "the reader misses the row written beside it");
    lk_db_close(reader);
    put(path, &a, 16384, "A=3", 1.0); /* the next writer alone cleans up */
    cr_expect(!exists(wal) && !exists(shm), "side files stayed after the last writer");
}

Test(tunedb, reader_during_writes_sees_every_commit_in_order)
{
    lk_device_info a = gpu_a();
    const char *env = in_dir("env.db");
    put(env, &a, 4096, "BLOCK_M=1", 10000.0); /* before the child's rows (BLOCK_M 0 would fail the lookup's check) */
    setenv("LK_TUNING_DB", env, 1);
    enum { N = 2000 };
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        lk_db *db;
        if (lk_db_open(env, 1, &db, NULL, 0) != LK_OK)
            _exit(2);
        lk_tune_key k = key_at(4096);
        for (int i = 1; i <= N; i++) {
            char params[32];
            snprintf(params, sizeof params, "BLOCK_M=%d", i);
            lk_db_measurement m = {LK_DB_OK, params, NULL, N + 1.0 - i, 1, 1, 3, "test"};
            if (lk_db_record(db, &a, &k, &m) != LK_OK) {
                fprintf(stderr, "child: %s\n", lk_db_error(db));
                _exit(1);
            }
        }
        lk_db_close(db);
        _exit(0);
    }
    lk_context *ctx = fake_context(&a);
    int lookups = 0, last = 0, status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        char got[64];
        lk_lookup_result r = look_ctx(ctx, 4096, got, sizeof got);
        int m = -1;
        sscanf(got, "BLOCK_M=%d", &m);
        cr_assert_eq(r.source, LK_SOURCE_ENV_DB, "lookup %d: source %s", lookups, lk_param_source_name(r.source));
        cr_assert(m >= last && m <= N, "lookup %d: BLOCK_M=%d after %d", lookups, m, last);
        last = m;
        lookups++;
    }
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer child failed (status %d)", status);
    free_context(ctx); /* a context remembers answers for a moment (state.h); a new one asks the file */
    ctx = fake_context(&a);
    char got[64];
    look_ctx(ctx, 4096, got, sizeof got);
    cr_expect_str_eq(got, "BLOCK_M=2000");
    cr_expect_gt(lookups, 10, "only %d lookups ran during the writes", lookups);
    free_context(ctx);
}

Test(tunedb, killed_writer_leaves_a_consistent_database_and_the_next_one_resumes)
{
    lk_device_info a = gpu_a();
    const char *path = in_dir("tune.db");
    lk_db_close(open_writer(path));
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        lk_db *db;
        if (lk_db_open(path, 1, &db, NULL, 0) != LK_OK)
            _exit(2);
        /* Medians fall, so every ok measurement becomes its key's best: a measurement stored
         * without its best row would show in the check. */
        for (int i = 0;; i++) {
            lk_tune_key k = key_at((int64_t)1 << (8 + i % 6));
            char params[32];
            snprintf(params, sizeof params, "BLOCK_M=%d", i);
            double ms = 1000.0 - i * 1e-3;
            lk_db_measurement m = {i % 5 == 4 ? LK_DB_LAUNCH_FAILED : LK_DB_OK, params, NULL, ms, ms, ms, 5, "t"};
            if (lk_db_record(db, &a, &k, &m) != LK_OK)
                _exit(1);
        }
    }
    struct timespec wait = {0, 200 * 1000 * 1000};
    nanosleep(&wait, NULL);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the writer ended early (status %d)", status);

    lk_db *db = open_writer(path);
    cr_expect_eq(lk_db_check(db), LK_OK, "after the kill: %s", lk_db_error(db));
    lk_tune_key k = key_at(256);
    int has = 0;
    cr_assert_eq(lk_db_has_best(db, &a, &k, &has), LK_OK);
    cr_expect_eq(has, 1, "the killed writer recorded nothing in 200 ms");
    record(db, &a, &k, LK_DB_OK, "BLOCK_M=-7", 1e-6);
    lk_params p;
    int64_t bucket;
    int found;
    cr_assert_eq(lk_db_lookup(db, &a, &k, LK_MATCH_EXACT, &p, &bucket, &found), LK_OK);
    cr_expect(found && lk_params_get(&p, "BLOCK_M", 0) == -7, "the new best was not taken (BLOCK_M=%d)",
              lk_params_get(&p, "BLOCK_M", 0));
    cr_expect_eq(lk_db_check(db), LK_OK, "after resuming: %s", lk_db_error(db));
    lk_db_close(db);
}

Test(tunedb, ranking_at_the_nearest_tuned_length_seeds_the_next)
{
    lk_device_info a = gpu_a(), b = device(LK_BACKEND_OPENCL, "Acme", "Acme X200", "1.0", LK_DEVICE_GPU);
    lk_db *db = open_writer(in_dir("rank.db"));
    lk_tune_key k512 = key_at(512), k2k = key_at(2048), k1k = key_at(1024), k64k = key_at(65536);
    record(db, &a, &k512, LK_DB_OK, "M=1", 3.0);
    record(db, &a, &k512, LK_DB_OK, "M=2", 1.0);
    record(db, &a, &k512, LK_DB_OK, "M=1", 2.0);        /* a repeat: ranked once, by its best */
    record(db, &a, &k512, LK_DB_WRONG_RESULT, "M=9", 0.1); /* never a seed */
    record(db, &a, &k2k, LK_DB_OK, "M=7", 1.0);
    record(db, &b, &k1k, LK_DB_OK, "M=5", 0.5);          /* another device: ignored */
    lk_params seeds[4];
    int n = -1;
    int64_t from = -1;
    /* 1024 is one octave from 512 and from 2048: the tie goes to the smaller */
    cr_assert_eq(lk_db_ranked_near(db, &a, &k1k, seeds, 4, &n, &from), LK_OK, "%s", lk_db_error(db));
    cr_expect_eq(from, 512);
    cr_assert_eq(n, 2);
    cr_expect_eq(lk_params_get(&seeds[0], "M", -1), 2);
    cr_expect_eq(lk_params_get(&seeds[1], "M", -1), 1);
    cr_assert_eq(lk_db_ranked_near(db, &a, &k64k, seeds, 1, &n, &from), LK_OK);
    cr_expect(from == 2048 && n == 1 && lk_params_get(&seeds[0], "M", -1) == 7, "from %lld n %d", (long long)from, n);
    cr_assert_eq(lk_db_ranked_near(db, &a, &k512, seeds, 4, &n, &from), LK_OK); /* its own bucket never seeds */
    cr_expect_eq(from, 2048);
    cr_assert_eq(lk_db_ranked_near(db, &b, &k1k, seeds, 4, &n, &from), LK_OK);
    cr_expect(n == 0 && from == 0, "only b's own bucket is tuned: n %d from %lld", n, (long long)from);
    lk_db_close(db);
}

Test(tunedb, compare_judges_picks_by_the_reference_measurements)
{
    lk_device_info a = gpu_a();
    const char *ref = in_dir("exhaustive.db"), *tuned = in_dir("budget.db");
    lk_db *db = open_writer(ref);
    lk_tune_key k1 = key_at(1024), k2 = key_at(4096), k3 = key_at(8192);
    record(db, &a, &k1, LK_DB_OK, "M=1", 1.00);
    record(db, &a, &k1, LK_DB_OK, "M=2", 1.04);
    record(db, &a, &k2, LK_DB_OK, "M=1", 2.00);
    record(db, &a, &k2, LK_DB_OK, "M=2", 2.50);
    lk_db_close(db);
    db = open_writer(tuned);
    record(db, &a, &k1, LK_DB_OK, "M=2", 0.90); /* 1.04 in the reference: within 5% */
    record(db, &a, &k2, LK_DB_OK, "M=2", 1.90); /* 2.50 / 2.00: beyond */
    record(db, &a, &k3, LK_DB_OK, "M=2", 3.00); /* not in the reference: not compared */
    lk_db_close(db);

    cr_assert_eq(lk_db_open(ref, 0, &db, NULL, 0), LK_OK);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    int compared = -1, beyond = -1;
    cr_assert_eq(lk_db_compare(db, tuned, 0.05, out, &compared, &beyond), LK_OK, "%s", lk_db_error(db));
    fclose(out);
    cr_expect_eq(compared, 2, "%s", text);
    cr_expect_eq(beyond, 1, "%s", text);
    cr_expect(strstr(text, "1.040") && strstr(text, "1.250"), "ratios in:\n%s", text);
    free(text);
    cr_expect_eq(lk_db_compare(db, in_dir("not-a-db.txt"), 0.05, stderr, &compared, &beyond), LK_ERR_DATABASE);
    lk_db_close(db);
}
