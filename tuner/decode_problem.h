/* Decode-attention inputs on the device for the tuner and the benchmarks of lk_attention_decode,
 * lk_attention_decode_sparse and the quantized caches (kivi_problem.h): q and o [B, Hq, D], a
 * dense K/V cache [B, Hkv, L, D] filled with fixed-seed values in [-1, 1], and optionally sparse
 * caches built from the same tokens. */
#ifndef LK_TUNER_DECODE_PROBLEM_H
#define LK_TUNER_DECODE_PROBLEM_H

#include <stdint.h>

#include "longkern.h"
#include "params.h"
#include "tunedb/tunedb.h"

typedef struct decode_problem {
    lk_context *ctx;
    lk_dtype dtype;
    int B, Hq, Hkv, D;
    int64_t L;
    lk_buffer *bq, *bo, *bk, *bv;
    lk_tensor q, o, k, v;
} decode_problem;

/* 1 when dense K/V of this size and a sparse copy (staging included) fit in ctx's device memory;
 * otherwise 0 after a note on stderr. */
int decode_problem_fits(lk_context *ctx, lk_dtype dtype, int B, int Hkv, int64_t L, int D);
lk_status decode_problem_create(lk_context *ctx, lk_dtype dtype, int B, int Hq, int Hkv, int64_t L, int D,
                                uint64_t seed, decode_problem *out);
/* The same, keeping host copies of q, k, v (as stored: rounded to half for F16). */
lk_status decode_problem_create_host(lk_context *ctx, lk_dtype dtype, int B, int Hq, int Hkv, int64_t L, int D,
                                     uint64_t seed, float *hq, float *hk, float *hv, decode_problem *out);
/* The next fixed-seed value in [-1, 1) of the generator state s. */
float decode_uniform(uint64_t *s);
/* Fills n elements of buf with fixed-seed values in [-1, 1] (as dtype); host copy optional. */
lk_status decode_fill(lk_context *ctx, lk_buffer *buf, lk_dtype dtype, size_t n, uint64_t seed, float *host);
/* Waits for the queue and reads a contiguous [B, H, D] output into host as float. */
lk_status decode_read_output(lk_context *ctx, const lk_tensor *o, float *host);
void decode_problem_free(decode_problem *p); /* a zeroed problem is fine */

/* The sparse cache configurations the tuner and lk-bench use: keep = 70% sparsity, window 64;
 * "plain": fp16 survivors (Mustafar); "2bit": 2-bit keys and values; "rotate": RotateKV, 2-bit,
 * G = 4 (or Hkv when smaller), RoPE theta 10000, 4 sinks. */
typedef enum { SPARSE_PLAIN, SPARSE_2BIT, SPARSE_ROTATE, SPARSE_CONFIGS } sparse_kind;
const char *sparse_kind_name(sparse_kind kind);
lk_kv_sparse_config sparse_config(sparse_kind kind, int B, int Hkv, int D, int64_t capacity, double sparsity,
                                  const lk_rope_params *rope);
/* A cache of that kind holding the problem's K and V. */
lk_status decode_problem_sparse(decode_problem *p, sparse_kind kind, lk_kv_sparse_cache **out);

/* One decode as a timed_fn, with `tuned` (NULL: the public call, the database's choice): over
 * the low-rank problem when `lowrank` is set, else over pb's q and o from the KIVI cache `kivi`,
 * the sparse `cache`, or pb's dense K/V when both are NULL. */
struct lowrank_problem;
typedef struct decode_call {
    decode_problem *pb;
    const lk_kv_sparse_cache *cache;
    const lk_params *tuned;
    const lk_kivi_cache *kivi;
    struct lowrank_problem *lowrank;
} decode_call;
lk_status decode_call_run(lk_context *ctx, void *call);

/* The tuner's check: B=1, Hkv=4, Hq=8, L=300 (4 sinks, a window, blocks), the key's head_dim and
 * dtype; dense (cache NULL kind -1) or the sparse kind, against ref_attention_fwd on the cache's
 * decompression (keys rotated back by ref_hadamard). Tolerance: 1e-4 f32, 2e-3 f16. */
typedef struct decode_check {
    decode_problem pb;
    lk_kv_sparse_cache *cache;
    double *ref;
    float *got;
    double tol;
} decode_check;
lk_status decode_check_init(lk_context *ctx, const lk_tune_key *key, int sparse, sparse_kind kind, decode_check *c);
lk_status decode_check_run(decode_check *c, const lk_params *p, double *rel_err);
void decode_check_free(decode_check *c);

#endif
