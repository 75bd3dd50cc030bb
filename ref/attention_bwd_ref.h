/* Reference attention backward (see ref.h for the conventions of ref/). */
#ifndef LK_ATTENTION_BWD_REF_H
#define LK_ATTENTION_BWD_REF_H

#include "ref.h"

/* Gradients of L = sum(dout * o) for o = ref_attention_fwd(a, q, k, v): dq [B, Hq, Sq, D], dk and
 * dv [B, Hkv, Sk, D], w.r.t. the un-rotated q and k when a->rope is set. Everything is recomputed
 * from q, k, v in fp64 (P from the forward's lse, Delta from its o). */
void ref_attention_bwd(const ref_attention_args *a, const float *q, const float *k, const float *v,
                       const float *dout, double *dq, double *dk, double *dv);

#endif
