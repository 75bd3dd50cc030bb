/* Reference KDA recurrence (see kda_ref.h), one token at a time, fp64 throughout. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kda_ref.h"

/* x [n] as doubles; divided by its L2 norm (eps 1e-6 under the root) when l2norm. */
static void load_row(const float *x, int64_t n, int l2norm, double *out)
{
    double ss = 0.0;
    for (int64_t d = 0; d < n; d++) {
        out[d] = x[d];
        ss += out[d] * out[d];
    }
    if (l2norm)
        for (int64_t d = 0; d < n; d++)
            out[d] /= sqrt(ss + 1e-6);
}

static double log_decay(const ref_kda_args *a, int64_t hv, int64_t d, float gv)
{
    if (!a->a_log)
        return gv;
    double x = (double)gv + (a->dt_bias ? a->dt_bias[hv * a->K + d] : 0.0);
    double softplus = x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
    return -exp((double)a->a_log[hv]) * softplus;
}

void ref_kda(const ref_kda_args *a, const float *q, const float *k, const float *v, const float *g,
             const float *beta, const float *h0, double *o, double *ht)
{
    int64_t T = a->T, H = a->H, HV = a->HV, K = a->K, V = a->V;
    double scale = a->scale > 0 ? a->scale : 1.0 / sqrt((double)K);
    double *S = malloc(sizeof(double) * (size_t)(K * V));
    double *qd = malloc(sizeof(double) * (size_t)K), *kd = malloc(sizeof(double) * (size_t)K);
    double *u = malloc(sizeof(double) * (size_t)V);

    for (int64_t n = 0; n < a->N; n++)
        for (int64_t hv = 0; hv < HV; hv++) {
            int64_t h = hv / (HV / H), b = a->cu_seqlens ? 0 : n;
            int64_t bos = a->cu_seqlens ? a->cu_seqlens[n] : 0, eos = a->cu_seqlens ? a->cu_seqlens[n + 1] : T;
            for (int64_t i = 0; i < K * V; i++)
                S[i] = h0 ? h0[(n * HV + hv) * K * V + i] : 0.0;
            for (int64_t t = bos; t < eos; t++) {
                int64_t row = b * T + t;
                load_row(q + (row * H + h) * K, K, a->l2norm, qd);
                load_row(k + (row * H + h) * K, K, a->l2norm, kd);
                const float *gt = g + (row * HV + hv) * K, *vt = v + (row * HV + hv) * V;
                double bt = beta[row * HV + hv];
                for (int64_t d = 0; d < K; d++) {
                    double decay = exp(log_decay(a, hv, d, gt[d]));
                    for (int64_t c = 0; c < V; c++)
                        S[d * V + c] *= decay;
                }
                for (int64_t c = 0; c < V; c++) { /* u = beta (v - S^T k) */
                    double sk = 0.0;
                    for (int64_t d = 0; d < K; d++)
                        sk += S[d * V + c] * kd[d];
                    u[c] = bt * (vt[c] - sk);
                }
                for (int64_t d = 0; d < K; d++)
                    for (int64_t c = 0; c < V; c++)
                        S[d * V + c] += kd[d] * u[c];
                double *ot = o + (row * HV + hv) * V;
                for (int64_t c = 0; c < V; c++) {
                    double acc = 0.0;
                    for (int64_t d = 0; d < K; d++)
                        acc += S[d * V + c] * qd[d] * scale;
                    ot[c] = acc;
                }
            }
            if (ht)
                memcpy(ht + (n * HV + hv) * K * V, S, sizeof(double) * (size_t)(K * V));
        }
    free(S);
    free(qd);
    free(kd);
    free(u);
}
