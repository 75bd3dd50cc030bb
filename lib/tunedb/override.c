/* The public tuning calls: parameters set by hand for a context (lk_tuning_override, like
 * CLBlast's OverrideParameters), clearing them, and describing what a lookup would give. */
#include <stdlib.h>
#include <string.h>

#include "state.h"

/* Split "op" or "op:family" into a key's fields; *any_family = 1 without ":family". */
static lk_status split_op(lk_context *ctx, const char *text, lk_tune_key *key, int *any_family)
{
    const char *colon = strchr(text, ':');
    size_t op_len = colon ? (size_t)(colon - text) : strlen(text);
    size_t family_len = colon ? strlen(colon + 1) : 0;
    if (op_len == 0 || op_len >= sizeof key->op || family_len >= sizeof key->family)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT,
                       "op '%s': expected NAME or NAME:FAMILY (name 1-%zu characters, family up to %zu)", text,
                       sizeof key->op - 1, sizeof key->family - 1);
    char names[256];
    memcpy(key->op, text, op_len);
    key->op[op_len] = '\0';
    if (!lk_tune_op_known(key->op))
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, "op '%s': no such tuned op (%s)", key->op,
                       lk_tune_op_names(names, sizeof names));
    memcpy(key->family, colon ? colon + 1 : "", family_len + 1);
    *any_family = colon == NULL;
    return LK_OK;
}

/* Check the arguments shared by the public calls and fill key. */
static lk_status make_key(lk_context *ctx, const char *fn, const char *op, lk_dtype dtype, int head_dim,
                          int flag, int64_t length, lk_tune_key *key, int *any_family)
{
    memset(key, 0, sizeof *key);
    if (dtype < LK_F32 || dtype > LK_U32)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, "%s: unknown dtype %d", fn, (int)dtype);
    if (head_dim < 0 || length < 0)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, "%s: head_dim %d and length %lld must be >= 0", fn, head_dim,
                       (long long)length);
    key->dtype = dtype;
    key->head_dim = head_dim;
    key->flag = flag;
    key->length = length;
    return split_op(ctx, op, key, any_family);
}

const lk_tune_override *lk_tune_find_override(const struct lk_tunedb *t, const lk_tune_key *key)
{
    int64_t bucket = lk_length_bucket(key->length);
    const lk_tune_override *best = NULL;
    int best_score = -1;
    for (int i = 0; i < t->n_overrides; i++) {
        const lk_tune_override *o = &t->overrides[i];
        if (strcmp(o->op, key->op) != 0 || (!o->any_family && strcmp(o->family, key->family) != 0) ||
            o->dtype != key->dtype || o->head_dim != key->head_dim || o->flag != key->flag ||
            (o->bucket && o->bucket != bucket))
            continue;
        int score = 2 * (o->bucket != 0) + !o->any_family;
        if (score > best_score) {
            best = o;
            best_score = score;
        }
    }
    return best;
}

lk_status lk_tuning_override(lk_context *ctx, const char *op, lk_dtype dtype, int head_dim, int flag,
                             int64_t length, const char *params)
{
    if (!ctx)
        return LK_ERR_NULL_POINTER;
    if (!op || !params)
        return lk_fail(ctx, LK_ERR_NULL_POINTER, "lk_tuning_override: NULL %s", op ? "params" : "op");
    lk_tune_override o;
    memset(&o, 0, sizeof o);
    lk_tune_key key;
    lk_status st = make_key(ctx, "lk_tuning_override", op, dtype, head_dim, flag, length, &key, &o.any_family);
    if (st != LK_OK)
        return st;
    if (lk_params_parse(params, &o.params) != LK_OK)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT,
                       "lk_tuning_override: params '%s' are not NAME=int pairs like \"BLOCK_M=64,BLOCK_N=32\"",
                       params);
    memcpy(o.op, key.op, sizeof o.op);
    memcpy(o.family, key.family, sizeof o.family);
    o.dtype = dtype;
    o.head_dim = head_dim;
    o.flag = flag;
    o.bucket = length ? lk_length_bucket(length) : 0;

    struct lk_tunedb *t = lk_tunedb_state(ctx);
    if (!t)
        return lk_fail(ctx, LK_ERR_OUT_OF_MEMORY, "lk_tuning_override: out of memory");
    int i = 0;
    while (i < t->n_overrides &&
           !(strcmp(t->overrides[i].op, o.op) == 0 && strcmp(t->overrides[i].family, o.family) == 0 &&
             t->overrides[i].any_family == o.any_family && t->overrides[i].dtype == o.dtype &&
             t->overrides[i].head_dim == o.head_dim && t->overrides[i].flag == o.flag &&
             t->overrides[i].bucket == o.bucket))
        i++;
    if (i == t->cap_overrides) {
        int cap = t->cap_overrides ? 2 * t->cap_overrides : 8;
        lk_tune_override *p = realloc(t->overrides, (size_t)cap * sizeof *p);
        if (!p)
            return lk_fail(ctx, LK_ERR_OUT_OF_MEMORY, "lk_tuning_override: out of memory");
        t->overrides = p;
        t->cap_overrides = cap;
    }
    t->overrides[i] = o;
    if (i == t->n_overrides)
        t->n_overrides++;
    lk_clear_error(ctx);
    return LK_OK;
}

lk_status lk_tuning_clear_overrides(lk_context *ctx)
{
    if (!ctx)
        return LK_ERR_NULL_POINTER;
    if (ctx->tunedb)
        ctx->tunedb->n_overrides = 0;
    lk_clear_error(ctx);
    return LK_OK;
}

lk_status lk_tuning_describe(lk_context *ctx, const char *op, lk_dtype dtype, int head_dim, int flag,
                             int64_t length, char *buf, size_t n)
{
    if (!ctx)
        return LK_ERR_NULL_POINTER;
    if (!op || !buf || n == 0)
        return lk_fail(ctx, op ? LK_ERR_INVALID_ARGUMENT : LK_ERR_NULL_POINTER,
                       "lk_tuning_describe: %s", op ? "no output buffer" : "NULL op");
    buf[0] = '\0';
    lk_tune_key key;
    int any_family;
    lk_status st = make_key(ctx, "lk_tuning_describe", op, dtype, head_dim, flag, length, &key, &any_family);
    lk_params out;
    lk_lookup_result r;
    if (st != LK_OK || (st = lk_tuned_params(ctx, &key, NULL, &out, &r)) != LK_OK)
        return st;
    char params[1024];
    lk_params_format(&out, "", ",", params, sizeof params);
    snprintf(buf, n, "%s source=%s match=%s bucket=%lld%s%s", out.n ? params : "(built-in defaults)",
             lk_param_source_name(r.source), lk_device_match_name(r.match), (long long)r.bucket,
             r.path[0] ? " path=" : "", r.path);
    lk_clear_error(ctx);
    return LK_OK;
}
