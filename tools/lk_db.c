/* lk-db: move tuning databases to and from their committed text form, and look inside them.
 *
 *   lk-db import [FILE.csv ...] [--db PATH] [--rollback-journal]
 *   lk-db export [--db PATH] [-o FILE]
 *   lk-db show   [--db PATH]
 *   lk-db check  [--db PATH]
 *
 * The default database is LK_TUNING_DB, else the user DB ($XDG_DATA_HOME/longkern/tuning.db or
 * ~/.local/share/longkern/tuning.db). import with no file creates an empty database. The build
 * uses `import --rollback-journal` to make the system DB from results/<device>/tuning.csv. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_number.h"
#include "tunedb/db.h"

static int usage(FILE *out)
{
    fprintf(out,
            "usage: lk-db import [FILE.csv ...] [--db PATH] [--rollback-journal]\n"
            "       lk-db export [--db PATH] [-o FILE]\n"
            "       lk-db show [--db PATH]\n"
            "       lk-db check [--db PATH]\n"
            "       lk-db compare OTHER.db [--db PATH] [--tolerance 0.05]\n"
            "import: add the rows of exported CSV files (each file all or nothing); with no file,\n"
            "        create an empty database. The last writer to close a database leaves no\n"
            "        -wal/-shm files; --rollback-journal fails if another program keeps it in WAL mode\n"
            "        (for a database installed where its readers cannot write).\n"
            "export: write the best row of every key as CSV (to stdout, or -o FILE).\n"
            "show:   devices, measurement counts, best rows.   check: integrity and consistency.\n"
            "compare: judge OTHER.db's picks by this database's measurements (e.g. this one from\n"
            "        --strategy exhaustive): pick median / best median per key; exit 1 when a pick\n"
            "        is more than --tolerance slower than the best.\n"
            "The default database is $LK_TUNING_DB, else the user DB ($XDG_DATA_HOME/longkern/tuning.db\n"
            "or ~/.local/share/longkern/tuning.db).\n");
    return out == stderr ? 2 : 0;
}

static int fail(const char *msg)
{
    fprintf(stderr, "lk-db: %s\n", msg);
    return 1;
}

static int cmd_import(const char *path, char **files, int nfiles, int rollback_journal)
{
    lk_db *db;
    char err[1024];
    if (lk_db_open(path, 1, &db, err, sizeof err) != LK_OK)
        return fail(err);
    int rc = 0;
    for (int i = 0; i < nfiles && rc == 0; i++) {
        FILE *in = fopen(files[i], "r");
        int rows = 0;
        if (!in) {
            fprintf(stderr, "lk-db: cannot read %s: %s\n", files[i], strerror(errno));
            rc = 1;
        } else if (lk_db_import_csv(db, in, files[i], &rows) != LK_OK) {
            rc = fail(lk_db_error(db));
        } else {
            printf("imported %d rows from %s into %s\n", rows, files[i], path);
        }
        if (in)
            fclose(in);
    }
    if (rc == 0 && rollback_journal && lk_db_use_rollback_journal(db) != LK_OK)
        rc = fail(lk_db_error(db));
    lk_db_close(db);
    return rc;
}

static int cmd_export(const char *path, const char *out_path, int argc, char **argv)
{
    lk_db *db;
    char err[1024];
    if (lk_db_open(path, 0, &db, err, sizeof err) != LK_OK)
        return fail(err);
    char comment[2048], date[64];
    time_t now = time(NULL);
    struct tm tm;
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime_r(&now, &tm));
    int used = snprintf(comment, sizeof comment, "longkern tuning data, exported %s from %s\ncommand:", date, path);
    for (int i = 0; i < argc && used >= 0 && (size_t)used < sizeof comment; i++)
        used += snprintf(comment + used, sizeof comment - (size_t)used, " %s", argv[i]);
    lk_status st = out_path ? lk_db_export_csv_file(db, out_path, comment) : lk_db_export_csv(db, stdout, comment);
    int rc = st == LK_OK ? 0 : fail(lk_db_error(db));
    lk_db_close(db);
    return rc;
}

static int cmd_compare(const char *path, const char *other, double tolerance)
{
    lk_db *db;
    char err[1024];
    if (lk_db_open(path, 0, &db, err, sizeof err) != LK_OK)
        return fail(err);
    int compared = 0, beyond = 0;
    lk_status st = lk_db_compare(db, other, tolerance, stdout, &compared, &beyond);
    int rc = st == LK_OK ? 0 : fail(lk_db_error(db));
    if (st == LK_OK)
        printf("%d keys compared, %d within %.0f%% of the best here, %d beyond\n", compared, compared - beyond,
               100.0 * tolerance, beyond);
    lk_db_close(db);
    return rc ? rc : beyond > 0 || compared == 0;
}

static int cmd_inspect(const char *path, int check)
{
    lk_db *db;
    char err[1024];
    if (lk_db_open(path, 0, &db, err, sizeof err) != LK_OK)
        return fail(err);
    lk_status st = check ? lk_db_check(db) : lk_db_show(db, stdout);
    if (st == LK_OK && check)
        printf("%s: ok\n", path);
    int rc = st == LK_OK ? 0 : fail(lk_db_error(db));
    lk_db_close(db);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage(stderr);
    const char *cmd = argv[1], *path = NULL, *out_path = NULL;
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help"))
        return usage(stdout);
    char **files = calloc((size_t)argc, sizeof *files);
    int nfiles = 0, rollback_journal = 0;
    double tolerance = 0.05;
    if (!files)
        return fail("out of memory");
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--db") && i + 1 < argc)
            path = argv[++i];
        else if (!strcmp(argv[i], "-o") && i + 1 < argc)
            out_path = argv[++i];
        else if (!strcmp(argv[i], "--tolerance") && i + 1 < argc) {
            if (cli_real(argv[++i], &tolerance) || !(tolerance >= 0.0 && tolerance < 1e6)) {
                fprintf(stderr, "lk-db %s: --tolerance wants a number >= 0, got '%s'\n", cmd, argv[i]);
                free(files);
                return 2;
            }
        }
        else if (!strcmp(argv[i], "--rollback-journal"))
            rollback_journal = 1;
        else if (argv[i][0] == '-' || (strcmp(cmd, "import") && strcmp(cmd, "compare"))) {
            fprintf(stderr, "lk-db %s: unexpected argument '%s'\n", cmd, argv[i]);
            free(files);
            return usage(stderr);
        } else
            files[nfiles++] = argv[i];
    }
    char default_path[512];
    const int given = path != NULL;
    if (!given)
        path = lk_tunedb_default_path(default_path, sizeof default_path);
    int rc;
    if (!*path)
        rc = fail(given ? "--db: an empty path names no database"
                        : "no database: give --db PATH or set LK_TUNING_DB (HOME is not set)");
    else if ((out_path && strcmp(cmd, "export")) || (rollback_journal && strcmp(cmd, "import")))
        rc = fail(out_path ? "-o is an option of export" : "--rollback-journal is an option of import");
    else if (!strcmp(cmd, "import"))
        rc = cmd_import(path, files, nfiles, rollback_journal);
    else if (!strcmp(cmd, "export"))
        rc = cmd_export(path, out_path, argc, argv);
    else if (!strcmp(cmd, "compare"))
        rc = nfiles == 1 ? cmd_compare(path, files[0], tolerance) : fail("compare takes one other database");
    else if (!strcmp(cmd, "show") || !strcmp(cmd, "check"))
        rc = cmd_inspect(path, !strcmp(cmd, "check"));
    else
        rc = usage(stderr);
    free(files);
    return rc;
}
