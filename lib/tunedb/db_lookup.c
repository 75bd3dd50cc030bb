/* Reading the best row for a key at one device-match level, with the nearest tuned bucket in
 * log2 space. The three level queries are prepared once per open file. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"

/* ?1 fingerprint, ?2 backend, ?3 device name, ?4 vendor, ?5 device type, ?6..?10 the key. Rows
 * come lowest median first, so the first row seen at a bucket is that bucket's best device. */
#define SELECT_BEST "SELECT b.bucket, b.params FROM best b JOIN devices d ON d.id = b.device_id WHERE "
#define KEY_AND_ORDER                                                                                      \
    " AND b.op = ?6 AND b.family = ?7 AND b.dtype = ?8 AND b.head_dim = ?9 AND b.flag = ?10"                \
    " ORDER BY b.median_ms, d.id"

static const char *const level_sql[3] = {
    [LK_MATCH_EXACT] = SELECT_BEST "d.fingerprint = ?1" KEY_AND_ORDER,
    [LK_MATCH_DEVICE_NAME] = SELECT_BEST "d.backend = ?2 AND d.name = ?3" KEY_AND_ORDER,
    [LK_MATCH_VENDOR_TYPE] = SELECT_BEST "d.backend = ?2 AND d.vendor = ?4 AND d.device_type = ?5" KEY_AND_ORDER,
};

lk_status lk_db_lookup(lk_db *db, const lk_device_info *dev, const lk_tune_key *key,
                       lk_device_match level, lk_params *params, int64_t *bucket, int *found)
{
    *found = 0;
    *bucket = 0;
    if ((int)level < LK_MATCH_EXACT || level > LK_MATCH_VENDOR_TYPE)
        return lk_db_fail(db, "lookup: no device-match level %d", (int)level);
    if (db->empty || (level == LK_MATCH_EXACT && !dev->fingerprint[0]))
        return LK_OK;
    sqlite3_stmt *st = db->lookup[level];
    if (!st && sqlite3_prepare_v2(db->h, level_sql[level], -1, &db->lookup[level], NULL) != SQLITE_OK)
        return lk_db_sql_fail(db, "preparing a lookup");
    st = db->lookup[level];
    sqlite3_bind_text(st, 1, dev->fingerprint, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, lk_db_backend_name(dev->backend), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, dev->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, dev->vendor, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, lk_db_device_type_name(dev->type), -1, SQLITE_STATIC);
    lk_db_bind_key(st, 6, key);

    int target = lk_db_bucket_log2(lk_length_bucket(key->length));
    int best_dist = INT_MAX;
    char text[1024] = "";
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t b = sqlite3_column_int64(st, 0);
        if (!lk_db_is_bucket(b))
            continue;
        int dist = abs(lk_db_bucket_log2(b) - target);
        if (dist < best_dist || (dist == best_dist && b > *bucket)) {
            best_dist = dist;
            *bucket = b;
            const unsigned char *p = sqlite3_column_text(st, 1);
            snprintf(text, sizeof text, "%s", p ? (const char *)p : "");
        }
    }
    lk_status s = rc == SQLITE_DONE ? LK_OK : lk_db_sql_fail(db, "looking up tuned parameters");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (s != LK_OK || best_dist == INT_MAX) {
        *bucket = 0;
        return s;
    }
    if (lk_params_parse(text, params) != LK_OK) {
        *bucket = 0;
        return lk_db_fail(db, "%s: stored params '%s' of %s are not NAME=int pairs", db->path, text, key->op);
    }
    *found = 1;
    return LK_OK;
}
