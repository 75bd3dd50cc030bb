/* The tuning loop of lk-tune: keys (dtype × head_dim × length × causal × family), each
 * candidate checked against ref/, timed and recorded in the database (every candidate, with
 * its status and reason). Keys that already have a best row are skipped unless forced, so a
 * run killed at any point resumes where it stopped. */
#ifndef LK_TUNER_TUNE_H
#define LK_TUNER_TUNE_H

#include "tunedb/db.h"

#define TUNE_MAX_KEYS 256

typedef enum tune_strategy { TUNE_EXHAUSTIVE = 0, TUNE_RANDOM = 1, TUNE_BUDGET = 2 } tune_strategy;

typedef struct tune_opts {
    int ndtypes, nhead_dims, ncausal, nfamilies, nlengths;
    lk_dtype dtypes[2];
    int head_dims[2], causal[2];
    const char *families[2];
    int64_t lengths[64];
    tune_strategy strategy;
    double fraction;  /* random */
    double budget_s;  /* budget */
    int force;
    int heads, batch; /* timing problem; heads 0: 16 on GPUs, 1 on CPUs */
} tune_opts;

/* The keys to tune, in loop order; lengths whose tensors do not fit in half the device memory
 * are left out with a note on stderr. Returns the count. */
int tune_keys(lk_context *ctx, const tune_opts *o, lk_tune_key *keys, int max);
/* Prints each key's space: candidate count, each candidate and its verdict. */
void tune_dry_run(lk_context *ctx, const lk_tune_key *keys, int nkeys);
/* Tunes every key into db. Returns 0, or 1 when a key could not be set up. */
int tune_run(lk_context *ctx, lk_db *db, const tune_opts *o, const lk_tune_key *keys, int nkeys);

#endif
