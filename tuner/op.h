/* What lk-tune and lk-bench need from a tunable op: one descriptor per op, defined in
 * tuner/op_<name>.c and listed in tuner/ops.c. The tuning loop (tune.c), the command lines and
 * the database are shared; an op brings its search space, its built-in defaults, a small case
 * checked against ref/, a timed call and its benchmark table.
 *
 * Key fields an op gives meaning to (lk_tune_key, tunedb.h): family (e.g. "rope"/"plain"),
 * dtype, head_dim, flag (e.g. causal) and length (sequence or context length, bucketed). */
#ifndef LK_TUNER_OP_H
#define LK_TUNER_OP_H

#include <stddef.h>
#include <stdint.h>

#include "longkern.h"
#include "params.h"
#include "space.h"
#include "tunedb/tunedb.h"

/* What a space's predicates read (it must outlive the space). */
typedef struct tune_space_user {
    lk_context *ctx;
    const lk_tune_key *key;
} tune_space_user;

/* The size of the timed problem, from the command line: 0 leaves the op's default. */
typedef struct tune_shape {
    int batch, heads;
} tune_shape;

/* lk-bench's common options; an op reads what applies to it. */
typedef struct bench_opts {
    int64_t lo, hi;      /* --seq; 0 when not given (the op's default range) */
    int head_dim;        /* --head-dim; 0: the op's default */
    lk_dtype dtype;      /* --dtype */
    int nflags, flags[2];/* --causal / --flag */
    tune_shape shape;    /* --batch, --heads */
    const char *out;     /* --out directory (results) */
    const char *db;      /* --db, or NULL: the tuner's default database */
    int argc;            /* the command line, for the header of every output file */
    char **argv;
} bench_opts;

#define TUNE_MAX_FAMILIES 4

typedef struct tune_op {
    const char *name;            /* key.op and the --op value */
    const char *bench_name;      /* lk-bench --op also takes this (a table shared by ops); NULL: none */
    int nfamilies;               /* families[0..n): "" when the op has none */
    const char *families[TUNE_MAX_FAMILIES];
    const char *flag_name;       /* what key.flag means ("causal", "group"); NULL: always 0 */
    const char *flags;           /* lk-tune's default --flag ("both", "32") */
    int flag_choices[2];         /* the two values "both" stands for ({0, 1} for causal) */
    const char *head_dims;       /* lk-tune's default --head-dim ("128", "both") */
    int head_dim_choices[2];     /* the two values "both" stands for */
    const char *seq_gpu, *seq_cpu; /* default length ranges ("512:131072") */
    const char *decisive;        /* a parameter whose values are paths the tuner's final round times
                                    side by side, each at its best ("VARIANT"); NULL: none */
    /* A key's work relative to the other keys of its class (equal up to length and flag): its time
       is about proportional, so the budget strategy predicts one key's time from another's. NULL:
       proportional to the length (a decode over a context, a chunked scan). */
    double (*work)(const lk_tune_key *key);

    /* Fills s (s->user = u) with the key's named value lists and constraints. */
    void (*space)(const tune_space_user *u, space *s);
    /* The op's built-in parameters for this device and key (what an untuned call uses). */
    void (*defaults)(const lk_device_info *dev, const lk_tune_key *key, lk_params *out);
    /* 1 when the timed problem of key fits the device; 0 after a note on stderr. */
    int (*fits)(lk_context *ctx, const lk_tune_key *key, const tune_shape *shape);
    /* Inputs for key: the timed problem and the small check case with its reference. */
    lk_status (*setup)(lk_context *ctx, const lk_tune_key *key, const tune_shape *shape, void **state);
    /* Runs p on the check case; *rel_err gets the error and *tol the op's tolerance. */
    lk_status (*check)(void *state, const lk_params *p, double *rel_err, double *tol);
    /* One call of the timed problem with p; p NULL calls the public entry (the database's pick). */
    lk_status (*run)(void *state, const lk_params *p);
    /* After building p: 1 when the compiled kernels fit the device, else 0 and why. May be NULL. */
    int (*fits_built)(lk_context *ctx, const lk_tune_key *key, const lk_params *p, char *why, size_t n);
    void (*teardown)(void *state);
    /* lk-bench --op NAME: measure, print and write results/<device-slug>/... Returns 0 on success. */
    int (*bench)(lk_context *ctx, const bench_opts *o);
} tune_op;

/* The timed problem's batch: --batch, else 1. */
int tune_batch(const tune_shape *shape);

/* The registry (tuner/ops.c), NULL-terminated. */
extern const tune_op *const tune_ops[];
/* The op named name, or NULL; bench: the first op whose name or bench_name is name. */
const tune_op *tune_op_find(const char *name, int bench);
/* "attention_fwd, kv_sparse, ..." for usage lines; bench: lk-bench's names (bench names added). */
void tune_op_names(char *buf, size_t n, int bench);

/* A timed_fn (timing.h) argument: one run of an op's state with parameters p. */
typedef struct tune_call {
    const tune_op *op;
    void *state;
    const lk_params *p;
} tune_call;
lk_status tune_call_run(lk_context *ctx, void *call);

#endif
