/* Quantized-cache decode problems for lk-tune (kivi_decode, lowrank_decode) and lk-bench --op kivi:
 *   - a KIVI cache holding a decode_problem's K and V;
 *   - a low-rank (Palu) problem: a latent cache of rank r (one kv head per group, KIVI on the
 *     latents) filled by appending x [B, L, hidden = 64] through down projections, with q and o
 *     [B, Hq, HD], up_k and up_v [Hkv, r, HD] and RoPE (theta 10000, half-split). Inputs are on
 *     a grid (x multiples of 1/4, weights of 1/8) so that the GEMM's latents are exact in fp32
 *     and fp16 and the device's codes equal ref_kivi_quantize's;
 *   - the tuner's checks of both against ref/ (B=1, Hkv=4 (2 for low rank), GQA 2, L=300: a
 *     quantized part and an fp16 residual), tolerance 1e-4 for f32 q/o, 2e-3 for f16.
 * Decode calls go through decode_call (decode_problem.h). */
#ifndef LK_TUNER_KIVI_PROBLEM_H
#define LK_TUNER_KIVI_PROBLEM_H

#include "decode_problem.h"

/* "k2v4" -> 2, 4. 0 on success. */
int kivi_family_bits(const char *family, int *k_bits, int *v_bits);

/* A KIVI cache (bits, group G, residual R) holding pb's K and V. */
lk_status kivi_problem_cache(decode_problem *pb, int k_bits, int v_bits, int G, int R, lk_kivi_cache **out);

typedef struct lowrank_problem {
    lk_context *ctx;
    lk_dtype dtype;
    int B, Hq, Hkv, HD, r, hidden;
    int64_t L;
    lk_lowrank_cache *cache;
    lk_buffer *bq, *bo, *bupk, *bupv;
    lk_tensor q, o, up_k, up_v;
    lk_rope_params rope;
} lowrank_problem;

/* Host copies of a low-rank problem's inputs (as stored: rounded to half for F16), for ref/. */
typedef struct lowrank_host {
    float *x, *down_k, *down_v, *up_k, *up_v, *q;
} lowrank_host;

/* 1 when the timed problem's buffers fit in ctx's device memory (a note on stderr otherwise). */
int lowrank_problem_fits(lk_context *ctx, int B, int Hkv, int64_t L, int r);
/* kivi: bits, group and residual of the latents. keep: NULL, or filled with malloc'ed copies. */
lk_status lowrank_problem_create(lk_context *ctx, lk_dtype dtype, int B, int Hq, int Hkv, int HD, int r, int64_t L,
                                 const lk_kivi_config *kivi, uint64_t seed, lowrank_host *keep, lowrank_problem *out);
void lowrank_problem_free(lowrank_problem *p); /* a zeroed problem is fine */
void lowrank_host_free(lowrank_host *h);

/* The tuner's check of key (op kivi_decode or lowrank_decode; family k<b>v<b>; flag G or rank). */
typedef struct kivi_check {
    decode_problem pb;      /* kivi_decode: q, o, K, V */
    lk_kivi_cache *kivi;
    lowrank_problem lr;     /* lowrank_decode */
    double *ref;
    float *got;
    double tol;
} kivi_check;
lk_status kivi_check_init(lk_context *ctx, const lk_tune_key *key, kivi_check *c);
lk_status kivi_check_run(kivi_check *c, const lk_params *p, double *rel_err);
void kivi_check_free(kivi_check *c);

#endif
