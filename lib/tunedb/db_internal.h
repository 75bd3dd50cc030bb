/* What the db_*.c files share: the lk_db handle, error helpers and the text forms of the
 * enums as they are stored in the database and in CSV files. */
#ifndef LK_TUNEDB_DB_INTERNAL_H
#define LK_TUNEDB_DB_INTERNAL_H

#include <sqlite3.h>

#include "db.h"

struct lk_db {
    sqlite3 *h;
    int writable;
    int empty;                 /* a reader on a file with no tables yet: it holds no rows */
    char path[512];
    char error[1024];
    sqlite3_stmt *lookup[3];   /* prepared on first use, one per lk_device_match level */
};

/* Record a message on db and return LK_ERR_DATABASE. */
lk_status lk_db_fail(lk_db *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same, with SQLite's message for the last call appended: "<what>: <sqlite message>". */
lk_status lk_db_sql_fail(lk_db *db, const char *what);
/* Run SQL with no result rows. */
lk_status lk_db_exec(lk_db *db, const char *sql);

/* Text forms. The *_parse functions return -1 for an unknown text. */
const char *lk_db_backend_name(lk_backend_kind backend);     /* "opencl", "cuda" */
int lk_db_backend_parse(const char *text);
const char *lk_db_device_type_name(lk_device_type type);     /* "cpu", "gpu", "other" */
int lk_db_device_type_parse(const char *text);
int lk_db_dtype_parse(const char *text);                      /* lk_dtype_name() forms */

/* Bind key's op, family, dtype, head_dim and flag to parameters first..first+4. */
void lk_db_bind_key(sqlite3_stmt *st, int first, const lk_tune_key *key);

/* 1 when b is a power of two >= 1. */
int lk_db_is_bucket(int64_t b);
/* floor(log2 b) for b >= 1: where a bucket sits when buckets are compared in log space. */
int lk_db_bucket_log2(int64_t b);

/* SQL conditions: aliases a and b name the same key and bucket, on any device (LK_DB_KEY_EQ) or
 * on the same device (LK_DB_SAME_KEY). */
#define LK_DB_KEY_EQ(a, b)                                                                           \
    a ".op = " b ".op AND " a ".family = " b ".family AND " a ".dtype = " b ".dtype AND " a           \
    ".head_dim = " b ".head_dim AND " a ".flag = " b ".flag AND " a ".bucket = " b ".bucket"
#define LK_DB_SAME_KEY(a, b) a ".device_id = " b ".device_id AND " LK_DB_KEY_EQ(a, b)

/* SQL condition: measurement m is its candidate's current time, that is an ok measurement with no
 * later ok one of the same parameters for its device and key, and none of its key by another
 * tuner_version (lk-tune stores the kernels' version there: lk_kernels_version). A candidate timed
 * again (the tuner's final round, lk-tune --force) counts at its latest time; once a key is
 * timed with other kernels, its rows from the earlier ones stop counting. The earlier rows stay
 * as history. Every reader of times (best row, variant tiles, ranking, check, compare) uses it. */
#define LK_DB_CURRENT(m)                                                                             \
    m ".status = 'ok' AND NOT EXISTS (SELECT 1 FROM measurements later WHERE " LK_DB_SAME_KEY("later", m) \
    " AND later.status = 'ok' AND later.id > " m ".id AND (later.params = " m ".params OR later.tuner_version IS NOT " \
    m ".tuner_version))"

/* The body of lk_db_record, for a caller that already holds a write transaction. */
lk_status lk_db_record_in_tx(lk_db *db, const lk_device_info *dev, const lk_tune_key *key,
                             const lk_db_measurement *m);

#endif
