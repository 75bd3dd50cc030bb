/* Reading a key's measurements beyond its best row: the fastest candidate with given parameter
 * values (the best tiles of one RoPE variant, for benchmarks that compare variants each at its
 * own best), and the ranking at the nearest tuned length (the tuner's seed for the next one). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"

/* The measurements of a key (?2..?6) on the device with fingerprint ?1; OK_OF_KEY: the current
 * ones (LK_DB_CURRENT). */
#define OF_KEY                                                                                      \
    " FROM measurements m JOIN devices d ON d.id = m.device_id"                                     \
    " WHERE d.fingerprint = ?1 AND m.op = ?2 AND m.family = ?3 AND m.dtype = ?4 AND m.head_dim = ?5" \
    " AND m.flag = ?6"
#define OK_OF_KEY OF_KEY " AND " LK_DB_CURRENT("m")

#define SELECT_MEASURED "SELECT m.params, m.median_ms" OK_OF_KEY " AND m.bucket = ?7 ORDER BY m.median_ms"

/* 1 when every parameter of `must` has the same value in p. */
static int has_all(const lk_params *p, const lk_params *must)
{
    for (int i = 0; i < must->n; i++)
        if (!lk_params_has(p, must->v[i].name) || lk_params_get(p, must->v[i].name, 0) != must->v[i].value)
            return 0;
    return 1;
}

lk_status lk_db_best_with(lk_db *db, const lk_device_info *dev, const lk_tune_key *key, const lk_params *must,
                          lk_params *params, double *median_ms, int *found)
{
    *found = 0;
    if (db->empty || !dev->fingerprint[0])
        return LK_OK;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h, SELECT_MEASURED, -1, &st, NULL) != SQLITE_OK)
        return lk_db_sql_fail(db, "preparing a measurements query");
    sqlite3_bind_text(st, 1, dev->fingerprint, -1, SQLITE_STATIC);
    lk_db_bind_key(st, 2, key);
    sqlite3_bind_int64(st, 7, lk_length_bucket(key->length));
    int rc;
    while (!*found && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *text = sqlite3_column_text(st, 0);
        lk_params p;
        if (text && lk_params_parse((const char *)text, &p) == LK_OK && has_all(&p, must)) {
            *params = p;
            *median_ms = sqlite3_column_double(st, 1);
            *found = 1;
        }
    }
    lk_status s = *found || rc == SQLITE_DONE ? LK_OK : lk_db_sql_fail(db, "reading measurements");
    sqlite3_finalize(st);
    return s;
}

#define SELECT_BUCKETS "SELECT DISTINCT m.bucket" OK_OF_KEY " AND m.bucket != ?7"

#define SELECT_RANKED                                                                               \
    "SELECT m.params, min(m.median_ms) AS t" OK_OF_KEY " AND m.bucket = ?7 GROUP BY m.params ORDER BY t LIMIT ?8"

/* The tuned bucket other than key's own nearest to it in log2 space (a tie goes to the smaller),
 * or 0 when there is none. */
static lk_status nearest_other_bucket(lk_db *db, const lk_device_info *dev, const lk_tune_key *key, int64_t *bucket)
{
    sqlite3_stmt *st;
    *bucket = 0;
    if (sqlite3_prepare_v2(db->h, SELECT_BUCKETS, -1, &st, NULL) != SQLITE_OK)
        return lk_db_sql_fail(db, "preparing a bucket query");
    int64_t own = lk_length_bucket(key->length);
    sqlite3_bind_text(st, 1, dev->fingerprint, -1, SQLITE_STATIC);
    lk_db_bind_key(st, 2, key);
    sqlite3_bind_int64(st, 7, own);
    int rc, best = -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t b = sqlite3_column_int64(st, 0);
        int dist = abs(lk_db_bucket_log2(b) - lk_db_bucket_log2(own));
        if (best < 0 || dist < best || (dist == best && b < *bucket)) {
            best = dist;
            *bucket = b;
        }
    }
    lk_status s = rc == SQLITE_DONE ? LK_OK : lk_db_sql_fail(db, "reading buckets");
    sqlite3_finalize(st);
    return s;
}

/* Up to max distinct parameter sets of key at bucket, fastest first, by the query `sql` (?1..?8 as
 * SELECT_RANKED). */
static lk_status ranked(lk_db *db, const char *sql, const lk_device_info *dev, const lk_tune_key *key, int64_t bucket,
                        lk_params *out, int max, int *n)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
        return lk_db_sql_fail(db, "preparing a ranking query");
    sqlite3_bind_text(st, 1, dev->fingerprint, -1, SQLITE_STATIC);
    lk_db_bind_key(st, 2, key);
    sqlite3_bind_int64(st, 7, bucket);
    sqlite3_bind_int(st, 8, max);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *text = sqlite3_column_text(st, 0);
        if (text && lk_params_parse((const char *)text, &out[*n]) == LK_OK)
            (*n)++;
    }
    lk_status s = rc == SQLITE_DONE ? LK_OK : lk_db_sql_fail(db, "reading a ranking");
    sqlite3_finalize(st);
    return s;
}

lk_status lk_db_ranked_near(lk_db *db, const lk_device_info *dev, const lk_tune_key *key, lk_params *out, int max,
                            int *n, int64_t *bucket)
{
    *n = 0;
    *bucket = 0;
    if (db->empty || !dev->fingerprint[0] || max <= 0)
        return LK_OK;
    lk_status s = nearest_other_bucket(db, dev, key, bucket);
    return s != LK_OK || !*bucket ? s : ranked(db, SELECT_RANKED, dev, key, *bucket, out, max, n);
}

/* Every ok measurement of the key's own bucket, whichever kernels timed it, each parameter set at
 * its fastest. */
#define SELECT_RANKED_EVER                                                                          \
    "SELECT m.params, min(m.median_ms) AS t" OF_KEY " AND m.status = 'ok' AND m.bucket = ?7"          \
    " GROUP BY m.params ORDER BY t LIMIT ?8"

lk_status lk_db_ranked_ever(lk_db *db, const lk_device_info *dev, const lk_tune_key *key, lk_params *out, int max,
                            int *n)
{
    *n = 0;
    if (db->empty || !dev->fingerprint[0] || max <= 0)
        return LK_OK;
    return ranked(db, SELECT_RANKED_EVER, dev, key, lk_length_bucket(key->length), out, max, n);
}
