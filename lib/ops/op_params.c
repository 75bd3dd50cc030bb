/* The parameters an op's call launches with (see op_params.h). */
#include <stdio.h>
#include <string.h>

#include "op_params.h"

const lk_params *lk_op_params_choose(lk_context *ctx, const lk_params *given, const lk_tune_key *key,
                                     const lk_params *defaults, lk_op_params *how)
{
    how->looked_up = !given;
    if (given)
        return given;
    lk_tuned_params(ctx, key, defaults, &how->looked, &how->where);
    return &how->looked;
}

int lk_op_params_fall_back(lk_context *ctx, lk_op_params *how, const lk_params *defaults, lk_status st,
                           const lk_params **tuned)
{
    lk_param_source s = how->where.source;
    if (st != LK_ERR_INVALID_ARGUMENT || !how->looked_up || ctx->last_launch[0] ||
        (s != LK_SOURCE_ENV_DB && s != LK_SOURCE_USER_DB && s != LK_SOURCE_SYSTEM_DB))
        return 0;
    lk_log(LK_LOG_WARN, "tuned parameters from %s (%s) refused, running the built-in defaults: %s",
           lk_param_source_name(s), how->where.path, lk_last_error(ctx));
    how->where.source = LK_SOURCE_DEFAULT;
    *tuned = defaults;
    return 1;
}

lk_status lk_op_params_finish(lk_context *ctx, const lk_op_params *how, lk_status st)
{
    if (st != LK_OK)
        return st;
    size_t n = strlen(ctx->last_launch);
    if (how->looked_up)
        snprintf(ctx->last_launch + n, sizeof ctx->last_launch - n, " [source=%s]",
                 lk_param_source_name(how->where.source));
    lk_clear_error(ctx);
    return st;
}
