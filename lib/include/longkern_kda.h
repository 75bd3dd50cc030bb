/* longkern: Kimi Delta Attention (KDA), the chunkwise forward and the recurrent decode step.
 * Included by longkern.h; see docs/kda.md.
 *
 * Per (sequence, value head) a state S [K, V] (fp32) follows, token by token,
 *   S = Diag(exp g_t) S;  S += beta_t k_t (v_t - S^T k_t)^T;  o_t = S^T (scale q_t)
 * lk_kda_fwd computes a whole sequence in chunks (same result up to rounding); the decode step
 * is one token of the same recurrence, for generation. */
#ifndef LONGKERN_KDA_H
#define LONGKERN_KDA_H

#include "longkern.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lk_kda_params {
    double scale;                /* 0: K^-0.5 (applied to q) */
    int l2norm_qk;               /* divide q and k rows by sqrt(sum x^2 + 1e-6) inside the kernel */
    /* The gate: with a_log NULL, g is the log-decay itself (<= 0). With a_log (F32 [HV]) set, g
     * holds the gate input f and the log-decay is -exp(a_log[hv]) * softplus(f + dt_bias[hv, d]),
     * dt_bias F32 [HV, K] or NULL (zero). */
    const lk_tensor *a_log;
    const lk_tensor *dt_bias;
    /* Variable-length batch (lk_kda_fwd only): I32 [N + 1], non-decreasing, from 0 to T; the N
     * sequences are packed along T of a batch of 1, and the states are [N, HV, K, V]. */
    const lk_tensor *cu_seqlens;
} lk_kda_params;

/* scale 0 (K^-0.5), no L2 norm, g given, no cu_seqlens. */
lk_kda_params lk_kda_params_default(void);

/* q, k [B, T, H, K]; v [B, T, HV, V]; g [B, T, HV, K] F32; beta [B, T, HV] F32; o [B, T, HV, V].
 * q, k, v and o share one dtype (F32 or F16); HV a multiple of H (value head hv reads q/k head
 * hv / (HV / H)); K and V from 1 to 256; any T; any strides.
 * initial_state (or NULL: zeros) and final_state (or NULL: not written) are F32 [N, HV, K, V]
 * with N = B (or the number of cu_seqlens sequences); final_state may be initial_state itself
 * (updated in place). */
lk_status lk_kda_fwd(lk_context *ctx, const lk_tensor *q, const lk_tensor *k, const lk_tensor *v,
                     const lk_tensor *g, const lk_tensor *beta, const lk_tensor *initial_state, lk_tensor *o,
                     lk_tensor *final_state, const lk_kda_params *params);

/* One token per sequence: q, k [B, H, K]; v, o [B, HV, V]; g [B, HV, K] F32; beta [B, HV] F32;
 * state F32 [B, HV, K, V], read and updated in place. params as lk_kda_fwd (cu_seqlens NULL). */
lk_status lk_kda_decode_step(lk_context *ctx, const lk_tensor *q, const lk_tensor *k, const lk_tensor *v,
                             const lk_tensor *g, const lk_tensor *beta, lk_tensor *state, lk_tensor *o,
                             const lk_kda_params *params);

#ifdef __cplusplus
}
#endif
#endif
