/* Reference of Kimi Delta Attention (lk_kda_fwd, lk_kda_decode_step): the token-by-token
 * recurrence in fp64, the oracle of the chunkwise kernel. Host arrays are contiguous in
 * logical order. */
#ifndef LK_KDA_REF_H
#define LK_KDA_REF_H

#include <stdint.h>

typedef struct ref_kda_args {
    int64_t B, T, H, HV, K, V;    /* q, k [B, T, H, K]; v, o [B, T, HV, V]; g [B, T, HV, K]; beta [B, T, HV] */
    double scale;                 /* 0: K^-0.5 */
    int l2norm;                   /* q and k rows divided by sqrt(sum x^2 + 1e-6) */
    const float *a_log;           /* [HV] or NULL; when set, g holds f and the log-decay is
                                     -exp(a_log[hv]) * softplus(f + dt_bias[hv, d]) */
    const float *dt_bias;         /* [HV, K] or NULL (zero) */
    const int32_t *cu_seqlens;    /* [N + 1] or NULL: sequence n is tokens cu[n] .. cu[n+1] of batch 0 */
    int64_t N;                    /* sequences: B, or the number of cu_seqlens intervals */
} ref_kda_args;

/* S = Diag(exp g_t) S; S += beta_t k_t (v_t - S^T k_t)^T; o_t = S^T (scale q_t), S [K, V] per
 * (sequence, value head) starting from h0 [N, HV, K, V] (NULL: zeros); the final S goes to ht
 * (NULL: dropped). */
void ref_kda(const ref_kda_args *a, const float *q, const float *k, const float *v, const float *g,
             const float *beta, const float *h0, double *o, double *ht);

#endif
