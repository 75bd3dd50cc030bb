/* Reference attention forward: scores, two-pass softmax, weighted sum; fp64 throughout. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref.h"

double *ref_rope_or_copy(const float *x, int64_t B, int64_t H, int64_t S, int64_t D, const lk_rope_params *rope,
                         const int32_t *positions, int64_t offset)
{
    int64_t n = B * H * S * D;
    double *out = malloc(sizeof(double) * (size_t)n);
    if (rope)
        ref_rope(x, out, B, H, S, D, rope, positions, offset);
    else
        for (int64_t i = 0; i < n; i++)
            out[i] = x[i];
    return out;
}

void ref_attention_fwd(const ref_attention_args *a, const float *q, const float *k, const float *v, double *o,
                       double *lse)
{
    int64_t B = a->B, Hq = a->Hq, Hkv = a->Hkv, Sq = a->Sq, Sk = a->Sk, D = a->D;
    int64_t k_off = a->rope ? a->rope->position_offset : 0;
    double *qd = ref_rope_or_copy(q, B, Hq, Sq, D, a->rope, a->q_positions, k_off + Sk - Sq);
    double *kd = ref_rope_or_copy(k, B, Hkv, Sk, D, a->rope, a->k_positions, k_off);
    double scale = a->scale > 0 ? a->scale : 1.0 / sqrt((double)D);
    double *p = malloc(sizeof(double) * (size_t)Sk);

    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < Hq; h++) {
            int64_t hk = h / (Hq / Hkv);
            for (int64_t i = 0; i < Sq; i++) {
                const double *qrow = qd + ((b * Hq + h) * Sq + i) * D;
                double *orow = o + ((b * Hq + h) * Sq + i) * D;
                int64_t visible = a->causal ? i + (Sk - Sq) + 1 : Sk;
                if (visible > Sk)
                    visible = Sk;
                memset(orow, 0, sizeof(double) * (size_t)D);
                if (visible <= 0) {
                    if (lse)
                        lse[(b * Hq + h) * Sq + i] = -INFINITY;
                    continue;
                }
                double mx = -INFINITY;
                for (int64_t j = 0; j < visible; j++) {
                    const double *krow = kd + ((b * Hkv + hk) * Sk + j) * D;
                    double s = 0;
                    for (int64_t d = 0; d < D; d++)
                        s += qrow[d] * krow[d];
                    p[j] = s * scale;
                    if (p[j] > mx)
                        mx = p[j];
                }
                double sum = 0;
                for (int64_t j = 0; j < visible; j++) {
                    p[j] = exp(p[j] - mx);
                    sum += p[j];
                }
                for (int64_t j = 0; j < visible; j++) {
                    const float *vrow = v + ((b * Hkv + hk) * Sk + j) * D;
                    for (int64_t d = 0; d < D; d++)
                        orow[d] += p[j] / sum * vrow[d];
                }
                if (lse)
                    lse[(b * Hq + h) * Sq + i] = mx + log(sum);
            }
        }
    free(p);
    free(qd);
    free(kd);
}
