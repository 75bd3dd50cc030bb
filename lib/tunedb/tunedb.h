/* Tuning database: which kernel parameters to use for a call.
 *
 * A key names one tuned problem class: op × variant family × dtype × head_dim × flag (causal
 * for attention) × length bucket (the power of two at or above the exact length; the kernel
 * still receives the exact length). Lookup walks the layers LK_TUNING_DB → user DB
 * ($XDG_DATA_HOME/longkern/tuning.db) → system DB (installed from results/) → built-in
 * defaults; within a DB: exact device fingerprint → same device name → same vendor and type;
 * for length, the nearest tuned bucket in log space. */
#ifndef LK_TUNEDB_H
#define LK_TUNEDB_H

#include "longkern.h"
#include "../core/params.h"

typedef struct lk_tune_key {
    char op[32];      /* "attention_fwd", "rope", ... */
    char family[16];  /* variant family within the op ("" if one); e.g. "rope" vs "plain" */
    lk_dtype dtype;
    int head_dim;
    int flag;         /* causal for attention; op-specific otherwise */
    int64_t length;   /* exact sequence / context length; bucketed inside */
} lk_tune_key;

int64_t lk_length_bucket(int64_t length); /* next power of two >= length (min 1) */

typedef enum lk_param_source {
    LK_SOURCE_OVERRIDE = 0,
    LK_SOURCE_ENV_DB = 1,
    LK_SOURCE_USER_DB = 2,
    LK_SOURCE_SYSTEM_DB = 3,
    LK_SOURCE_DEFAULT = 4
} lk_param_source;

typedef enum lk_device_match {
    LK_MATCH_EXACT = 0,        /* same fingerprint */
    LK_MATCH_DEVICE_NAME = 1,  /* same backend and device name, other driver */
    LK_MATCH_VENDOR_TYPE = 2,  /* same backend, vendor and device type */
    LK_MATCH_NONE = 3
} lk_device_match;

typedef struct lk_lookup_result {
    lk_param_source source;
    lk_device_match match;
    int64_t bucket;      /* the tuned bucket used (0 for defaults) */
    char path[512];      /* database file, "" for override/default */
} lk_lookup_result;

const char *lk_param_source_name(lk_param_source s);
/* 1 when op names an op whose calls look up tuned parameters (attention_fwd, attention_bwd,
 * attention_decode, kda_fwd, kv_sparse, kivi_decode, lowrank_decode): overrides and imports of
 * other names are refused. */
int lk_tune_op_known(const char *op);
/* Those names, comma-separated, into buf (n > 0; truncated to fit), for messages. Returns buf. */
const char *lk_tune_op_names(char *buf, size_t n);
const char *lk_device_match_name(lk_device_match m);

/* Fill *out for key on ctx's device. `defaults` are the op's built-in defaults for this device
 * type; DB entries are laid over them (so a DB row may name a subset). Never fails for a
 * missing or broken DB: it logs a warning and falls back. A row whose parameters fail
 * lk_op_params_check is skipped with a warning (the next layer, else the defaults, serve). */
lk_status lk_tuned_params(lk_context *ctx, const lk_tune_key *key, const lk_params *defaults,
                          lk_params *out, lk_lookup_result *where);

/* The database file a tuner writes by default: LK_TUNING_DB if set, else the user DB
 * ($XDG_DATA_HOME/longkern/tuning.db, else $HOME/.local/share/longkern/tuning.db). Writes it
 * to buf and returns buf; "" when none can be named (no HOME) or it does not fit. */
const char *lk_tunedb_default_path(char *buf, size_t n);

/* Close ctx's database handles and drop its overrides (lk_context_destroy calls it; NULL and a
 * context that never looked anything up are fine). */
void lk_tunedb_context_free(lk_context *ctx);

#endif
