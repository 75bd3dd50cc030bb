/* lk_kda_fwd and lk_kda_decode_step: tuned-parameter lookup and the three launches: cl/kda_chunk.cl
 * (the per-chunk matrices of every chunk in parallel, into scratch; cl/kda_chunk_mma.cl on tensor
 * cores with CMMA = 1), cl/kda_state.cl (one
 * work-group per sequence, value head and V block, walking the chunks with the state, storing the
 * per-chunk states and Vn; cl/kda_state_mma.cl on tensor cores with SMMA = 1) and cl/kda_out.cl
 * or cl/kda_out_mma.cl (the output of every chunk in parallel; with FUSEOUT = 1 kda_state_mma
 * writes it instead, and only two kernels run). The decode step is the same sequence with CHUNK = 1. Argument checks live in kda_args.c. */
#include <math.h>
#include <string.h>

#include "kda.h"
#include "op_params.h"
#include "op_params_check.h"
#include "../core/launch.h"
#include "../core/scratch.h"

#define OP "lk_kda"

lk_kda_params lk_kda_params_default(void)
{
    lk_kda_params p;
    memset(&p, 0, sizeof p);
    return p;
}

static int64_t pow2_at_least(int64_t x)
{
    int64_t p = 1;
    while (p < x)
        p *= 2;
    return p;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* Local memory of kda_chunk: tq tk tg tw; amat; betas fq fk. */
static size_t chunk_local_bytes(size_t C, size_t kt)
{
    return sizeof(float) * (4 * C * (kt + 1) + C * (C + 1) + 3 * C);
}

static size_t max_size(size_t a, size_t b)
{
    return a > b ? a : b;
}

/* Local memory of kda_state: the tile of W or kg | the partials of W S; vn. */
static size_t state_local_bytes(size_t C, size_t bv, size_t wg, size_t ks)
{
    size_t nrg = bv && wg > bv ? wg / bv : 1, rk = ((ks + nrg - 1) / nrg + 3) / 4 * 4;
    return sizeof(float) * (max_size(C * (nrg * rk + 4), nrg * C * bv) + C * bv);
}

/* Local memory of kda_state_mma with `sets` sets of its copies (SBUF): per set W and kg
 * [C][16 ceil(K/16) + 8], U [C][BVP] (f16) and 2^gc_last [16 ceil(K/16)] (fp32); once S [16
 * ceil(K/16)][BVP] and Vn [C][BVP] (f16); BVP = BV + 8 (24 at BV 8), the kernel's padded row.
 * With the output fused (FUSEOUT) also per set qg [C][16 ceil(K/16) + 8] (f16) and Aqk [C][C + 8]
 * (fp32). */
size_t lk_kda_state_mma_local_bytes(size_t C, size_t bv, size_t K, int sets, int fuse)
{
    size_t kp = (K + 15) / 16 * 16, bvp = bv == 8 ? 24 : bv + 8;
    size_t per_set = 2 * C * (kp + 8) + C * bvp + 2 * kp + (fuse ? C * (kp + 8) + 2 * C * (C + 8) : 0);
    return 2 * ((size_t)sets * per_set + (kp + C) * bvp);
}

int lk_kda_scratch_f16(const lk_params *eff, lk_dtype dtype)
{
    return dtype == LK_F16 && lk_params_get(eff, "CHUNK", 64) > 1 && lk_params_get(eff, "SCR16", 0);
}

/* f16 tensors and scratch on an NVIDIA GPU of compute capability 8+: where the mma.sync kernels
 * run (they read and write the scratch's f16 arrays in pairs). */
static int tensor_cores(const lk_device_info *dev, lk_dtype dtype, const lk_params *eff)
{
    return lk_kda_scratch_f16(eff, dtype) && lk_device_tensor_cores(dev);
}

int lk_kda_state_mma_sets(const lk_device_info *dev, lk_dtype dtype, const lk_params *eff, int64_t K, int64_t V,
                          int *fuse)
{
    if (fuse)
        *fuse = 0;
    size_t C = (size_t)lk_params_get(eff, "CHUNK", 64), bv = (size_t)lk_params_get(eff, "BV", 16);
    /* state tiles per warp (MPW) times n8 tiles (BV / 8): at most 8, 32 floats a lane (ptxas
     * spills past that); K and V even: rows of the f16 scratch copied 4, 8 or 16 bytes at a time */
    size_t warps = C / 16, mpw = warps ? ((size_t)(K + 15) / 16 + warps - 1) / warps : 0;
    if (!(lk_params_get(eff, "SMMA", 0) && tensor_cores(dev, dtype, eff) && C >= 16 && bv % 8 == 0 && K <= 128 &&
          K % 2 == 0 && V % 2 == 0 && mpw * (bv / 8) <= 8))
        return 0;
    if (lk_params_get(eff, "FUSEOUT", 0) &&
        lk_kda_state_mma_local_bytes(C, bv, (size_t)K, 2, 1) <= dev->local_mem_optin_bytes) {
        if (fuse)
            *fuse = 1;
        return 2;
    }
    for (int sets = 2; sets >= 1; sets--)
        if (lk_kda_state_mma_local_bytes(C, bv, (size_t)K, sets, 0) <= dev->local_mem_optin_bytes)
            return sets;
    return 0;
}

int lk_kda_state_mma_ok(const lk_device_info *dev, lk_dtype dtype, const lk_params *eff, int64_t K, int64_t V)
{
    return lk_kda_state_mma_sets(dev, dtype, eff, K, V, NULL) > 0;
}

/* Local memory of kda_chunk_mma: buf [3][C][36]; amat [C][C + 1]; betas fq fk; segtot [C / 16][32]. */
static size_t chunk_mma_local_bytes(size_t C)
{
    return sizeof(float) * (3 * C * 36 + C * (C + 1) + 3 * C + C / 16 * 32);
}

int lk_kda_chunk_mma_ok(const lk_device_info *dev, lk_dtype dtype, const lk_params *eff)
{
    size_t C = (size_t)lk_params_get(eff, "CHUNK", 64);
    return lk_params_get(eff, "CMMA", 0) && tensor_cores(dev, dtype, eff) && C >= 16 &&
           chunk_mma_local_bytes(C) <= dev->local_mem_bytes;
}

int lk_kda_out_mma_ok(const lk_device_info *dev, lk_dtype dtype, const lk_params *eff)
{
    return lk_params_get(eff, "MMA", 0) && tensor_cores(dev, dtype, eff) && lk_params_get(eff, "CHUNK", 64) >= 16 &&
           lk_params_get(eff, "OBV", 64) % 16 == 0;
}

/* Work-items of kda_out: 4 x 4 outputs each over CHUNK rows and OBV columns. */
static size_t out_wg(size_t C, size_t obv)
{
    return (C + 3) / 4 * (obv / 4);
}

/* Local memory of kda_out: 16 reduction rows of qg^T | Aqk^T and of h | Vn. */
static size_t out_local_bytes(size_t C, size_t obv)
{
    return sizeof(float) * 16 * (((C + 3) / 4 * 4 + 4) + obv + 4);
}

size_t lk_kda_local_bytes(const lk_params *p, int64_t K)
{
    (void)K;
    size_t C = (size_t)lk_params_get(p, "CHUNK", 64), bv = (size_t)lk_params_get(p, "BV", 16);
    size_t wg = (size_t)lk_params_get(p, "WG", 128);
    size_t chunk = chunk_local_bytes(C, (size_t)lk_params_get(p, "KT", 16));
    size_t state = state_local_bytes(C, bv, wg, (size_t)lk_params_get(p, "KS", 32));
    size_t out = out_local_bytes(C, (size_t)lk_params_get(p, "OBV", 64));
    return max_size(max_size(chunk, state), out);
}

void lk_kda_effective(const lk_params *tuned, int64_t K, int64_t V, int64_t max_len, size_t local_limit,
                      lk_params *out)
{
    *out = *tuned;
    int64_t chunk = min64(lk_params_get(tuned, "CHUNK", 64), pow2_at_least(max_len));
    int64_t bv = min64(lk_params_get(tuned, "BV", 16), pow2_at_least(V)), wg = lk_params_get(tuned, "WG", 128);
    lk_params_set(out, "CHUNK", (int)chunk);
    lk_params_set(out, "SUB", (int)min64(lk_params_get(tuned, "SUB", 16), chunk));
    lk_params_set(out, "BV", (int)bv);
    /* kda_out's V block: a multiple of 4, at most V rounded up to a power of two (>= 4) */
    int64_t obv = min64(lk_params_get(tuned, "OBV", 64), pow2_at_least(V < 4 ? 4 : V));
    lk_params_set(out, "OBV", (int)(obv < 4 ? 4 : obv / 4 * 4));
    lk_params_set(out, "MMA", lk_params_get(tuned, "MMA", 0) != 0);
    lk_params_set(out, "SMMA", lk_params_get(tuned, "SMMA", 0) != 0);
    lk_params_set(out, "CMMA", lk_params_get(tuned, "CMMA", 0) != 0);
    lk_params_set(out, "SCR16", lk_params_get(tuned, "SCR16", 0) != 0);
    lk_params_set(out, "FUSEOUT", lk_params_get(tuned, "FUSEOUT", 0) != 0);
    /* K tiles: for kda_chunk the largest of 32, 16, 8 rows, for kda_state of 128 .. 8 rows with at
     * most 64 staged floats per work-item, each at most K rounded up to a power of two, that fits */
    int64_t kt = 32, ks = 128;
    while (kt > 8 && chunk_local_bytes((size_t)chunk, (size_t)min64(kt, pow2_at_least(K))) > local_limit)
        kt /= 2;
    while (ks > 8 && (state_local_bytes((size_t)chunk, (size_t)bv, (size_t)wg, (size_t)min64(ks, pow2_at_least(K))) >
                          local_limit ||
                      chunk * min64(ks, pow2_at_least(K)) > 64 * wg))
        ks /= 2;
    lk_params_set(out, "KT", (int)min64(kt, pow2_at_least(K)));
    lk_params_set(out, "KS", (int)min64(ks, pow2_at_least(K)));
}

/* Built-in choices (CHUNK, SUB, BV, WG), best first; the default is the first that the device
 * runs for the call's K and V. GPU: BV 16 gives B·HV·V/16 state work-groups (128 for H = 16,
 * V = 128), and with CHUNK 64 both kernels fit 48 KiB of local memory for K up to 256. */
static const int prefs_gpu[][5] = {{64, 16, 16, 128, 64}, {32, 16, 16, 128, 64}, {32, 16, 16, 64, 32},
                                   {16, 16, 16, 64, 32},  {16, 16, 16, 32, 16},  {8, 8, 16, 32, 16}};
static const int prefs_cpu[][5] = {{32, 16, 64, 64, 64}, {32, 16, 32, 32, 32}, {16, 16, 32, 32, 32}, {8, 8, 16, 16, 16}};

void lk_kda_defaults(const lk_device_info *dev, int64_t K, int64_t V, lk_params *out)
{
    int gpu = dev->type == LK_DEVICE_GPU;
    const int(*prefs)[5] = gpu ? prefs_gpu : prefs_cpu;
    int n = gpu ? (int)(sizeof prefs_gpu / sizeof prefs_gpu[0]) : (int)(sizeof prefs_cpu / sizeof prefs_cpu[0]);
    for (int i = 0; i < n; i++) {
        memset(out, 0, sizeof *out);
        lk_params_set(out, "CHUNK", prefs[i][0]);
        lk_params_set(out, "SUB", prefs[i][1]);
        lk_params_set(out, "BV", prefs[i][2]);
        lk_params_set(out, "WG", prefs[i][3]);
        lk_params_set(out, "OBV", prefs[i][4]);
        /* the f16 scratch on GPUs (half the bytes; conversions are instructions there); on PoCL's
         * CPUs vload_half / vstore_half cost more than the bytes save: 2324 against 2619 tok/s
         * at T 1K, B 1, H 16 on the 2-core Skylake (2026-12-05) */
        lk_params_set(out, "SCR16", gpu);
        if (lk_device_tensor_cores(dev)) { /* all three mma forms: 12.0 ms at T 64K on the H200 against
                                              22.7 with MMA alone (the tuner's pick there) */
            lk_params_set(out, "MMA", 1);
            lk_params_set(out, "SMMA", 1);
            lk_params_set(out, "CMMA", 1);
            /* the output in the state pass: 5.11 ms at T 64K on the H100 against 5.69 with kda_out
             * (2026-12-06); kept below only where local memory holds it (not NVIDIA OpenCL's 48 KB) */
            lk_params_set(out, "FUSEOUT", 1);
        }
        lk_params eff;
        lk_kda_effective(out, K, V, 1 << 30, dev->local_mem_bytes, &eff);
        if (lk_params_get(out, "FUSEOUT", 0)) {
            int fuse;
            lk_kda_state_mma_sets(dev, LK_F16, &eff, K, V, &fuse);
            lk_params_set(out, "FUSEOUT", fuse);
        }
        if ((size_t)prefs[i][3] <= dev->max_work_group &&
            out_wg(64, (size_t)lk_params_get(&eff, "OBV", 64)) <= dev->max_work_group &&
            lk_kda_local_bytes(&eff, K) <= dev->local_mem_bytes)
            return;
    }
}

static int is_pow2(int x)
{
    return x > 0 && (x & (x - 1)) == 0;
}

lk_status lk_kda_check_params(lk_context *ctx, const lk_params *p, int64_t K)
{
    int chunk = lk_params_get(p, "CHUNK", 0), sub = lk_params_get(p, "SUB", 0), bv = lk_params_get(p, "BV", 0);
    int wg = lk_params_get(p, "WG", 0), obv = lk_params_get(p, "OBV", 64);
    if (!is_pow2(chunk) || chunk > LK_KDA_CHUNK_MAX || !is_pow2(sub) || sub > chunk || bv < 1 || bv > LK_KDA_BV_MAX ||
        wg < bv || wg % bv || (size_t)wg > ctx->info.max_work_group || obv < LK_KDA_OBV_STEP || obv > LK_KDA_OBV_MAX ||
        obv % LK_KDA_OBV_STEP || out_wg((size_t)chunk, (size_t)obv) > ctx->info.max_work_group)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT,
                       OP ": parameters out of range (CHUNK %d a power of two up to 64, SUB %d a power of two up "
                          "to CHUNK, BV %d in 1..256, WG %d a multiple of BV up to %zu, OBV %d a multiple of 4 up "
                          "to 256 with CHUNK/4 * OBV/4 work-items at most that)",
                       chunk, sub, bv, wg, ctx->info.max_work_group, obv);
    size_t local = lk_kda_local_bytes(p, K);
    if (local > ctx->info.local_mem_bytes)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, OP ": parameters need %zu bytes of local memory, device has %zu",
                       local, ctx->info.local_mem_bytes);
    return LK_OK;
}

void lk_kda_key(const lk_kda_call *call, lk_tune_key *key)
{
    memset(key, 0, sizeof *key);
    snprintf(key->op, sizeof key->op, "kda_fwd");
    key->dtype = call->q.dtype;
    key->head_dim = (int)call->q.shape[3];
    key->flag = 0;
    key->length = call->max_len;
}

size_t lk_kda_scratch_bytes(int64_t B, int64_t T, int64_t HV, int64_t K, int64_t V, int64_t n_seqs, int chunk,
                            int scr_f16, int64_t *n_slots)
{
    /* the same sums, each step overflow-checked: SIZE_MAX when the scratch passes 2^63 bytes */
    int64_t BT, rows, per_slot, fp32, stored, bytes, t1, t2;
    if (__builtin_mul_overflow(B, T, &BT) || __builtin_mul_overflow(HV, BT, &rows))
        return SIZE_MAX;
    *n_slots = (BT + chunk - 1) / chunk + n_seqs;
    int64_t slots;
    if (__builtin_mul_overflow(HV, *n_slots, &slots) || __builtin_mul_overflow(rows, (int64_t)chunk, &t1) ||
        __builtin_mul_overflow(slots, K, &t2) ||
        __builtin_add_overflow(t1, t2, &fp32) || __builtin_mul_overflow(rows, 3 * K + V, &t1) ||
        __builtin_mul_overflow(t2, V, &per_slot) || __builtin_add_overflow(t1, per_slot, &stored) ||
        __builtin_mul_overflow(stored, (int64_t)(scr_f16 ? 2 : 4), &t1) || __builtin_mul_overflow(fp32, (int64_t)4, &t2) ||
        __builtin_add_overflow(t1, t2, &bytes))
        return SIZE_MAX;
    return (size_t)bytes;
}

lk_status lk_kda_run(lk_context *ctx, const lk_kda_call *c, const lk_params *tuned)
{
    int64_t K = c->q.shape[3], V = c->v.shape[3], H = c->q.shape[2], HV = c->v.shape[2];
    int64_t B = c->q.shape[0], T = c->q.shape[1];
    lk_params eff;
    lk_kda_effective(tuned, K, V, c->max_len, ctx->info.local_mem_bytes, &eff);
    lk_status st = lk_kda_check_params(ctx, &eff, K);
    if (st != LK_OK)
        return st;
    int chunk = lk_params_get(&eff, "CHUNK", 64), bv = lk_params_get(&eff, "BV", 16), wg = lk_params_get(&eff, "WG", 128);
    const lk_kda_params *p = c->p;
    lk_params defs = {0};
    lk_params_set(&defs, "LK_F16", c->q.dtype == LK_F16);
    lk_params_set(&defs, "DK", (int)K);
    lk_params_set(&defs, "DV", (int)V);
    lk_params_set(&defs, "CHUNK", chunk);
    lk_params_set(&defs, "SUB", lk_params_get(&eff, "SUB", 16));
    lk_params_set(&defs, "KT", lk_params_get(&eff, "KT", 16));
    lk_params_set(&defs, "KS", lk_params_get(&eff, "KS", 32));
    lk_params_set(&defs, "BV", bv);
    lk_params_set(&defs, "WG", wg);
    int obv = lk_params_get(&eff, "OBV", 64);
    lk_params_set(&defs, "OBV", obv);
    int fuse; /* the state pass writes o too (FUSEOUT), kda_out does not run */
    int sets = lk_kda_state_mma_sets(&ctx->info, c->q.dtype, &eff, K, V, &fuse), smma = sets > 0; /* cl/kda_state_mma.cl */
    if (smma) {
        lk_params_set(&defs, "SBUF", sets);
        lk_params_set(&defs, "FUSEOUT", fuse);
    }
    int cmma = lk_kda_chunk_mma_ok(&ctx->info, c->q.dtype, &eff); /* cl/kda_chunk_mma.cl */
    size_t warps_wg = (size_t)chunk / 16 * 32; /* every tensor-core kernel: CHUNK / 16 warps */
    lk_params_set(&defs, "L2NORM", p->l2norm_qk != 0);
    lk_params_set(&defs, "GATE", p->a_log != NULL);
    lk_params_set(&defs, "HAS_H0", c->h0 != NULL);
    lk_params_set(&defs, "HAS_HT", c->ht != NULL);
    lk_params_set(&defs, "VARLEN", p->cu_seqlens != NULL);
    const int scr16 = lk_kda_scratch_f16(&eff, c->q.dtype);
    lk_params_set(&defs, "SCR_F16", scr16);
    lk_params_set(&defs, "UNROLL", ctx->info.type == LK_DEVICE_GPU);

    int64_t n_slots;
    size_t bytes = lk_kda_scratch_bytes(B, T, HV, K, V, c->n_seqs, chunk, scr16, &n_slots);
    if (bytes == SIZE_MAX)
        return lk_fail(ctx, LK_ERR_UNSUPPORTED, "lk_kda_fwd: the scratch for B*T = %lld, HV = %lld would pass 2^63 bytes",
                       (long long)(B * T), (long long)HV);
    lk_buffer *scr;
    if ((st = lk_scratch_get(ctx, LK_SCRATCH_KDA, bytes, &scr)))
        return st;

    lk_args a = {0}; /* kda_chunk */
    lk_args_tensor(&a, &c->q, 4);
    lk_args_tensor(&a, &c->k, 4);
    lk_args_tensor(&a, &c->v, 4);
    lk_args_tensor(&a, &c->g, 4);
    lk_args_tensor(&a, &c->beta, 3);
    lk_args_tensor(&a, p->cu_seqlens, 1);
    lk_args_tensor(&a, p->a_log, 1);
    lk_args_tensor(&a, p->dt_bias, 2);
    lk_args_buffer(&a, scr);
    lk_args_int(&a, (int32_t)T);
    lk_args_int(&a, (int32_t)H);
    lk_args_int(&a, (int32_t)HV);
    lk_args_long(&a, B * T);
    lk_args_long(&a, n_slots);
    lk_args_float(&a, (float)(p->scale > 0.0 ? p->scale : 1.0 / sqrt((double)K)));
    /* STAGES (not tuned; for the benchmark's breakdown): bit 0 kda_chunk, 1 kda_state, 2 kda_out */
    int stages = lk_params_get(tuned, "STAGES", LK_KDA_STAGES_ALL);
    size_t chunks = (size_t)((c->max_len + chunk - 1) / chunk);
    chunks = chunks ? chunks : 1;
    if ((stages & 1) && (st = lk_launch(ctx, cmma ? "kda_chunk_mma" : "kda_chunk", &defs,
                                        cmma ? "kda_chunk_mma" : "kda_chunk", (size_t)HV * chunks, (size_t)c->n_seqs,
                                        cmma ? warps_wg : (size_t)wg, &a)))
        return st;

    lk_args b = {.dyn_local = smma ? lk_kda_state_mma_local_bytes((size_t)chunk, (size_t)bv, (size_t)K, sets, fuse) : 0};
    /* kda_state, or kda_state_mma (which takes o, written only with FUSEOUT) */
    lk_args_buffer(&b, scr);
    if (smma)
        lk_args_tensor(&b, &c->o, 4);
    lk_args_tensor(&b, c->h0, 4);
    lk_args_tensor(&b, c->ht, 4);
    lk_args_tensor(&b, p->cu_seqlens, 1);
    lk_args_int(&b, (int32_t)T);
    lk_args_int(&b, (int32_t)HV);
    lk_args_long(&b, B * T);
    lk_args_long(&b, n_slots);
    size_t v_blocks = (size_t)((V + bv - 1) / bv);
    if ((stages & 2) && (st = lk_launch(ctx, smma ? "kda_state_mma" : "kda_state", &defs,
                                        smma ? "kda_state_mma" : "kda_state",
                                        (size_t)HV * v_blocks, (size_t)c->n_seqs,
                                        smma ? warps_wg : (size_t)wg, &b)))
        return st;
    if (fuse)
        return LK_OK;

    lk_args d = {0}; /* kda_out */
    lk_args_buffer(&d, scr);
    lk_args_tensor(&d, &c->o, 4);
    lk_args_tensor(&d, p->cu_seqlens, 1);
    lk_args_int(&d, (int32_t)T);
    lk_args_int(&d, (int32_t)HV);
    lk_args_long(&d, B * T);
    lk_args_long(&d, n_slots);
    size_t o_blocks = (size_t)((V + obv - 1) / obv);
    int mma = lk_kda_out_mma_ok(&ctx->info, c->q.dtype, &eff); /* cl/kda_out_mma.cl */
    if ((stages & 4) && (st = lk_launch(ctx, mma ? "kda_out_mma" : "kda_out", &defs, "kda_out",
                                        (size_t)HV * o_blocks * chunks, (size_t)c->n_seqs,
                                        mma ? warps_wg : out_wg((size_t)chunk, (size_t)obv), &d)))
        return st;
    return LK_OK;
}

/* Look the parameters up for a prepared call and run it. */
static lk_status tuned_run(lk_context *ctx, const lk_kda_call *call)
{
    lk_tune_key key;
    lk_params defaults;
    lk_op_params how;
    lk_kda_key(call, &key);
    lk_kda_defaults(&ctx->info, call->q.shape[3], call->v.shape[3], &defaults);
    const lk_params *tuned = lk_op_params_choose(ctx, NULL, &key, &defaults, &how);
    lk_status st = lk_kda_run(ctx, call, tuned);
    if (lk_op_params_fall_back(ctx, &how, &defaults, st, &tuned))
        st = lk_kda_run(ctx, call, tuned);
    return lk_op_params_finish(ctx, &how, st);
}

lk_status lk_kda_fwd(lk_context *ctx, const lk_tensor *q, const lk_tensor *k, const lk_tensor *v,
                     const lk_tensor *g, const lk_tensor *beta, const lk_tensor *initial_state, lk_tensor *o,
                     lk_tensor *final_state, const lk_kda_params *params)
{
    if (!ctx)
        return LK_ERR_NULL_POINTER;
    ctx->last_launch[0] = '\0';
    lk_kda_call call;
    lk_status st = lk_kda_fwd_prepare(ctx, q, k, v, g, beta, initial_state, o, final_state, params, &call);
    return st != LK_OK ? st : tuned_run(ctx, &call);
}

lk_status lk_kda_decode_step(lk_context *ctx, const lk_tensor *q, const lk_tensor *k, const lk_tensor *v,
                             const lk_tensor *g, const lk_tensor *beta, lk_tensor *state, lk_tensor *o,
                             const lk_kda_params *params)
{
    if (!ctx)
        return LK_ERR_NULL_POINTER;
    ctx->last_launch[0] = '\0';
    lk_kda_call call;
    lk_status st = lk_kda_decode_prepare(ctx, q, k, v, g, beta, state, o, params, &call);
    return st != LK_OK ? st : tuned_run(ctx, &call);
}
