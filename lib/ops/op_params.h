/* The parameters an op's call launches with, shared by every op's entry: the caller's own (lk-tune's
 * candidate, an lk-bench column) as given, or else the tuning database's answer for the call's key
 * laid over the op's defaults; after the launch, where they came from goes into the context's
 * last-launch line (" [source=system-db]"), which LK_LOG and the tests read. */
#ifndef LK_OP_PARAMS_H
#define LK_OP_PARAMS_H

#include "../core/internal.h"
#include "../tunedb/tunedb.h"

typedef struct lk_op_params {
    lk_params looked;       /* the database's answer, when looked up */
    lk_lookup_result where; /* its source */
    int looked_up;          /* 0: the caller's parameters */
} lk_op_params;

/* given, or (given NULL) the tuned parameters for key over defaults, held in *how. */
const lk_params *lk_op_params_choose(lk_context *ctx, const lk_params *given, const lk_tune_key *key,
                                     const lk_params *defaults, lk_op_params *how);

/* After a call with looked-up parameters returned st: 1 when a database row's parameters were
 * refused (LK_ERR_INVALID_ARGUMENT before anything launched: what this device or call cannot run,
 * such as tiles past its work-group size or local memory or a kernel it lacks; unknown names and
 * values outside the static ranges never get here, lk_tuned_params skips such rows by
 * lk_op_params_check), after a warning; then *tuned is defaults and the caller runs again. */
int lk_op_params_fall_back(lk_context *ctx, lk_op_params *how, const lk_params *defaults, lk_status st,
                           const lk_params **tuned);

/* The end of an op's call whose launch returned st: on success the source of looked-up parameters
 * is appended to ctx->last_launch and the error cleared. Returns st. */
lk_status lk_op_params_finish(lk_context *ctx, const lk_op_params *how, lk_status st);

#endif
