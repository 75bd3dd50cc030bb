/* The correctness check every candidate passes before it is timed: a small case (B=1, Hq=2,
 * Hkv=1, Sq=Sk=67, the key's causal flag, RoPE theta 10000 for family rope, fixed-seed inputs)
 * against ref_attention_fwd. Relative error = max |got - ref| / max |ref|; tolerance 1e-5 for
 * f32, 2e-3 for f16. The inputs and the reference are made once per key. */
#ifndef LK_TUNER_CHECK_H
#define LK_TUNER_CHECK_H

#include "problem.h"

typedef struct attn_check {
    attn_problem pb;
    lk_rope_params rope;
    lk_attention_params ap;
    double *ref;
    float *got;
    double tol;
} attn_check;

/* max |got - ref| / max |ref| over n elements (NaN in got gives NaN). */
double attn_rel_error(const float *got, const double *ref, size_t n);

lk_status attn_check_init(lk_context *ctx, const lk_tune_key *key, attn_check *c);
/* Runs p on the small case; *rel_err gets the relative error (the caller compares with tol). */
lk_status attn_check_run(attn_check *c, const lk_params *p, double *rel_err);
void attn_check_free(attn_check *c);

#endif
