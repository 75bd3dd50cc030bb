/* Writing measurements: the device row, the measurement, and the re-derived best row of its
 * key, all inside one transaction. Also the tuner's resume question (lk_db_has_best). */
#include <math.h>
#include <string.h>

#include "db_internal.h"

static lk_status check_key(lk_db *db, const lk_tune_key *key)
{
    if (!key->op[0] || strnlen(key->op, sizeof key->op) == sizeof key->op)
        return lk_db_fail(db, "tuning key: op is empty or not terminated");
    if (strnlen(key->family, sizeof key->family) == sizeof key->family)
        return lk_db_fail(db, "tuning key: family is not terminated");
    if (key->dtype < LK_F32 || key->dtype > LK_U32)
        return lk_db_fail(db, "tuning key %s: unknown dtype %d", key->op, (int)key->dtype);
    return LK_OK;
}

/* Bind (device id, key, bucket of key->length) to parameters 1..7. */
static void bind_device_key(sqlite3_stmt *st, int64_t device, const lk_tune_key *key)
{
    sqlite3_bind_int64(st, 1, device);
    lk_db_bind_key(st, 2, key);
    sqlite3_bind_int64(st, 7, lk_length_bucket(key->length));
}

/* Run a prepared statement that returns no rows, then finalize it. */
static lk_status run(lk_db *db, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    lk_status s = rc == SQLITE_DONE ? LK_OK : lk_db_sql_fail(db, what);
    sqlite3_finalize(st);
    return s;
}

static lk_status device_id(lk_db *db, const lk_device_info *dev, int64_t *id)
{
    if (!dev->fingerprint[0])
        return lk_db_fail(db, "device '%s' has no fingerprint", dev->name);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h,
                           "INSERT OR IGNORE INTO devices(fingerprint, backend, platform, vendor, name, driver,"
                           " device_type, compute_units, local_mem, clock_mhz) VALUES (?,?,?,?,?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        return lk_db_sql_fail(db, "adding a device");
    sqlite3_bind_text(st, 1, dev->fingerprint, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, lk_db_backend_name(dev->backend), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, dev->platform_name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, dev->vendor, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, dev->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 6, dev->driver, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 7, lk_db_device_type_name(dev->type), -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 8, dev->compute_units);
    sqlite3_bind_int64(st, 9, (sqlite3_int64)dev->local_mem_bytes);
    sqlite3_bind_int(st, 10, dev->clock_mhz);
    lk_status s = run(db, st, "adding a device");
    if (s != LK_OK)
        return s;
    if (sqlite3_prepare_v2(db->h, "SELECT id FROM devices WHERE fingerprint = ?", -1, &st, NULL) != SQLITE_OK)
        return lk_db_sql_fail(db, "finding a device");
    sqlite3_bind_text(st, 1, dev->fingerprint, -1, SQLITE_TRANSIENT);
    s = sqlite3_step(st) == SQLITE_ROW ? LK_OK : lk_db_sql_fail(db, "finding a device");
    if (s == LK_OK)
        *id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return s;
}

static int valid_time(double ms)
{
    return isfinite(ms) && ms >= 0;
}

static void bind_time(sqlite3_stmt *st, int i, double ms)
{
    if (valid_time(ms))
        sqlite3_bind_double(st, i, ms);
    else
        sqlite3_bind_null(st, i);
}

lk_status lk_db_record_in_tx(lk_db *db, const lk_device_info *dev, const lk_tune_key *key,
                             const lk_db_measurement *m)
{
    lk_status s = check_key(db, key);
    if (s != LK_OK)
        return s;
    const char *outcome = lk_db_outcome_name(m->outcome);
    if (strcmp(outcome, "unknown") == 0)
        return lk_db_fail(db, "measurement of %s: unknown outcome %d", key->op, (int)m->outcome);
    lk_params p;
    if (!m->params || lk_params_parse(m->params, &p) != LK_OK)
        return lk_db_fail(db, "measurement of %s: params '%s' are not NAME=int pairs", key->op,
                          m->params ? m->params : "(null)");
    char text[LK_MAX_PARAMS * (LK_PARAM_NAME + 14)];
    lk_params_format(&p, "", ",", text, sizeof text);
    int ok = m->outcome == LK_DB_OK;
    if (ok && !(valid_time(m->median_ms) && valid_time(m->min_ms) && valid_time(m->p80_ms)))
        return lk_db_fail(db, "measurement of %s: an ok measurement needs median, min and p80 times >= 0",
                          key->op);
    int64_t dev_id = 0;
    if ((s = device_id(db, dev, &dev_id)) != LK_OK)
        return s;

    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h,
                           "INSERT INTO measurements(device_id, op, family, dtype, head_dim, flag, bucket,"
                           " params, status, reason, median_ms, min_ms, p80_ms, runs, tuner_version)"
                           " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        return lk_db_sql_fail(db, "adding a measurement");
    bind_device_key(st, dev_id, key);
    sqlite3_bind_text(st, 8, text, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 9, outcome, -1, SQLITE_STATIC);
    if (m->reason)
        sqlite3_bind_text(st, 10, m->reason, -1, SQLITE_TRANSIENT);
    bind_time(st, 11, m->median_ms);
    bind_time(st, 12, m->min_ms);
    bind_time(st, 13, m->p80_ms);
    if (m->runs > 0)
        sqlite3_bind_int(st, 14, m->runs);
    if (m->tuner_version)
        sqlite3_bind_text(st, 15, m->tuner_version, -1, SQLITE_TRANSIENT);
    if ((s = run(db, st, "adding a measurement")) != LK_OK || !ok)
        return s;

    if (sqlite3_prepare_v2(db->h,
                           "INSERT OR REPLACE INTO best SELECT m.device_id, m.op, m.family, m.dtype,"
                           " m.head_dim, m.flag, m.bucket, m.params, m.median_ms, m.min_ms, m.p80_ms"
                           " FROM measurements m WHERE m.device_id = ? AND m.op = ? AND m.family = ?"
                           " AND m.dtype = ? AND m.head_dim = ? AND m.flag = ? AND m.bucket = ? AND "
                           LK_DB_CURRENT("m") " ORDER BY m.median_ms, m.id LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return lk_db_sql_fail(db, "updating the best row");
    bind_device_key(st, dev_id, key);
    return run(db, st, "updating the best row");
}

lk_status lk_db_record(lk_db *db, const lk_device_info *dev, const lk_tune_key *key,
                       const lk_db_measurement *m)
{
    if (!db->writable)
        return lk_db_fail(db, "%s: opened read-only", db->path);
    if (sqlite3_exec(db->h, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return lk_db_sql_fail(db, "starting a transaction");
    lk_status s = lk_db_record_in_tx(db, dev, key, m);
    if (s == LK_OK)
        s = lk_db_exec(db, "COMMIT");
    if (s != LK_OK)
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
    return s;
}

/* *has = 1 when `sql` (fingerprint, key fields, bucket[, params, version]) returns a row. */
static lk_status exists(lk_db *db, const char *sql, const char *what, const lk_device_info *dev,
                        const lk_tune_key *key, const char *params, const char *version, int *has)
{
    *has = 0;
    lk_status s = check_key(db, key);
    if (s != LK_OK || db->empty)
        return s;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
        return lk_db_sql_fail(db, what);
    sqlite3_bind_text(st, 1, dev->fingerprint, -1, SQLITE_TRANSIENT);
    lk_db_bind_key(st, 2, key);
    sqlite3_bind_int64(st, 7, lk_length_bucket(key->length));
    if (params)
        sqlite3_bind_text(st, 8, params, -1, SQLITE_TRANSIENT);
    if (version)
        sqlite3_bind_text(st, 9, version, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    s = rc == SQLITE_ROW || rc == SQLITE_DONE ? LK_OK : lk_db_sql_fail(db, what);
    sqlite3_finalize(st);
    *has = rc == SQLITE_ROW;
    return s;
}

lk_status lk_db_has_best(lk_db *db, const lk_device_info *dev, const lk_tune_key *key, int *has)
{
    return exists(db,
                  "SELECT 1 FROM best b JOIN devices d ON d.id = b.device_id WHERE d.fingerprint = ?"
                  " AND b.op = ? AND b.family = ? AND b.dtype = ? AND b.head_dim = ? AND b.flag = ?"
                  " AND b.bucket = ?",
                  "looking for a best row", dev, key, NULL, NULL, has);
}

lk_status lk_db_measured(lk_db *db, const lk_device_info *dev, const lk_tune_key *key, const lk_params *params,
                         const char *version, int *has)
{
    char text[512];
    lk_params_format(params, "", ",", text, sizeof text); /* the form lk_db_record stores */
    return exists(db,
                  "SELECT 1 FROM measurements m JOIN devices d ON d.id = m.device_id WHERE d.fingerprint = ?"
                  " AND m.op = ? AND m.family = ? AND m.dtype = ? AND m.head_dim = ? AND m.flag = ?"
                  " AND m.bucket = ? AND m.params = ? AND (?9 IS NULL OR m.tuner_version = ?9) LIMIT 1",
                  "looking for a measurement", dev, key, text, version, has);
}
