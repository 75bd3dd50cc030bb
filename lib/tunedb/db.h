/* Tuning database files: one SQLite file holding devices, every measured candidate
 * (measurements) and the winner of each key (best). Internal API for the layered lookup, the
 * tuner and lk-db.
 *
 * A file is ours when its meta table says format=longkern-tuning and PRAGMA user_version is a
 * schema this library knows. A file that is not SQLite, another program's SQLite file, or a
 * newer schema is refused with a message: readers skip it, writers never modify it. Writers
 * create a missing file (and its directory) and open it in WAL mode, so programs keep reading
 * while a tuner writes; every write is one transaction, so a killed writer leaves the file
 * consistent. Each function returns LK_OK or an error whose message lk_db_error() gives. */
#ifndef LK_TUNEDB_DB_H
#define LK_TUNEDB_DB_H

#include <stdio.h>

#include "tunedb.h"

#define LK_DB_SCHEMA_VERSION 1

typedef struct lk_db lk_db;

/* What happened to one candidate (the measurements.status column). */
typedef enum lk_db_outcome {
    LK_DB_OK = 0,
    LK_DB_REJECTED = 1,      /* failed a constraint after compiling */
    LK_DB_BUILD_FAILED = 2,
    LK_DB_LAUNCH_FAILED = 3,
    LK_DB_WRONG_RESULT = 4,  /* output did not match ref/ */
    LK_DB_TIMEOUT = 5
} lk_db_outcome;

const char *lk_db_outcome_name(lk_db_outcome outcome); /* "ok", "rejected", ... */

typedef struct lk_db_measurement {
    lk_db_outcome outcome;
    const char *params;        /* "BLOCK_M=64,BLOCK_N=32" (stored in canonical form) */
    const char *reason;        /* why a candidate failed, or NULL */
    double median_ms, min_ms, p80_ms; /* required (finite, >= 0) when ok; otherwise NaN or < 0 = none */
    int runs;                  /* timed repetitions, 0 = unknown */
    const char *tuner_version; /* or NULL */
} lk_db_measurement;

/* Open path read-only (writable 0) or for writing (1). On failure *out is NULL and err (if not
 * NULL) holds the reason; a reader gets LK_ERR_IO for a missing file and LK_ERR_DATABASE for a
 * file that is not ours. */
lk_status lk_db_open(const char *path, int writable, lk_db **out, char *err, size_t errn);
void lk_db_close(lk_db *db); /* NULL is a no-op */
const char *lk_db_error(const lk_db *db); /* message of the last failed call on db */

/* Insert one measurement for (dev, key, bucket of key->length) and, when it is ok, re-derive that
 * key's best row (lowest median among the current measurements, LK_DB_CURRENT in db_internal.h:
 * each candidate at its latest ok time) in the same transaction. The device row
 * is created on first use. */
lk_status lk_db_record(lk_db *db, const lk_device_info *dev, const lk_tune_key *key,
                       const lk_db_measurement *m);

/* *has = 1 when dev (exact fingerprint) has a best row for key's bucket: the tuner's resume test. */
lk_status lk_db_has_best(lk_db *db, const lk_device_info *dev, const lk_tune_key *key, int *has);

/* *has = 1 when dev (exact fingerprint) already has a measurement of `params` for key's bucket,
 * whatever its outcome, by tuner_version `version` (NULL: any): the tuner's per-candidate resume
 * test (a candidate measured with other kernels is measured again). */
lk_status lk_db_measured(lk_db *db, const lk_device_info *dev, const lk_tune_key *key, const lk_params *params,
                         const char *version, int *has);

/* The best row for key among the devices that match dev at `level` (exact fingerprint; same
 * backend and device name; same backend, vendor and device type), taking the tuned bucket
 * nearest to lk_length_bucket(key->length) in log2 space (a tie goes to the larger bucket; among
 * devices tuned at that bucket, the lowest median). *found = 0 when none; otherwise *params holds
 * the row's parameters and *bucket its bucket. */
lk_status lk_db_lookup(lk_db *db, const lk_device_info *dev, const lk_tune_key *key,
                       lk_device_match level, lk_params *params, int64_t *bucket, int *found);

/* The lowest-median current measurement of key's bucket on dev (exact fingerprint) whose parameters
 * include every value in `must` (e.g. VARIANT=2): a variant's own best tiles. *found = 0 when none. */
lk_status lk_db_best_with(lk_db *db, const lk_device_info *dev, const lk_tune_key *key, const lk_params *must,
                          lk_params *params, double *median_ms, int *found);
/* The ranking at the tuned length nearest to key's own (another bucket of the same key on dev,
 * exact fingerprint, nearest in log2 space, the smaller on a tie): up to max distinct ok
 * parameter sets, fastest first, into out[0..*n); *bucket gets that bucket (0: none tuned). */
lk_status lk_db_ranked_near(lk_db *db, const lk_device_info *dev, const lk_tune_key *key, lk_params *out, int max,
                            int *n, int64_t *bucket);
/* The key's own bucket ranked by every ok measurement it holds, current or timed with earlier
 * kernels (each parameter set at its fastest): up to max sets into out[0..*n). A re-tune after a
 * kernel change starts from the earlier winner, which no longer counts as a time. */
lk_status lk_db_ranked_ever(lk_db *db, const lk_device_info *dev, const lk_tune_key *key, lk_params *out, int max,
                            int *n);
/* Write every best row with its device columns as CSV (format in db_csv.c). comment (may be
 * NULL, may span lines) is written first as '#' lines, then one "# device: ..." line per device. */
lk_status lk_db_export_csv(lk_db *db, FILE *out, const char *comment);
/* The same into the file at path, through path.tmp renamed over it once complete: a failed
 * export leaves an existing file as it was. */
lk_status lk_db_export_csv_file(lk_db *db, const char *path, const char *comment);

/* Read rows written by lk_db_export_csv, in one transaction: devices are added as needed, each
 * row becomes an ok measurement and the best rows are re-derived. A malformed file imports
 * nothing and the message names the line (source names the file in messages); so does a row
 * whose params fail lk_op_params_check (a name its op does not read, a value outside its static
 * range), the message naming the op and the parameter. *rows (may be NULL) receives the number
 * of rows imported. */
lk_status lk_db_import_csv(lk_db *db, FILE *in, const char *source, int *rows);

/* PRAGMA integrity_check, then that every best row is the lowest-median current measurement of its
 * key and that every key with an ok measurement has a best row. */
lk_status lk_db_check(lk_db *db);

/* Human-readable summary: devices, measurement counts by status, best rows. */
lk_status lk_db_show(lk_db *db, FILE *out);

/* Judges another database's picks (its best rows) by this database's measurements, typically an
 * exhaustive run on the same device: per key both measured, the pick's median here over the best
 * median here, printed as a table. *compared counts those keys, *beyond those whose ratio exceeds
 * 1 + tolerance (or whose pick this database never measured). */
lk_status lk_db_compare(lk_db *db, const char *other, double tolerance, FILE *out, int *compared, int *beyond);

/* Leave the file in rollback-journal mode (no -wal/-shm files), so that it can be installed
 * where readers cannot write, as the system database is. Writers only. */
lk_status lk_db_use_rollback_journal(lk_db *db);

#endif
