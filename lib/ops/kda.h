/* Internal entry points of the KDA op (cl/kda.cl), shared with the tuner and benchmarks: they
 * run the op with explicit kernel parameters instead of the database's.
 *
 * Tunables: CHUNK (tokens per chunk: 8, 16, 32, 64), BV (value columns per work-group), WG
 * (work-items; WG / BV work-items share one state column, each holding a K slice). */
#ifndef LK_KDA_H
#define LK_KDA_H

#include "../core/internal.h"
#include "../core/params.h"
#include "../tunedb/tunedb.h"

/* One validated call: 4-D views [B, T, H|HV, K|V] (the decode step's 3-D tensors get T = 1). */
typedef struct lk_kda_call {
    lk_tensor q, k, v, g, beta, o;
    const lk_tensor *h0, *ht;     /* NULL when absent */
    const lk_kda_params *p;
    int64_t n_seqs;               /* B, or the cu_seqlens intervals */
    int64_t max_len;              /* longest sequence */
} lk_kda_call;

/* Built-in defaults for a device type (used when no database row applies). */
void lk_kda_defaults(const lk_device_info *dev, lk_params *out);
/* The parameters a call of this shape actually runs: CHUNK capped at the longest sequence
 * (rounded up to a power of two; 1 for the decode step), BV at V. */
void lk_kda_effective(const lk_params *tuned, int64_t V, int64_t max_len, lk_params *out);
/* Local memory the kernel needs for effective parameters p. */
size_t lk_kda_local_bytes(const lk_params *p, int64_t K);
/* LK_OK if effective parameters p fit the device (ranges, work-group, local memory). */
lk_status lk_kda_check_params(lk_context *ctx, const lk_params *p, int64_t K);
/* The tuning key of a call: op "kda_fwd", head_dim K, flag 0, length the longest sequence. */
void lk_kda_key(const lk_kda_call *call, lk_tune_key *key);

/* Validate the arguments of lk_kda_fwd into *call (views of the caller's tensors). */
lk_status lk_kda_fwd_prepare(lk_context *ctx, const lk_tensor *q, const lk_tensor *k, const lk_tensor *v,
                             const lk_tensor *g, const lk_tensor *beta, const lk_tensor *h0, lk_tensor *o,
                             lk_tensor *ht, const lk_kda_params *params, lk_kda_call *call);
/* Validate the arguments of lk_kda_decode_step into *call (T = 1 views; state is h0 and ht). */
lk_status lk_kda_decode_prepare(lk_context *ctx, const lk_tensor *q, const lk_tensor *k, const lk_tensor *v,
                                const lk_tensor *g, const lk_tensor *beta, lk_tensor *state, lk_tensor *o,
                                const lk_kda_params *params, lk_kda_call *call);
/* Run a prepared call with `tuned` (CHUNK, BV, WG). */
lk_status lk_kda_run(lk_context *ctx, const lk_kda_call *call, const lk_params *tuned);

#endif
