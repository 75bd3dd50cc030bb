/* Looking at a tuning database as a whole: the consistency check (after a killed tuner, in
 * tests, `lk-db check`), the summary that `lk-db show` prints, and the comparison of another
 * database's picks against this one's measurements (`lk-db compare`). */
#include <math.h>
#include <string.h>

#include "db_internal.h"

/* Best rows that are not the lowest-median current measurement of their key, plus keys with an
 * ok measurement and no best row. */
static const char consistency_sql[] =
    "SELECT (SELECT count(*) FROM best b WHERE NOT ("
    "  b.median_ms = (SELECT min(m.median_ms) FROM measurements m WHERE " LK_DB_SAME_KEY("m", "b")
    "                 AND " LK_DB_CURRENT("m") ")"
    "  AND EXISTS (SELECT 1 FROM measurements m WHERE " LK_DB_SAME_KEY("m", "b")
    "              AND " LK_DB_CURRENT("m") " AND m.params = b.params AND m.median_ms = b.median_ms))),"
    " (SELECT count(*) FROM (SELECT DISTINCT device_id, op, family, dtype, head_dim, flag, bucket"
    "  FROM measurements WHERE status = 'ok') k"
    "  WHERE NOT EXISTS (SELECT 1 FROM best b WHERE " LK_DB_SAME_KEY("b", "k") "))";

lk_status lk_db_check(lk_db *db)
{
    if (db->empty)
        return LK_OK;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK)
        return lk_db_sql_fail(db, "integrity check");
    lk_status s = LK_OK;
    if (sqlite3_step(st) != SQLITE_ROW)
        s = lk_db_sql_fail(db, "integrity check");
    else if (strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0)
        s = lk_db_fail(db, "%s: integrity check failed: %s", db->path, (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (s != LK_OK)
        return s;
    if (sqlite3_prepare_v2(db->h, consistency_sql, -1, &st, NULL) != SQLITE_OK)
        return lk_db_sql_fail(db, "consistency check");
    if (sqlite3_step(st) != SQLITE_ROW) {
        s = lk_db_sql_fail(db, "consistency check");
    } else {
        long long wrong = sqlite3_column_int64(st, 0), missing = sqlite3_column_int64(st, 1);
        if (wrong || missing)
            s = lk_db_fail(db, "%s: %lld best rows are not the fastest ok measurement of their key, "
                           "%lld keys with ok measurements have no best row", db->path, wrong, missing);
    }
    sqlite3_finalize(st);
    return s;
}

/* Print every row of a query, each column through fmt's %s conversions (all columns as text). */
static lk_status print_rows(lk_db *db, FILE *out, const char *sql, int ncol, const char *fmt)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
        return lk_db_sql_fail(db, "reading the summary");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *c[8] = {""};
        for (int i = 0; i < ncol && i < 8; i++)
            c[i] = sqlite3_column_text(st, i) ? (const char *)sqlite3_column_text(st, i) : "";
        fprintf(out, fmt, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]);
    }
    lk_status s = rc == SQLITE_DONE ? LK_OK : lk_db_sql_fail(db, "reading the summary");
    sqlite3_finalize(st);
    return s;
}

lk_status lk_db_show(lk_db *db, FILE *out)
{
    if (db->empty) {
        fprintf(out, "database: %s (empty)\n", db->path);
        return LK_OK;
    }
    fprintf(out, "database: %s (longkern tuning schema %d)\n", db->path, LK_DB_SCHEMA_VERSION);
    lk_status s;
    fprintf(out, "devices:\n");
    if ((s = print_rows(db, out,
                        "SELECT id, name, vendor, driver, backend, device_type, compute_units, clock_mhz"
                        " FROM devices ORDER BY id",
                        8, "  [%s] %s | %s | driver %s | %s %s, %s CUs, %s MHz\n")) != LK_OK)
        return s;
    fprintf(out, "measurements:\n");
    if ((s = print_rows(db, out, "SELECT status, count(*) FROM measurements GROUP BY status ORDER BY status", 2,
                        "  %-14s %s\n")) != LK_OK)
        return s;
    fprintf(out, "best (device, op, family, dtype, head_dim, flag, bucket: median ms, params):\n");
    return print_rows(db, out,
                      "SELECT device_id, op, family, dtype, head_dim, flag, bucket,"
                      " printf('%.4f ms  %s', median_ms, params) FROM best"
                      " ORDER BY device_id, op, family, dtype, head_dim, flag, bucket",
                      8, "  [%s] %s %s %s d=%s flag=%s bucket=%s: %s\n");
}

/* For every best row of the attached database `o` whose device and key this one measured: the
 * key, o's pick, this database's best, and this database's median of o's pick. */
static const char compare_sql[] =
    "SELECT ob.op, ob.family, ob.dtype, ob.head_dim, ob.flag, ob.bucket, ob.params, rb.params, rb.median_ms,"
    " (SELECT min(m.median_ms) FROM measurements m WHERE " LK_DB_SAME_KEY("m", "rb")
    "  AND m.params = ob.params AND " LK_DB_CURRENT("m") ")"
    " FROM o.best ob JOIN o.devices od ON od.id = ob.device_id"
    " JOIN devices rd ON rd.fingerprint = od.fingerprint"
    " JOIN best rb ON rb.device_id = rd.id AND " LK_DB_KEY_EQ("rb", "ob")
    " ORDER BY ob.op, ob.family, ob.dtype, ob.head_dim, ob.flag, ob.bucket";

lk_status lk_db_compare(lk_db *db, const char *other, double tolerance, FILE *out, int *compared, int *beyond)
{
    *compared = *beyond = 0;
    if (db->empty)
        return lk_db_fail(db, "%s is empty: nothing to compare against", db->path);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h, "ATTACH DATABASE ?1 AS o", -1, &st, NULL) != SQLITE_OK)
        return lk_db_sql_fail(db, "attaching the other database");
    sqlite3_bind_text(st, 1, other, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return lk_db_sql_fail(db, "attaching the other database");
    lk_status s = LK_OK;
    if (sqlite3_prepare_v2(db->h, compare_sql, -1, &st, NULL) != SQLITE_OK) {
        s = lk_db_sql_fail(db, "comparing (is the other file a longkern tuning database?)");
    } else {
        fprintf(out, "%-40s %-44s %10s %10s %7s  %s\n", "key", "pick", "pick ms", "best ms", "ratio", "best");
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            char key[128];
            snprintf(key, sizeof key, "%s %s %s hd%d flag=%d len=%lld", sqlite3_column_text(st, 0),
                     sqlite3_column_text(st, 1), sqlite3_column_text(st, 2), sqlite3_column_int(st, 3),
                     sqlite3_column_int(st, 4), (long long)sqlite3_column_int64(st, 5));
            double best = sqlite3_column_double(st, 8);
            int measured = sqlite3_column_type(st, 9) != SQLITE_NULL;
            double pick = sqlite3_column_double(st, 9), ratio = measured && best > 0.0 ? pick / best : NAN;
            (*compared)++;
            *beyond += !(ratio <= 1.0 + tolerance);
            fprintf(out, "%-40s %-44s %10.4f %10.4f %7.3f  %s%s\n", key, sqlite3_column_text(st, 6), pick, best,
                    ratio, sqlite3_column_text(st, 7), measured ? "" : "  (pick not measured here)");
        }
        if (rc != SQLITE_DONE)
            s = lk_db_sql_fail(db, "comparing");
        sqlite3_finalize(st);
    }
    sqlite3_exec(db->h, "DETACH DATABASE o", NULL, NULL, NULL);
    return s;
}
