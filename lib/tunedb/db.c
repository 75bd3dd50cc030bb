/* Tuning database files: open (identify the file, create the schema for a writer), close,
 * error helpers and the stored text forms of enums. The schema is versioned by PRAGMA
 * user_version and marked as ours by meta(format = longkern-tuning). */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "db_internal.h"
#include "../ops/op_params_check.h"

#define FORMAT_NAME "longkern-tuning"
#define STR_(x) #x
#define STR(x) STR_(x)

static const char schema_sql[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "INSERT INTO meta VALUES('format', '" FORMAT_NAME "');"
    "CREATE TABLE devices("
    "  id INTEGER PRIMARY KEY, fingerprint TEXT NOT NULL UNIQUE, backend TEXT NOT NULL,"
    "  platform TEXT NOT NULL, vendor TEXT NOT NULL, name TEXT NOT NULL, driver TEXT NOT NULL,"
    "  device_type TEXT NOT NULL, compute_units INT NOT NULL, local_mem INT NOT NULL,"
    "  clock_mhz INT NOT NULL);"
    "CREATE INDEX devices_by_name ON devices(backend, name);"
    "CREATE INDEX devices_by_vendor ON devices(backend, vendor, device_type);"
    "CREATE TABLE measurements("
    "  id INTEGER PRIMARY KEY, device_id INTEGER NOT NULL REFERENCES devices(id),"
    "  op TEXT NOT NULL, family TEXT NOT NULL, dtype TEXT NOT NULL, head_dim INT NOT NULL,"
    "  flag INT NOT NULL, bucket INT NOT NULL, params TEXT NOT NULL,"
    "  status TEXT NOT NULL CHECK (status IN"
    "    ('ok', 'rejected', 'build_failed', 'launch_failed', 'wrong_result', 'timeout')),"
    "  reason TEXT, median_ms REAL, min_ms REAL, p80_ms REAL, runs INT, tuner_version TEXT,"
    "  created TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')));"
    "CREATE INDEX measurements_by_key ON measurements"
    "  (device_id, op, family, dtype, head_dim, flag, bucket, status, median_ms);"
    "CREATE TABLE best("
    "  device_id INTEGER NOT NULL REFERENCES devices(id), op TEXT NOT NULL,"
    "  family TEXT NOT NULL, dtype TEXT NOT NULL, head_dim INT NOT NULL, flag INT NOT NULL,"
    "  bucket INT NOT NULL, params TEXT NOT NULL, median_ms REAL NOT NULL,"
    "  min_ms REAL NOT NULL, p80_ms REAL NOT NULL,"
    "  PRIMARY KEY (device_id, op, family, dtype, head_dim, flag, bucket));"
    "PRAGMA user_version = " STR(LK_DB_SCHEMA_VERSION) ";";

/* The ops whose calls look up tuned parameters (the op names of their keys) are those with a
 * table of parameters in lib/ops/op_params_check.c. */
int lk_tune_op_known(const char *op)
{
    const char *name;
    for (int i = 0; (name = lk_op_params_op(i)); i++)
        if (!strcmp(op, name))
            return 1;
    return 0;
}

const char *lk_tune_op_names(char *buf, size_t n)
{
    size_t used = 0;
    const char *name;
    buf[0] = '\0';
    for (int i = 0; (name = lk_op_params_op(i)) && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? ", " : "", name);
    return buf;
}

lk_status lk_db_fail(lk_db *db, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(db->error, sizeof db->error, fmt, ap);
    va_end(ap);
    return LK_ERR_DATABASE;
}

lk_status lk_db_sql_fail(lk_db *db, const char *what)
{
    return lk_db_fail(db, "%s: %s: %s", db->path, what, sqlite3_errmsg(db->h));
}

lk_status lk_db_exec(lk_db *db, const char *sql)
{
    return sqlite3_exec(db->h, sql, NULL, NULL, NULL) == SQLITE_OK ? LK_OK : lk_db_sql_fail(db, "query failed");
}

const char *lk_db_error(const lk_db *db)
{
    return db ? db->error : "no database";
}

static const char *const outcome_names[] = {"ok", "rejected", "build_failed", "launch_failed",
                                            "wrong_result", "timeout"};
#define N_OUTCOMES (int)(sizeof outcome_names / sizeof outcome_names[0])

const char *lk_db_outcome_name(lk_db_outcome outcome)
{
    return (int)outcome >= 0 && (int)outcome < N_OUTCOMES ? outcome_names[outcome] : "unknown";
}

const char *lk_db_backend_name(lk_backend_kind backend)
{
    return backend == LK_BACKEND_OPENCL ? "opencl" : backend == LK_BACKEND_CUDA ? "cuda" : "any";
}

int lk_db_backend_parse(const char *text)
{
    return strcmp(text, "opencl") == 0 ? LK_BACKEND_OPENCL : strcmp(text, "cuda") == 0 ? LK_BACKEND_CUDA : -1;
}

const char *lk_db_device_type_name(lk_device_type type)
{
    return type == LK_DEVICE_CPU ? "cpu" : type == LK_DEVICE_GPU ? "gpu" : "other";
}

int lk_db_device_type_parse(const char *text)
{
    return strcmp(text, "cpu") == 0   ? LK_DEVICE_CPU
           : strcmp(text, "gpu") == 0 ? LK_DEVICE_GPU
           : strcmp(text, "other") == 0 ? LK_DEVICE_OTHER
                                        : -1;
}

int lk_db_dtype_parse(const char *text)
{
    for (int d = LK_F32; d <= LK_U32; d++)
        if (strcmp(text, lk_dtype_name((lk_dtype)d)) == 0)
            return d;
    return -1;
}

int lk_db_is_bucket(int64_t b)
{
    return b >= 1 && (b & (b - 1)) == 0;
}

int lk_db_bucket_log2(int64_t b)
{
    int e = 0;
    while (b > 1) {
        b >>= 1;
        e++;
    }
    return e;
}

void lk_db_bind_key(sqlite3_stmt *st, int first, const lk_tune_key *key)
{
    sqlite3_bind_text(st, first, key->op, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, first + 1, key->family, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, first + 2, lk_dtype_name(key->dtype), -1, SQLITE_STATIC);
    sqlite3_bind_int(st, first + 3, key->head_dim);
    sqlite3_bind_int(st, first + 4, key->flag);
}

/* One integer from a single-row query, or an error. */
static int query_int(lk_db *db, const char *sql, int64_t *v)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
        return sqlite3_errcode(db->h);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *v = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

/* Decide whether the file is ours (LK_OK, *empty 0), empty (LK_OK, *empty 1) or something else
 * (LK_ERR_DATABASE). Reads only. */
static lk_status identify(lk_db *db, int *empty)
{
    const char *keep = db->writable ? "; it was not modified" : "";
    int64_t tables = 0, version = 0;
    int rc = query_int(db, "SELECT count(*) FROM sqlite_master", &tables);
    if (rc == SQLITE_NOTADB)
        return lk_db_fail(db, "%s is not a SQLite database%s", db->path, keep);
    if (rc != SQLITE_OK)
        return lk_db_fail(db, "%s cannot be read (%s)%s", db->path, sqlite3_errmsg(db->h), keep);
    *empty = tables == 0;
    if (*empty)
        return LK_OK;
    sqlite3_stmt *st;
    int ours = 0;
    if (sqlite3_prepare_v2(db->h, "SELECT value FROM meta WHERE key = 'format'", -1, &st, NULL) == SQLITE_OK) {
        ours = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) &&
               strcmp((const char *)sqlite3_column_text(st, 0), FORMAT_NAME) == 0;
        sqlite3_finalize(st);
    }
    if (!ours)
        return lk_db_fail(db, "%s is a SQLite database of another program, not a longkern tuning database%s",
                          db->path, keep);
    if (query_int(db, "PRAGMA user_version", &version) != SQLITE_OK)
        return lk_db_sql_fail(db, "reading the schema version");
    if (version > LK_DB_SCHEMA_VERSION)
        return lk_db_fail(db, "%s was written by a newer longkern (schema %lld; this library knows up to %d)%s",
                          db->path, (long long)version, LK_DB_SCHEMA_VERSION, keep);
    if (version < 1)
        return lk_db_fail(db, "%s has an unknown schema version %lld%s", db->path, (long long)version, keep);
    /* the marker alone is not enough: every table with every column the library reads and writes */
    static const char *const probes[] = {
        "SELECT fingerprint, backend, platform, vendor, name, driver, device_type, compute_units, local_mem, "
        "clock_mhz FROM devices LIMIT 0",
        "SELECT device_id, op, family, dtype, head_dim, flag, bucket, params, status, reason, median_ms, min_ms, "
        "p80_ms, runs, tuner_version, created FROM measurements LIMIT 0",
        "SELECT device_id, op, family, dtype, head_dim, flag, bucket, params, median_ms, min_ms, p80_ms FROM best "
        "LIMIT 0"};
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        if (sqlite3_prepare_v2(db->h, probes[i], -1, &st, NULL) != SQLITE_OK)
            return lk_db_fail(db, "%s is marked as a longkern tuning database but lacks its tables (%s)%s", db->path,
                              sqlite3_errmsg(db->h), keep);
        sqlite3_finalize(st);
    }
    return LK_OK;
}

/* Writers: create the schema in an empty file, unless another writer got there first. */
static lk_status create_schema(lk_db *db)
{
    if (sqlite3_exec(db->h, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return lk_db_sql_fail(db, "starting the schema transaction");
    int empty = 0;
    lk_status st = identify(db, &empty);
    if (st == LK_OK && empty)
        st = lk_db_exec(db, schema_sql);
    if (st == LK_OK)
        st = lk_db_exec(db, "COMMIT");
    if (st != LK_OK)
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
    return st;
}

/* mkdir -p of the directory part of path. */
static int make_parents(const char *path)
{
    char dir[sizeof ((lk_db *)0)->path];
    snprintf(dir, sizeof dir, "%s", path);
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return 0;
}

/* Open a connection with flags and identify the file. */
static lk_status open_connection(lk_db *db, int flags)
{
    if (sqlite3_open_v2(db->path, &db->h, flags, NULL) != SQLITE_OK)
        return lk_db_sql_fail(db, "cannot open");
    sqlite3_busy_timeout(db->h, 5000);
    return identify(db, &db->empty);
}

static lk_status open_file(lk_db *db, const char *path, int writable)
{
    struct stat sb;
    int exists = stat(path, &sb) == 0;
    if (!exists && !writable) {
        lk_db_fail(db, "%s does not exist", path);
        return LK_ERR_IO;
    }
    if (!exists && make_parents(path) != 0) {
        lk_db_fail(db, "cannot create the directory of %s: %s", path, strerror(errno));
        return LK_ERR_IO;
    }
    if (exists && !S_ISREG(sb.st_mode))
        return lk_db_fail(db, "%s is not a regular file", path);
    /* An existing file is first identified over a read-only connection, so that a writer never
     * touches a file that is not ours (not even a checkpoint on close). */
    lk_status st = exists ? open_connection(db, SQLITE_OPEN_READONLY) : LK_OK;
    if (st != LK_OK || !writable)
        return st;
    sqlite3_close(db->h);
    db->h = NULL;
    if ((st = open_connection(db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) != LK_OK)
        return st;
    if (sqlite3_db_readonly(db->h, "main") == 1)
        return lk_db_fail(db, "%s cannot be written (permissions)", path);
    if (db->empty) {
        if ((st = create_schema(db)) != LK_OK)
            return st;
        db->empty = 0;
    }
    /* WAL lets programs read while a tuner writes. synchronous=NORMAL still survives a killed
     * process (only a power cut can lose the last transactions, never consistency). */
    if ((st = lk_db_exec(db, "PRAGMA journal_mode = WAL")) != LK_OK)
        return st;
    return lk_db_exec(db, "PRAGMA synchronous = NORMAL");
}

lk_status lk_db_open(const char *path, int writable, lk_db **out, char *err, size_t errn)
{
    if (err && errn)
        err[0] = '\0';
    if (!out || !path) {
        if (err && errn)
            snprintf(err, errn, "lk_db_open: NULL %s", out ? "path" : "output pointer");
        return LK_ERR_NULL_POINTER;
    }
    *out = NULL;
    lk_db *db = calloc(1, sizeof *db);
    if (!db) {
        if (err && errn)
            snprintf(err, errn, "out of memory opening %s", path);
        return LK_ERR_OUT_OF_MEMORY;
    }
    db->writable = writable != 0;
    lk_status st;
    if (!*path || strlen(path) >= sizeof db->path) {
        st = lk_db_fail(db, "tuning database path '%.64s' is empty or longer than %zu characters", path,
                        sizeof db->path - 1);
    } else {
        snprintf(db->path, sizeof db->path, "%s", path);
        st = open_file(db, path, db->writable);
    }
    if (st != LK_OK) {
        if (err && errn)
            snprintf(err, errn, "%s", db->error);
        db->writable = 0; /* a failed open closes without touching the file */
        lk_db_close(db);
        return st;
    }
    *out = db;
    return LK_OK;
}

/* Switches a writer's file to the rollback journal without waiting: it works only while no other
 * connection has the file open (else the file stays in WAL mode). 1 when the file left WAL. */
static int leave_wal(lk_db *db)
{
    sqlite3_stmt *st;
    sqlite3_busy_timeout(db->h, 0);
    int ok = sqlite3_prepare_v2(db->h, "PRAGMA journal_mode = DELETE", -1, &st, NULL) == SQLITE_OK &&
             sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) &&
             strcmp((const char *)sqlite3_column_text(st, 0), "delete") == 0;
    sqlite3_finalize(st);
    sqlite3_busy_timeout(db->h, 5000);
    return ok;
}

void lk_db_close(lk_db *db)
{
    if (!db)
        return;
    for (int i = 0; i < 3; i++)
        sqlite3_finalize(db->lookup[i]);
    /* The last writer to close leaves the file without -wal/-shm files, so that read-only opens
     * (the library's lookups) create none either. */
    if (db->writable && db->h)
        leave_wal(db);
    sqlite3_close(db->h);
    free(db);
}

lk_status lk_db_use_rollback_journal(lk_db *db)
{
    if (!db->writable)
        return lk_db_fail(db, "%s: opened read-only", db->path);
    return leave_wal(db) ? LK_OK
                         : lk_db_fail(db, "%s: cannot leave WAL mode (is another program using it?)", db->path);
}
