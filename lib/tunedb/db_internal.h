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

/* The body of lk_db_record, for a caller that already holds a write transaction. */
lk_status lk_db_record_in_tx(lk_db *db, const lk_device_info *dev, const lk_tune_key *key,
                             const lk_db_measurement *m);

#endif
