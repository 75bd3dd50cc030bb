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
