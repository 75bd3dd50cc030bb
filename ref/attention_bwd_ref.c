/* Reference attention backward: the forward recomputed by ref_attention_fwd, then the textbook
 * gradients row by row, fp64 throughout:
 *   P = exp(scale q k^T - lse), dV = P^T dO, dP = dO V^T, dS = P (dP - rowsum(dO o)),
 *   dQ = scale dS K, dK = scale dS^T Q, and RoPE's transpose on dQ and dK. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attention_bwd_ref.h"

void ref_attention_bwd(const ref_attention_args *a, const float *q, const float *k, const float *v,
                       const float *dout, double *dq, double *dk, double *dv)
{
    int64_t B = a->B, Hq = a->Hq, Hkv = a->Hkv, Sq = a->Sq, Sk = a->Sk, D = a->D;
    int64_t k_off = a->rope ? a->rope->position_offset : 0, q_off = k_off + Sk - Sq;
    size_t nq = (size_t)(B * Hq * Sq * D), nk = (size_t)(B * Hkv * Sk * D);
    double *o = malloc(sizeof(double) * nq), *lse = malloc(sizeof(double) * (size_t)(B * Hq * Sq));
    ref_attention_fwd(a, q, k, v, o, lse);
    double *qd = ref_rope_or_copy(q, B, Hq, Sq, D, a->rope, a->q_positions, q_off);
    double *kd = ref_rope_or_copy(k, B, Hkv, Sk, D, a->rope, a->k_positions, k_off);
    double scale = a->scale > 0 ? a->scale : 1.0 / sqrt((double)D);
    memset(dq, 0, sizeof(double) * nq);
    memset(dk, 0, sizeof(double) * nk);
    memset(dv, 0, sizeof(double) * nk);

    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < Hq; h++) {
            int64_t hk = h / (Hq / Hkv);
            for (int64_t i = 0; i < Sq; i++) {
                int64_t row = (b * Hq + h) * Sq + i;
                const double *qi = qd + row * D, *oi = o + row * D;
                const float *gi = dout + row * D;
                double *dqi = dq + row * D;
                int64_t visible = a->causal ? i + (Sk - Sq) + 1 : Sk;
                if (visible > Sk)
                    visible = Sk;
                double delta = 0;
                for (int64_t d = 0; d < D; d++)
                    delta += gi[d] * oi[d];
                for (int64_t j = 0; j < visible; j++) {
                    int64_t col = (b * Hkv + hk) * Sk + j;
                    const double *kj = kd + col * D;
                    const float *vj = v + col * D;
                    double s = 0, dp = 0;
                    for (int64_t d = 0; d < D; d++) {
                        s += qi[d] * kj[d];
                        dp += gi[d] * vj[d];
                    }
                    double p = exp(s * scale - lse[row]);
                    double ds = p * (dp - delta);
                    for (int64_t d = 0; d < D; d++) {
                        dv[col * D + d] += p * gi[d];
                        dqi[d] += scale * ds * kj[d];
                        dk[col * D + d] += scale * ds * qi[d];
                    }
                }
            }
        }
    if (a->rope) {
        ref_rope_inverse(dq, B, Hq, Sq, D, a->rope, a->q_positions, q_off);
        ref_rope_inverse(dk, B, Hkv, Sk, D, a->rope, a->k_positions, k_off);
    }
    free(o);
    free(lse);
    free(qd);
    free(kd);
}
