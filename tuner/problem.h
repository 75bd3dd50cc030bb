/* Attention inputs on the device for the tuner and the benchmark: q [B, Hq, S, D], k and v
 * [B, Hkv, S, D], o like q, filled from a fixed-seed generator (uniform on the grid k/1024 in
 * [-1, 1), exact in fp16). A problem can keep the host copies (what the device sees) for ref/. */
#ifndef LK_TUNER_PROBLEM_H
#define LK_TUNER_PROBLEM_H

#include <stdint.h>

#include "longkern.h"
#include "params.h"
#include "tunedb/tunedb.h"

typedef struct attn_problem {
    lk_context *ctx;
    lk_dtype dtype;
    int64_t B, Hq, Hkv, S, D;
    lk_buffer *buf[4];         /* q, k, v, o */
    lk_tensor q, k, v, o;
    float *host[3];            /* q, k, v in logical order, or NULL */
} attn_problem;

/* Bytes of q, k, v and o together. */
size_t attn_problem_bytes(lk_dtype dtype, int64_t B, int64_t Hq, int64_t Hkv, int64_t S, int64_t D);
/* 1 when q, k, v and o fit in half of ctx's device memory; otherwise 0 after a note on stderr. */
int attn_problem_fits(lk_context *ctx, lk_dtype dtype, int64_t B, int64_t Hq, int64_t Hkv, int64_t S, int64_t D);
lk_status attn_problem_create(lk_context *ctx, lk_dtype dtype, int64_t B, int64_t Hq, int64_t Hkv, int64_t S,
                              int64_t D, uint64_t seed, int keep_host, attn_problem *out);
void attn_problem_free(attn_problem *p); /* a zeroed problem is fine */
/* Tensor i (0 q, 1 k, 2 v, 3 o) read back as floats in logical order. */
lk_status attn_problem_read(attn_problem *p, int i, float *out);
/* o read back as floats (B*Hq*S*D of them). */
lk_status attn_problem_read_o(attn_problem *p, float *out);

/* One attention call over a problem, as a timed_fn (timing.h): lk_attention_fwd_run with
 * `tuned` when it is not NULL, else the public lk_attention_fwd (the database's choice). */
typedef struct attn_call {
    attn_problem *pb;
    lk_attention_params ap;
    const lk_params *tuned;
} attn_call;

lk_status attn_call_run(lk_context *ctx, void *call);
/* Attention parameters of a tuning key: its causal flag, and rope (which must outlive them) for
 * family "rope"; rope_variant AUTO (the tuned VARIANT decides). */
void attn_params_for_key(const lk_tune_key *key, const lk_rope_params *rope, lk_attention_params *out);

#endif
