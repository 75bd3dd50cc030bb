/* The database layers of a context: where each file is (read from the environment once per
 * context), opening it read-only when it first exists, and skipping a broken one with one
 * warning.
 *   env     LK_TUNING_DB
 *   user    $XDG_DATA_HOME/longkern/tuning.db, else $HOME/.local/share/longkern/tuning.db
 *   system  env LK_SYSTEM_DB if set ("" turns the layer off); else the installed file
 *           (compile definition LK_SYSTEM_DB) if it exists; else the build tree's file
 *           (LK_BUILD_DB), so programs run from the build tree get the committed configs. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state.h"

static const char *system_db_path(void)
{
    const char *env = getenv("LK_SYSTEM_DB");
    if (env)
        return env;
#ifdef LK_SYSTEM_DB
    if (access(LK_SYSTEM_DB, F_OK) == 0)
        return LK_SYSTEM_DB;
#endif
#ifdef LK_BUILD_DB
    return LK_BUILD_DB;
#else
    return "";
#endif
}

/* The user DB's path into buf (n bytes); "" when there is none or it does not fit. */
static void user_db_path(char *buf, size_t n)
{
    const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    int used = xdg && *xdg    ? snprintf(buf, n, "%s/longkern/tuning.db", xdg)
               : home && *home ? snprintf(buf, n, "%s/.local/share/longkern/tuning.db", home)
                               : -1;
    if (used < 0 || (size_t)used >= n)
        buf[0] = '\0';
}

const char *lk_tunedb_default_path(char *buf, size_t n)
{
    const char *env = getenv("LK_TUNING_DB");
    if (env && *env) {
        if (snprintf(buf, n, "%s", env) >= (int)n)
            buf[0] = '\0';
        return buf;
    }
    user_db_path(buf, n);
    return buf;
}

static void set_path(lk_tune_layer *l, lk_param_source source, const char *path)
{
    l->source = source;
    if (strlen(path) >= sizeof l->path) {
        lk_log(LK_LOG_WARN, "tuning database path %.100s... is too long (%zu characters at most); the %s layer is off",
               path, sizeof l->path - 1, lk_param_source_name(source));
        l->broken = 1;
        return;
    }
    memcpy(l->path, path, strlen(path) + 1);
}

struct lk_tunedb *lk_tunedb_state(lk_context *ctx)
{
    if (ctx->tunedb)
        return ctx->tunedb;
    struct lk_tunedb *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    const char *env = getenv("LK_TUNING_DB");
    set_path(&t->layers[0], LK_SOURCE_ENV_DB, env ? env : "");
    t->layers[1].source = LK_SOURCE_USER_DB;
    user_db_path(t->layers[1].path, sizeof t->layers[1].path);
    set_path(&t->layers[2], LK_SOURCE_SYSTEM_DB, system_db_path());
    ctx->tunedb = t;
    return t;
}

void lk_tune_layer_failed(lk_tune_layer *l, const char *why)
{
    lk_log(LK_LOG_WARN, "tuning database skipped (%s layer): %s", lk_param_source_name(l->source), why);
    lk_db_close(l->db);
    l->db = NULL;
    l->broken = 1;
}

lk_db *lk_tune_layer_db(lk_tune_layer *l)
{
    struct stat sb;
    if (l->db || l->broken || !l->path[0] || stat(l->path, &sb) != 0)
        return l->db;
    char err[1024];
    if (lk_db_open(l->path, 0, &l->db, err, sizeof err) != LK_OK)
        lk_tune_layer_failed(l, err);
    return l->db;
}

void lk_tunedb_context_free(lk_context *ctx)
{
    if (!ctx || !ctx->tunedb)
        return;
    for (int i = 0; i < 3; i++)
        lk_db_close(ctx->tunedb->layers[i].db);
    free(ctx->tunedb->overrides);
    free(ctx->tunedb);
    ctx->tunedb = NULL;
}
