/* A context's view of the tuning database (ctx->tunedb): the overrides set by
 * lk_tuning_override and the database files of each layer, opened read-only on first use. */
#ifndef LK_TUNEDB_STATE_H
#define LK_TUNEDB_STATE_H

#include "db.h"
#include "../core/internal.h"

typedef struct lk_tune_override {
    char op[32];
    char family[16];
    int any_family;    /* "op" without ":family": every family of op */
    lk_dtype dtype;
    int head_dim;
    int flag;
    int64_t bucket;    /* 0: every length */
    lk_params params;
} lk_tune_override;

/* One database layer (env, user, system). */
typedef struct lk_tune_layer {
    lk_param_source source;
    char path[512];    /* "" when the layer is off */
    lk_db *db;         /* NULL until the file exists and opened */
    int broken;        /* could not be used: warned once, skipped from now on */
} lk_tune_layer;

/* A remembered database answer for one key bucket: ops look up their parameters on every call,
 * and a hot loop of small calls must not pay an SQLite query each time. Answers (hits and misses)
 * are kept for LK_TUNE_MEMO_SECONDS, so a database a tuner is filling still shows through soon. */
#define LK_TUNE_MEMO_SIZE 64
#define LK_TUNE_MEMO_SECONDS 2.0
typedef struct lk_tune_memo {
    lk_tune_key key;   /* length holds the bucket */
    int found;
    lk_params row;
    lk_lookup_result where;
    double when;       /* monotonic seconds */
} lk_tune_memo;

struct lk_tunedb {
    lk_tune_override *overrides;
    int n_overrides, cap_overrides;
    lk_tune_layer layers[3];
    lk_tune_memo memo[LK_TUNE_MEMO_SIZE];
    int n_memo, next_memo;
};

/* ctx's state, created on first use (layer paths read from the environment then); NULL when
 * out of memory. */
struct lk_tunedb *lk_tunedb_state(lk_context *ctx);

/* The layer's open database, or NULL when the layer is off, its file does not exist (looked
 * for again next time) or it is broken (warned about once). */
lk_db *lk_tune_layer_db(lk_tune_layer *layer);
/* Warn once that the layer cannot be used, and skip it from now on. */
void lk_tune_layer_failed(lk_tune_layer *layer, const char *why);

/* The most specific override matching key (a length bucket beats every length, then a family
 * beats every family), or NULL. */
const lk_tune_override *lk_tune_find_override(const struct lk_tunedb *t, const lk_tune_key *key);

#endif
