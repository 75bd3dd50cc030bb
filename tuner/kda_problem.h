/* KDA inputs on the device for the tuner and the benchmark: q, k [B, T, H, K], v [B, T, HV, V],
 * g [B, T, HV, K] (log-decay in [-0.5, 0)), beta [B, T, HV] in (0, 1), initial state [B, HV, K, V]
 * in [-1, 1], outputs o and the final state; L2 norm of q and k in the kernel. Fixed-seed
 * values; the host copies (rounded to half for F16) are kept on request for ref/. */
#ifndef LK_TUNER_KDA_PROBLEM_H
#define LK_TUNER_KDA_PROBLEM_H

#include <stdint.h>

#include "longkern.h"
#include "params.h"
#include "tunedb/tunedb.h"

enum { KDA_Q, KDA_K, KDA_V, KDA_G, KDA_BETA, KDA_H0, KDA_INPUTS, KDA_O = KDA_INPUTS, KDA_HT, KDA_TENSORS };

typedef struct kda_problem {
    lk_context *ctx;
    lk_dtype dtype;
    int64_t B, T, H, HV, K, V;
    lk_buffer *buf[KDA_TENSORS];
    lk_tensor t[KDA_TENSORS];
    float *host[KDA_INPUTS];   /* or NULL */
    lk_kda_params params;
} kda_problem;

/* 1 when the tensors fit in half of ctx's device memory; otherwise 0 after a note on stderr. */
int kda_problem_fits(lk_context *ctx, lk_dtype dtype, int64_t B, int64_t T, int64_t H, int64_t K);
/* HV = H, V = K. */
lk_status kda_problem_create(lk_context *ctx, lk_dtype dtype, int64_t B, int64_t T, int64_t H, int64_t K,
                             uint64_t seed, int keep_host, kda_problem *out);
void kda_problem_free(kda_problem *p); /* a zeroed problem is fine */

/* One lk_kda_fwd over a problem, as a timed_fn (timing.h): the op with `tuned` when it is not
 * NULL, else the public call (the database's choice). */
typedef struct kda_call {
    kda_problem *pb;
    const lk_params *tuned;
} kda_call;
lk_status kda_call_run(lk_context *ctx, void *call);

/* The check every tuner candidate passes: B=1, T=100 (a partial chunk), H=2, K=V=the key's
 * head_dim, against ref_kda; relative RMS error of o and the final state (the larger), tolerance
 * 1e-5 for f32 and 5e-3 for f16 (the tests' bounds). */
typedef struct kda_check {
    kda_problem pb;
    double *ref;   /* o, then the final state */
    float *got;
    double tol;
} kda_check;
lk_status kda_check_init(lk_context *ctx, const lk_tune_key *key, kda_check *c);
lk_status kda_check_run(kda_check *c, const lk_params *p, double *rel_err);
void kda_check_free(kda_check *c);

#endif
