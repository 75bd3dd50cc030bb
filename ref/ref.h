/* ref/: the naive reference of every op, the oracle of tests and of the tuner.
 *
 * Plain C over contiguous host arrays in logical order ([B, H, S, D] row-major), fp64
 * accumulation, no tiling, no online softmax, never optimised. Inputs are the values the
 * device sees (for fp16 tensors, already rounded to half). */
#ifndef LK_REF_H
#define LK_REF_H

#include <stdint.h>
#include "longkern.h"

/* IEEE fp16 on the host, round to nearest even. */
uint16_t ref_f2h(float f);
float ref_h2f(uint16_t h);

/* Frequency of pair i (radians per position) after scaling; written from the definitions
 * (RoFormer; HF linear scaling; Llama-3.1 rope_scaling). */
double ref_rope_frequency(const lk_rope_params *rope, int i, int head_dim);

/* out = rope(x). positions: B*S ints (row b at b*S) or NULL for offset + s. */
void ref_rope(const float *x, double *out, int64_t B, int64_t H, int64_t S, int64_t D, const lk_rope_params *rope,
              const int32_t *positions, int64_t offset);
/* x as a malloc'ed array of doubles, rotated (ref_rope) when rope is not NULL. */
double *ref_rope_or_copy(const float *x, int64_t B, int64_t H, int64_t S, int64_t D, const lk_rope_params *rope,
                         const int32_t *positions, int64_t offset);
/* x = rope's transpose applied to x, in place (a gradient w.r.t. rope(x) becomes one w.r.t. x). */
void ref_rope_inverse(double *x, int64_t B, int64_t H, int64_t S, int64_t D, const lk_rope_params *rope,
                      const int32_t *positions, int64_t offset);

typedef struct ref_attention_args {
    int64_t B, Hq, Hkv, Sq, Sk, D;
    int causal;                  /* bottom-right aligned */
    double scale;                /* 0: 1/sqrt(D) */
    const lk_rope_params *rope;  /* NULL: no RoPE */
    const int32_t *q_positions;  /* B*Sq or NULL: k offset + Sk - Sq + s */
    const int32_t *k_positions;  /* B*Sk or NULL: rope->position_offset + s */
} ref_attention_args;

/* o [B, Hq, Sq, D] and lse [B, Hq, Sq] (natural log; -inf for a fully masked row, o = 0). */
void ref_attention_fwd(const ref_attention_args *a, const float *q, const float *k, const float *v, double *o,
                       double *lse);

#endif
