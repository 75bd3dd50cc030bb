/* The tuning loop of lk-tune, for any op of the registry (op.h): keys (dtype × head_dim × length
 * × flag × family), each candidate checked against ref/, timed and recorded in the database
 * (every candidate, with its status and reason). Candidates already measured are skipped unless
 * forced, so a run killed at any point resumes where it stopped. */
#ifndef LK_TUNER_TUNE_H
#define LK_TUNER_TUNE_H

#include "op.h"
#include "tunedb/db.h"

#define TUNE_MAX_KEYS 256

typedef enum tune_strategy { TUNE_EXHAUSTIVE = 0, TUNE_RANDOM = 1, TUNE_BUDGET = 2 } tune_strategy;

typedef struct tune_opts {
    const tune_op *op;
    int ndtypes, nhead_dims, nflags, nfamilies, nlengths;
    lk_dtype dtypes[2];
    int head_dims[2], flags[2];
    const char *families[TUNE_MAX_FAMILIES];
    int64_t lengths[64];
    tune_strategy strategy;
    double fraction;  /* random */
    double budget_s;  /* budget */
    int force;
    tune_shape shape; /* the timed problem (0: the op's default) */
    lk_params only;   /* --only: parameters held at one value (space_restrict); n = 0: none */
} tune_opts;

/* The search space of key under o: the op's, narrowed by --only (which tune_check_only has
 * accepted for every key). u must outlive s. */
void tune_space(lk_context *ctx, const tune_opts *o, const lk_tune_key *key, tune_space_user *u, space *s);
/* 0 when --only fits every key's space; else -1 with the reason on stderr. */
int tune_check_only(lk_context *ctx, const tune_opts *o, const lk_tune_key *keys, int nkeys);

/* 1 when keys a and b build the same kernels: equal up to length and flag (a compile class). */
int tune_same_class(const lk_tune_key *a, const lk_tune_key *b);
/* An attention key's work (tune_op.work): length squared, halved when causal (flag 1). */
double tune_work_attention(const lk_tune_key *key);
/* The op's built-in default for key, projected on its space s (what the search measures of it). */
void tune_default_on_space(lk_context *ctx, const tune_op *op, const space *s, const lk_tune_key *key, lk_params *out);
/* The time (s) the final round takes for a key whose best call takes best_ms: every value of the
 * decisive parameter timed FINAL_ROUNDS times, plus a first measurement of one the search did
 * not reach. 0 when the op has no final round. */
double tune_final_round_cost_s(const tune_op *op, const space *s, double best_ms);

/* A key's candidates that pass every constraint, in the order the search takes them before its
 * seeds move to the front (shuffled with a fixed seed, except exhaustive: space order);
 * malloc'ed, *n of them. The compile-ahead workers (warm.h) build them in this order. */
lk_params *tune_search_order(const space *s, tune_strategy strategy, size_t *n);
/* How many of a key's n valid candidates the strategy measures, the first of tune_search_order
 * (random: the fraction; budget: all, time decides; exhaustive: all). */
size_t tune_planned(const tune_opts *o, size_t n);
/* What lk-tune stores as a measurement's tuner_version: its own version and the kernels'
 * (lk_kernels_version), so that rows of other kernels stop counting once a key is re-timed. */
void tune_version(char *out, size_t n);
/* 1 when db holds a measurement of p for key on dev by this tuner and these kernels, whatever its
 * outcome (a failed lookup warns on stderr and counts as not measured). */
int tune_measured(lk_db *db, const lk_device_info *dev, const lk_tune_key *key, const lk_params *p);
/* The keys to tune, in loop order; lengths whose problem does not fit the device are left out
 * with a note on stderr. Returns the count. */
int tune_keys(lk_context *ctx, const tune_opts *o, lk_tune_key *keys, int max);
/* Prints each key's space: candidate count, each candidate and its verdict. */
void tune_dry_run(lk_context *ctx, const tune_opts *o, const lk_tune_key *keys, int nkeys);
/* Tunes every key into db. Returns 0, or 1 when a key could not be set up. */
int tune_run(lk_context *ctx, lk_db *db, const tune_opts *o, const lk_tune_key *keys, int nkeys);

#endif
