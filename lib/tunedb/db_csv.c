/* The text form of a tuning database: CSV of the best rows, committed as
 * results/<device>/tuning.csv and imported into the system database at build time.
 *
 *   # comment lines start with '#' (the export's header states what, when and how)
 *   backend,vendor,device_name,driver,device_type,compute_units,local_mem,clock_mhz,fingerprint,
 *   op,family,dtype,head_dim,flag,bucket,params,median_ms,min_ms,p80_ms      (one line)
 *   opencl,NVIDIA Corporation,NVIDIA H100,550.54,gpu,132,49152,1980,"opencl|...",attention_fwd,
 *   rope,f16,128,1,4096,"BLOCK_M=64,BLOCK_N=32",0.52,0.51,0.53
 *
 * Fields follow RFC 4180: a field holding a comma, quote or line break is quoted, with quotes
 * doubled; params is always quoted. backend is opencl|cuda, device_type cpu|gpu|other, dtype
 * f32|f16|i32|u32, bucket a power of two, times in milliseconds. Blank lines are skipped. An
 * import takes a file whole or not at all: a row that fails, params naming a parameter its op does
 * not read or a value outside the parameter's static range (lk_op_params_check) included, fails
 * the file with its name and line. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"
#include "../ops/op_params_check.h"

static const char *const columns[] = {"backend", "vendor", "device_name", "driver", "device_type",
                                      "compute_units", "local_mem", "clock_mhz", "fingerprint", "op",
                                      "family", "dtype", "head_dim", "flag", "bucket", "params",
                                      "median_ms", "min_ms", "p80_ms"};
#define N_COLUMNS (int)(sizeof columns / sizeof columns[0])
enum { C_BACKEND, C_VENDOR, C_NAME, C_DRIVER, C_TYPE, C_CUS, C_LMEM, C_CLOCK, C_FINGERPRINT, C_OP,
       C_FAMILY, C_DTYPE, C_HEAD_DIM, C_FLAG, C_BUCKET, C_PARAMS, C_MEDIAN, C_MIN, C_P80 };

/* ---- export ---------------------------------------------------------------------------- */

static void put_field(FILE *out, const char *s, int always_quote)
{
    if (!always_quote && !strpbrk(s, ",\"\r\n") && s[0] != '#') {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

/* Comment text, one "# " line per line of text. */
static void put_comment(FILE *out, const char *text)
{
    fputs("# ", out);
    for (; *text; text++) {
        if (*text == '\r')
            continue;
        fputc(*text, out);
        if (*text == '\n')
            fputs("# ", out);
    }
    fputc('\n', out);
}

static lk_status export_devices(lk_db *db, FILE *out)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h,
                           "SELECT printf('device: %s, %s, driver %s (%s)', name, vendor, driver, backend)"
                           " FROM devices WHERE id IN (SELECT device_id FROM best) ORDER BY fingerprint",
                           -1, &st, NULL) != SQLITE_OK)
        return lk_db_sql_fail(db, "listing devices");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        put_comment(out, (const char *)sqlite3_column_text(st, 0));
    lk_status s = rc == SQLITE_DONE ? LK_OK : lk_db_sql_fail(db, "listing devices");
    sqlite3_finalize(st);
    return s;
}

lk_status lk_db_export_csv(lk_db *db, FILE *out, const char *comment)
{
    if (comment && *comment)
        put_comment(out, comment);
    lk_status s = db->empty ? LK_OK : export_devices(db, out);
    if (s != LK_OK)
        return s;
    for (int i = 0; i < N_COLUMNS; i++)
        fprintf(out, "%s%s", i ? "," : "", columns[i]);
    fputc('\n', out);
    if (db->empty)
        return ferror(out) ? lk_db_fail(db, "writing the CSV failed") : LK_OK;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h,
                           "SELECT d.backend, d.vendor, d.name, d.driver, d.device_type, d.compute_units,"
                           " d.local_mem, d.clock_mhz, d.fingerprint, b.op, b.family, b.dtype, b.head_dim,"
                           " b.flag, b.bucket, b.params, b.median_ms, b.min_ms, b.p80_ms"
                           " FROM best b JOIN devices d ON d.id = b.device_id"
                           " ORDER BY d.fingerprint, b.op, b.family, b.dtype, b.head_dim, b.flag, b.bucket",
                           -1, &st, NULL) != SQLITE_OK)
        return lk_db_sql_fail(db, "exporting");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < N_COLUMNS; i++) {
            if (i)
                fputc(',', out);
            if (i >= C_MEDIAN)
                fprintf(out, "%.6g", sqlite3_column_double(st, i));
            else if (sqlite3_column_type(st, i) == SQLITE_INTEGER)
                fprintf(out, "%lld", (long long)sqlite3_column_int64(st, i));
            else if (sqlite3_column_type(st, i) == SQLITE_NULL) /* a damaged row: an empty field, not a crash */
                put_field(out, "", i == C_PARAMS);
            else
                put_field(out, (const char *)sqlite3_column_text(st, i), i == C_PARAMS);
        }
        fputc('\n', out);
    }
    s = rc == SQLITE_DONE ? LK_OK : lk_db_sql_fail(db, "exporting");
    sqlite3_finalize(st);
    if (s == LK_OK && ferror(out))
        s = lk_db_fail(db, "writing the CSV failed");
    return s;
}

lk_status lk_db_export_csv_file(lk_db *db, const char *path, const char *comment)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return lk_db_fail(db, "export path too long: %s", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return lk_db_fail(db, "cannot write %s: %s", tmp, strerror(errno));
    lk_status st = lk_db_export_csv(db, f, comment);
    if (fclose(f) != 0 && st == LK_OK)
        st = lk_db_fail(db, "writing %s failed: %s", tmp, strerror(errno));
    if (st == LK_OK && rename(tmp, path) != 0)
        st = lk_db_fail(db, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (st != LK_OK)
        remove(tmp);
    return st;
}

/* ---- reading records ------------------------------------------------------------------- */

#define MAX_FIELDS 32

typedef struct csv_reader {
    FILE *in;
    long line;                /* physical line being read, from 1 */
    char *buf;
    size_t len, cap;
    size_t at[MAX_FIELDS];    /* start of each field in buf */
    int n;                    /* fields in the record (may exceed MAX_FIELDS) */
    const char *error;
} csv_reader;

static int push(csv_reader *r, char ch)
{
    if (r->len + 1 > r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 1024;
        char *p = realloc(r->buf, cap);
        if (!p) {
            r->error = "out of memory";
            return -1;
        }
        r->buf = p;
        r->cap = cap;
    }
    r->buf[r->len++] = ch;
    return 0;
}

/* Next record: 1, 0 at the end, -1 on a syntax error (r->error). Skips blank and '#' lines. */
static int read_record(csv_reader *r, long *line)
{
    int ch;
    for (;;) {
        ch = getc(r->in);
        if (ch == EOF)
            return 0;
        if (ch == '#')
            while ((ch = getc(r->in)) != EOF && ch != '\n') {
            }
        if (ch == '\n')
            r->line++;
        else if (ch != '\r' && ch != EOF)
            break;
    }
    *line = r->line;
    r->len = 0;
    r->n = 0;
    for (;;) {
        size_t start = r->len;
        if (ch == '"') {
            for (;;) {
                ch = getc(r->in);
                if (ch == EOF) {
                    r->error = "a quoted field is not closed";
                    return -1;
                }
                if (ch == '"' && (ch = getc(r->in)) != '"')
                    break;
                r->line += ch == '\n';
                if (push(r, (char)ch))
                    return -1;
            }
            if (ch == '\r')
                ch = getc(r->in);
            if (ch != ',' && ch != '\n' && ch != EOF) {
                r->error = "text after a closing quote";
                return -1;
            }
        } else {
            for (; ch != ',' && ch != '\n' && ch != EOF; ch = getc(r->in)) {
                if (ch == '"') {
                    r->error = "a quote inside an unquoted field";
                    return -1;
                }
                if (ch != '\r' && push(r, (char)ch))
                    return -1;
            }
        }
        if (push(r, '\0'))
            return -1;
        if (r->n < MAX_FIELDS)
            r->at[r->n] = start;
        r->n++;
        if (ch != ',')
            break;
        ch = getc(r->in);
    }
    r->line += ch == '\n';
    return 1;
}

/* ---- import ---------------------------------------------------------------------------- */

static int parse_int(const char *s, int64_t lo, int64_t hi, int64_t *v)
{
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (!*s || *end || errno || x < lo || x > hi)
        return 0;
    *v = x;
    return 1;
}

static int parse_ms(const char *s, double *v)
{
    char *end;
    *v = strtod(s, &end);
    return *s && !*end && isfinite(*v) && *v >= 0;
}

/* Copy a text field into a fixed-size struct field. */
static lk_status copy_text(lk_db *db, char *dst, size_t n, const char *src, int col)
{
    if (strlen(src) >= n)
        return lk_db_fail(db, "%s is longer than %zu characters", columns[col], n - 1);
    memcpy(dst, src, strlen(src) + 1);
    return LK_OK;
}

static lk_status import_row(lk_db *db, char *const *f)
{
    lk_device_info dev;
    lk_tune_key key;
    memset(&dev, 0, sizeof dev);
    memset(&key, 0, sizeof key);
    int64_t v[N_COLUMNS] = {0};
    static const struct { int col; int64_t lo, hi; } ints[] = {
        {C_CUS, 0, INT32_MAX}, {C_LMEM, 0, INT64_MAX}, {C_CLOCK, 0, INT32_MAX},
        {C_HEAD_DIM, 0, INT32_MAX}, {C_FLAG, INT32_MIN, INT32_MAX}, {C_BUCKET, 1, INT64_MAX}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (!parse_int(f[ints[i].col], ints[i].lo, ints[i].hi, &v[ints[i].col]))
            return lk_db_fail(db, "%s '%s' is not an integer in [%lld, %lld]", columns[ints[i].col],
                              f[ints[i].col], (long long)ints[i].lo, (long long)ints[i].hi);
    if (!lk_db_is_bucket(v[C_BUCKET]))
        return lk_db_fail(db, "bucket %s is not a power of two", f[C_BUCKET]);
    int backend = lk_db_backend_parse(f[C_BACKEND]), type = lk_db_device_type_parse(f[C_TYPE]);
    int dtype = lk_db_dtype_parse(f[C_DTYPE]);
    if (backend < 0)
        return lk_db_fail(db, "backend '%s' is not opencl or cuda", f[C_BACKEND]);
    if (type < 0)
        return lk_db_fail(db, "device_type '%s' is not cpu, gpu or other", f[C_TYPE]);
    if (dtype < 0)
        return lk_db_fail(db, "dtype '%s' is not f32, f16, i32 or u32", f[C_DTYPE]);
    if (!f[C_FINGERPRINT][0] || !f[C_OP][0])
        return lk_db_fail(db, "%s is empty", f[C_OP][0] ? "fingerprint" : "op");
    if (!lk_tune_op_known(f[C_OP]))
        return lk_db_fail(db, "op '%s' is not a tuned op of this library", f[C_OP]);
    lk_db_measurement m = {.outcome = LK_DB_OK, .params = f[C_PARAMS], .tuner_version = "csv import"};
    if (!parse_ms(f[C_MEDIAN], &m.median_ms) || !parse_ms(f[C_MIN], &m.min_ms) || !parse_ms(f[C_P80], &m.p80_ms))
        return lk_db_fail(db, "median_ms, min_ms and p80_ms must be numbers >= 0 ('%s', '%s', '%s')",
                          f[C_MEDIAN], f[C_MIN], f[C_P80]);
    lk_params p;
    char why[512];
    if (lk_params_parse(f[C_PARAMS], &p) != LK_OK)
        return lk_db_fail(db, "params '%s' are not NAME=int pairs", f[C_PARAMS]);
    if (lk_op_params_check(f[C_OP], &p, why, sizeof why) != LK_OK) /* names and static ranges */
        return lk_db_fail(db, "params '%.200s': %s", f[C_PARAMS], why);
    lk_status s;
    if ((s = copy_text(db, dev.vendor, sizeof dev.vendor, f[C_VENDOR], C_VENDOR)) != LK_OK ||
        (s = copy_text(db, dev.name, sizeof dev.name, f[C_NAME], C_NAME)) != LK_OK ||
        (s = copy_text(db, dev.driver, sizeof dev.driver, f[C_DRIVER], C_DRIVER)) != LK_OK ||
        (s = copy_text(db, dev.fingerprint, sizeof dev.fingerprint, f[C_FINGERPRINT], C_FINGERPRINT)) != LK_OK ||
        (s = copy_text(db, key.op, sizeof key.op, f[C_OP], C_OP)) != LK_OK ||
        (s = copy_text(db, key.family, sizeof key.family, f[C_FAMILY], C_FAMILY)) != LK_OK)
        return s;
    dev.backend = (lk_backend_kind)backend;
    dev.type = (lk_device_type)type;
    dev.compute_units = (int)v[C_CUS];
    dev.local_mem_bytes = (size_t)v[C_LMEM];
    dev.clock_mhz = (int)v[C_CLOCK];
    key.dtype = (lk_dtype)dtype;
    key.head_dim = (int)v[C_HEAD_DIM];
    key.flag = (int)v[C_FLAG];
    key.length = v[C_BUCKET];
    return lk_db_record_in_tx(db, &dev, &key, &m);
}

/* Check one record against the header, or import it. */
static lk_status import_record(lk_db *db, csv_reader *r, int header)
{
    char *f[N_COLUMNS];
    if (r->n != N_COLUMNS)
        return header ? lk_db_fail(db, "the first line must be the header '%s,%s,...,%s'", columns[0],
                                   columns[1], columns[N_COLUMNS - 1])
                      : lk_db_fail(db, "%d fields, expected %d", r->n, N_COLUMNS);
    for (int i = 0; i < N_COLUMNS; i++) {
        f[i] = r->buf + r->at[i];
        if (header && strcmp(f[i], columns[i]) != 0)
            return lk_db_fail(db, "header field %d is '%s', expected '%s'", i + 1, f[i], columns[i]);
    }
    return header ? LK_OK : import_row(db, f);
}

lk_status lk_db_import_csv(lk_db *db, FILE *in, const char *source, int *rows)
{
    if (rows)
        *rows = 0;
    if (!db->writable)
        return lk_db_fail(db, "%s: opened read-only", db->path);
    if (sqlite3_exec(db->h, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return lk_db_sql_fail(db, "starting the import");
    csv_reader r = {.in = in, .line = 1};
    lk_status s = LK_OK;
    long line = 0;
    int n = -1; /* rows imported; -1 until the header has been read */
    int got;
    while ((got = read_record(&r, &line)) == 1 && (s = import_record(db, &r, n < 0)) == LK_OK)
        n++;
    if (got < 0 || (s == LK_OK && (n < 0 || ferror(in)))) {
        line = got < 0 ? line : r.line; /* a syntax error names the line where its record starts */
        s = lk_db_fail(db, "%s", got < 0 ? r.error : n < 0 ? "no header line" : "read error");
    }
    free(r.buf);
    if (s != LK_OK) {
        char msg[sizeof db->error];
        snprintf(msg, sizeof msg, "%s:%ld: %.900s (nothing was imported)", source ? source : "CSV", line,
                 db->error);
        memcpy(db->error, msg, sizeof msg);
    } else {
        s = lk_db_exec(db, "COMMIT");
    }
    if (s != LK_OK)
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
    else if (rows)
        *rows = n;
    return s;
}
