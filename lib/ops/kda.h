/* Internal entry points of the KDA op (cl/kda_chunk.cl, cl/kda_state.cl, then cl/kda_out.cl or
 * cl/kda_out_mma.cl), shared with the tuner and benchmarks: they run the op with explicit kernel
 * parameters instead of the database's.
 *
 * Tunables: CHUNK (tokens per chunk: a power of two up to 64), SUB (sub-chunk rows whose pairs use
 * their own decay exponent; pairs across sub-chunks go through a reference row), BV (value
 * columns per state work-group), WG (work-items of kda_chunk and kda_state; in the state kernel
 * WG / BV row groups share one column), OBV (value columns per output work-group), MMA (the
 * tensor-core output kernel cl/kda_out_mma.cl where it applies, lk_kda_out_mma_ok), SMMA (the
 * tensor-core state pass cl/kda_state_mma.cl, lk_kda_state_mma_ok), CMMA (the tensor-core chunk
 * kernel cl/kda_chunk_mma.cl, lk_kda_chunk_mma_ok; sub-chunks of 16 rows whatever SUB); all three
 * are in the built-in defaults where tensor cores exist and need SCR16 (the scratch's per-row
 * arrays and states in f16 for f16 tensors, lk_kda_scratch_f16; default 1 on GPUs, 0 on CPUs),
 * FUSEOUT (the tensor-core state pass computes the output too, so cl/kda_out*.cl does not run;
 * where two sets of its copies fit, lk_kda_state_mma_sets; in the defaults wherever it fuses).
 * Derived: KT and KS (rows of the
 * K tiles in local memory of kda_chunk and kda_state). Not tuned: STAGES (bit mask of the kernels
 * to launch, default all; the benchmark's per-kernel times). */
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

/* Built-in defaults (used when no database row applies): the first of a list of choices for the
 * device type that fits the device's work-group and local-memory limits for K and V. */
void lk_kda_defaults(const lk_device_info *dev, int64_t K, int64_t V, lk_params *out);
/* The parameters a call of this shape actually runs: CHUNK capped at the longest sequence
 * (rounded up to a power of two; 1 for the decode step), SUB at CHUNK, BV at V, and the largest
 * K tiles that fit local_limit bytes: KT of kda_chunk (32, 16 or 8 rows), KS of kda_state (128 .. 8),
 * both at most K rounded up to a power of two. */
void lk_kda_effective(const lk_params *tuned, int64_t K, int64_t V, int64_t max_len, size_t local_limit,
                      lk_params *out);
/* Local memory the largest of the three kernels needs for effective parameters p and key dim K. */
size_t lk_kda_local_bytes(const lk_params *p, int64_t K);
/* The sets of copies the tensor-core state pass (cl/kda_state_mma.cl) keeps for effective
 * parameters eff (its SBUF), 0 where it does not run (kda_state.cl does). It runs with SMMA set,
 * f16 tensors and scratch, an NVIDIA GPU of compute capability 8+, CHUNK >= 16, BV a multiple of 8,
 * K <= 128, K and V even, ceil(ceil(K / 16) / (CHUNK / 16)) * BV / 8 <= 8 (the state a lane holds)
 * and one set fitting the local memory one work-group may have (local_mem_optin_bytes: up to 227 KB
 * on a Hopper through CUDA, 48 KB in NVIDIA OpenCL); 2 sets (the next chunk's copies overlap this
 * chunk's products) where they fit, else 1. With FUSEOUT set and 2 sets fitting with the output's
 * copies, 2 and *fuse (may be NULL) = 1: the state pass writes o and kda_out does not run. */
int lk_kda_state_mma_sets(const lk_device_info *dev, lk_dtype dtype, const lk_params *eff, int64_t K, int64_t V,
                          int *fuse);
/* Whether the tensor-core state pass runs: lk_kda_state_mma_sets > 0. */
int lk_kda_state_mma_ok(const lk_device_info *dev, lk_dtype dtype, const lk_params *eff, int64_t K, int64_t V);
size_t lk_kda_state_mma_local_bytes(size_t C, size_t bv, size_t K, int sets, int fuse);
/* Whether effective parameters eff run the tensor-core chunk kernel (cl/kda_chunk_mma.cl): CMMA
 * set, f16 tensors and scratch, NVIDIA GPU of compute capability 8+, CHUNK >= 16 and its local memory within the
 * device's; else kda_chunk.cl runs. */
int lk_kda_chunk_mma_ok(const lk_device_info *dev, lk_dtype dtype, const lk_params *eff);
/* Whether effective parameters eff run the tensor-core output kernel (cl/kda_out_mma.cl): MMA set,
 * f16 tensors and scratch, NVIDIA GPU of compute capability 8+, CHUNK >= 16, OBV a multiple of 16;
 * else kda_out.cl runs. */
int lk_kda_out_mma_ok(const lk_device_info *dev, lk_dtype dtype, const lk_params *eff);
/* LK_OK if effective parameters p fit the device (ranges, work-group, local memory). */
lk_status lk_kda_check_params(lk_context *ctx, const lk_params *p, int64_t K);
/* Whether effective parameters eff keep the scratch's per-row arrays and states in f16 (define
 * SCR_F16 of the kernels): SCR16 set, f16 tensors and CHUNK > 1 (the decode step's state update
 * stays in fp32). */
int lk_kda_scratch_f16(const lk_params *eff, lk_dtype dtype);
/* Bytes of scratch for a call (layout in cl/kda_common.h: fp32 arrays, then the ones in f16 when
 * scr_f16, else fp32), or SIZE_MAX when that passes 2^63; *n_slots = NCH, the chunk slots. */
size_t lk_kda_scratch_bytes(int64_t B, int64_t T, int64_t HV, int64_t K, int64_t V, int64_t n_seqs, int chunk,
                            int scr_f16, int64_t *n_slots);
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
/* Run a prepared call with `tuned` (CHUNK, SUB, BV, WG, OBV, MMA, SMMA; STAGES). */
lk_status lk_kda_run(lk_context *ctx, const lk_kda_call *call, const lk_params *tuned);

#endif
