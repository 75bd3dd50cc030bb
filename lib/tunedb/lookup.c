/* lk_tuned_params: the parameters an op launches with.
 *
 * An override for the key wins. Otherwise the device-match level is the outer loop and the
 * layer the inner one: exact fingerprint in env, user, system DB; then same device name in
 * env, user, system; then same vendor and type in each. So an exact-device row in the system
 * DB beats a vendor-level row in LK_TUNING_DB. The first hit's parameters are laid over the
 * caller's defaults; with no hit the defaults are used as they are. A row whose parameters fail
 * lk_op_params_check (a name its op does not read, a value outside its static range) is skipped
 * with a warning, and the search goes on to the next layer. Database answers are remembered for
 * a moment per context (state.h), so calls in a loop cost no query (and repeat no warning). */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "state.h"
#include "../ops/op_params_check.h"

int64_t lk_length_bucket(int64_t length)
{
    int64_t b = 1;
    while (b < length && b < ((int64_t)1 << 62))
        b <<= 1;
    return b;
}

const char *lk_param_source_name(lk_param_source s)
{
    static const char *const names[] = {"override", "env-db", "user-db", "system-db", "default"};
    return (int)s >= 0 && s <= LK_SOURCE_DEFAULT ? names[s] : "unknown";
}

const char *lk_device_match_name(lk_device_match m)
{
    static const char *const names[] = {"exact", "device-name", "vendor-type", "none"};
    return (int)m >= 0 && m <= LK_MATCH_NONE ? names[m] : "unknown";
}

/* First database hit, device level outer, layer inner. */
static int search_layers(lk_context *ctx, struct lk_tunedb *t, const lk_tune_key *key, lk_params *row,
                         lk_lookup_result *r)
{
    lk_params refused[3]; /* each layer's last refused row: the wider levels find the same row again */
    int64_t refused_bucket[3] = {0, 0, 0};
    for (int level = LK_MATCH_EXACT; level <= LK_MATCH_VENDOR_TYPE; level++) {
        for (int i = 0; i < 3; i++) {
            lk_tune_layer *l = &t->layers[i];
            lk_db *db = lk_tune_layer_db(l);
            int found = 0;
            if (!db)
                continue;
            if (lk_db_lookup(db, &ctx->info, key, (lk_device_match)level, row, &r->bucket, &found) != LK_OK) {
                lk_tune_layer_failed(l, lk_db_error(db));
                continue;
            }
            char why[512];
            if (found && lk_op_params_check(key->op, row, why, sizeof why) != LK_OK) {
                /* another version's row or a hand edit: the next layer, or in the end the defaults */
                if (refused_bucket[i] != r->bucket || !lk_params_equal(&refused[i], row))
                    lk_log(LK_LOG_WARN, "tuning row skipped (%s layer, %s, %s match, bucket %lld): %s",
                           lk_param_source_name(l->source), l->path, lk_device_match_name((lk_device_match)level),
                           (long long)r->bucket, why);
                refused[i] = *row;
                refused_bucket[i] = r->bucket;
                found = 0;
                r->bucket = 0;
            }
            if (found) {
                r->source = l->source;
                r->match = (lk_device_match)level;
                memcpy(r->path, l->path, sizeof r->path);
                return 1;
            }
        }
    }
    return 0;
}

static double monotonic_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int same_bucket(const lk_tune_key *a, const lk_tune_key *b)
{
    return !strcmp(a->op, b->op) && !strcmp(a->family, b->family) && a->dtype == b->dtype &&
           a->head_dim == b->head_dim && a->flag == b->flag && a->length == lk_length_bucket(b->length);
}

/* search_layers through the memo (see state.h). */
static int search_memo(lk_context *ctx, struct lk_tunedb *t, const lk_tune_key *key, lk_params *row,
                       lk_lookup_result *r)
{
    double now = monotonic_s();
    for (int i = 0; i < t->n_memo; i++) {
        lk_tune_memo *m = &t->memo[i];
        if (same_bucket(&m->key, key) && now - m->when < LK_TUNE_MEMO_SECONDS) {
            *row = m->row;
            *r = m->where;
            return m->found;
        }
    }
    int found = search_layers(ctx, t, key, row, r);
    int slot = -1;
    for (int i = 0; i < t->n_memo && slot < 0; i++)
        if (same_bucket(&t->memo[i].key, key))
            slot = i;
    if (slot < 0) {
        slot = t->n_memo < LK_TUNE_MEMO_SIZE ? t->n_memo++ : t->next_memo;
        t->next_memo = (slot + 1) % LK_TUNE_MEMO_SIZE;
    }
    lk_tune_memo *m = &t->memo[slot];
    m->key = *key;
    m->key.length = lk_length_bucket(key->length);
    m->found = found;
    m->row = found ? *row : (lk_params){0};
    m->where = *r;
    m->when = now;
    return found;
}

static void log_lookup(const lk_tune_key *key, const lk_params *out, const lk_lookup_result *r)
{
    char params[1024];
    lk_params_format(out, "", ",", params, sizeof params);
    lk_log(LK_LOG_INFO, "tuning %s%s%s %s head_dim=%d flag=%d length=%lld: %s match=%s bucket=%lld%s%s%s -> %s",
           key->op, key->family[0] ? ":" : "", key->family, lk_dtype_name(key->dtype), key->head_dim, key->flag,
           (long long)key->length, lk_param_source_name(r->source), lk_device_match_name(r->match),
           (long long)r->bucket, r->path[0] ? " (" : "", r->path, r->path[0] ? ")" : "",
           out->n ? params : "(no parameters)");
}

lk_status lk_tuned_params(lk_context *ctx, const lk_tune_key *key, const lk_params *defaults,
                          lk_params *out, lk_lookup_result *where)
{
    if (!ctx || !key || !out)
        return lk_fail(ctx, LK_ERR_NULL_POINTER, "lk_tuned_params: NULL %s", !ctx ? "context" : !key ? "key" : "out");
    lk_lookup_result r = {LK_SOURCE_DEFAULT, LK_MATCH_NONE, 0, ""};
    lk_params base, row;
    if (defaults)
        base = *defaults;
    else
        memset(&base, 0, sizeof base);
    struct lk_tunedb *t = lk_tunedb_state(ctx);
    const lk_tune_override *o = t ? lk_tune_find_override(t, key) : NULL;
    int found = 0;
    if (o) {
        row = o->params;
        r.source = LK_SOURCE_OVERRIDE;
        r.match = LK_MATCH_EXACT;
        r.bucket = o->bucket;
        found = 1;
    } else if (t) {
        found = search_memo(ctx, t, key, &row, &r);
    }
    for (int i = 0; found && i < row.n; i++)
        lk_params_set(&base, row.v[i].name, row.v[i].value);
    *out = base;
    if (lk_log_enabled(LK_LOG_INFO))
        log_lookup(key, out, &r);
    if (where)
        *where = r;
    return LK_OK;
}
