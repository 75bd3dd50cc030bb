/* Attention-backward inputs for the tuner and the benchmark, and the check of a candidate.
 *
 * A bwd_problem is the forward's problem (q, k, v, o; problem.h) with o and lse filled by one
 * lk_attention_fwd call, plus a second problem of the same shape for the gradients: its q holds
 * dout (random), its o receives dq, its k and v receive dk and dv. Keys of family "rope" use RoPE
 * theta 10000. A bwd_problem points into itself: create it in place and do not copy it. */
#ifndef LK_TUNER_BWD_PROBLEM_H
#define LK_TUNER_BWD_PROBLEM_H

#include "problem.h"

typedef struct bwd_problem {
    attn_problem fwd, grad;
    lk_buffer *lse_buf;
    lk_tensor lse;
    lk_rope_params rope;
    lk_attention_params ap;
} bwd_problem;

/* 1 when both problems fit in half of the device memory; else 0 after a note on stderr. */
int bwd_problem_fits(lk_context *ctx, const lk_tune_key *key, int64_t B, int64_t Hq, int64_t Hkv, int64_t S);
lk_status bwd_problem_create(lk_context *ctx, const lk_tune_key *key, int64_t B, int64_t Hq, int64_t Hkv, int64_t S,
                             uint64_t seed, int keep_host, bwd_problem *out);
void bwd_problem_free(bwd_problem *p); /* a zeroed problem is fine */

/* One backward call as a timed_fn (timing.h): lk_attention_bwd_run with `tuned` when it is not
 * NULL, else the public lk_attention_bwd (the database's choice). */
typedef struct bwd_call {
    bwd_problem *pb;
    const lk_params *tuned;
} bwd_call;
lk_status bwd_call_run(lk_context *ctx, void *call);

/* The check every candidate passes before it is timed: B=1, Hq=2, Hkv=1, Sq=Sk=67, the key's
 * causal flag and family, against ref_attention_bwd. Relative error = the largest over dq, dk,
 * dv of max |got - ref| / max |ref|; tolerance 1e-5 for f32, 2e-3 for f16. */
typedef struct bwd_check {
    bwd_problem pb;
    double *ref[3]; /* dq, dk, dv */
    float *got;
    double tol;
} bwd_check;
lk_status bwd_check_init(lk_context *ctx, const lk_tune_key *key, bwd_check *c);
lk_status bwd_check_run(bwd_check *c, const lk_params *p, double *rel_err);
void bwd_check_free(bwd_check *c);

#endif
