/* KDA inputs, timed call and check for the tuner and the benchmark (see kda_problem.h). Large
 * tensors are generated and uploaded in pieces, so the host holds a whole copy only on request. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kda_problem.h"
#include "kda_ref.h"
#include "ops/kda.h"
#include "ref.h"

#define PIECE ((size_t)1 << 20)

static float uniform(uint64_t *s) /* in [-1, 1) */
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    uint64_t r = *s * 2685821657736338717ULL;
    return (float)((double)(r >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

/* The value of input `which` from a uniform u in [-1, 1). */
static float input_value(int which, float u)
{
    switch (which) {
    case KDA_G: return -0.25f * (u + 1.0f) - 1e-3f;   /* log-decay in [-0.5, 0) */
    case KDA_BETA: return 0.5f * (u + 1.0f);          /* beta in [0, 1) */
    default: return u;
    }
}

static void shape_of(const kda_problem *p, int which, int *ndim, int64_t shape[4])
{
    int64_t B = p->B, T = p->T, n = p->B; /* one sequence per batch row */
    switch (which) {
    case KDA_Q: case KDA_K: *ndim = 4, shape[0] = B, shape[1] = T, shape[2] = p->H, shape[3] = p->K; break;
    case KDA_V: case KDA_O: *ndim = 4, shape[0] = B, shape[1] = T, shape[2] = p->HV, shape[3] = p->V; break;
    case KDA_G: *ndim = 4, shape[0] = B, shape[1] = T, shape[2] = p->HV, shape[3] = p->K; break;
    case KDA_BETA: *ndim = 3, shape[0] = B, shape[1] = T, shape[2] = p->HV; break;
    default: *ndim = 4, shape[0] = n, shape[1] = p->HV, shape[2] = p->K, shape[3] = p->V; break;
    }
}

static lk_dtype dtype_of(const kda_problem *p, int which)
{
    return which == KDA_Q || which == KDA_K || which == KDA_V || which == KDA_O ? p->dtype : LK_F32;
}

static size_t count_of(const kda_problem *p, int which)
{
    int ndim;
    int64_t shape[4];
    shape_of(p, which, &ndim, shape);
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= (size_t)shape[i];
    return n;
}

/* Fills input `which` piece by piece, keeping the values in host when not NULL. */
static lk_status fill(kda_problem *p, int which, uint64_t *seed, float *host)
{
    lk_dtype dt = dtype_of(p, which);
    size_t n = count_of(p, which), es = lk_dtype_size(dt);
    float *f = malloc(PIECE * sizeof(float));
    uint16_t *h = malloc(PIECE * sizeof(uint16_t));
    lk_status st = f && h ? LK_OK : LK_ERR_OUT_OF_MEMORY;
    for (size_t off = 0; st == LK_OK && off < n; off += PIECE) {
        size_t m = n - off < PIECE ? n - off : PIECE;
        for (size_t i = 0; i < m; i++) {
            f[i] = input_value(which, uniform(seed));
            if (dt == LK_F16) {
                h[i] = ref_f2h(f[i]);
                f[i] = ref_h2f(h[i]);
            }
        }
        if (host)
            memcpy(host + off, f, m * sizeof(float));
        st = lk_buffer_write(p->ctx, p->buf[which], off * es, dt == LK_F16 ? (void *)h : (void *)f, m * es);
    }
    free(f);
    free(h);
    return st;
}

int kda_problem_fits(lk_context *ctx, lk_dtype dtype, int64_t B, int64_t T, int64_t H, int64_t K)
{
    size_t es = lk_dtype_size(dtype);
    int64_t slots;
    size_t scratch = lk_kda_scratch_bytes(B, T, H, K, K, B, 16, 0, &slots); /* CHUNK 16, fp32: the most */
    size_t bytes = (size_t)(B * T * H * K) * (4 * es + 4) + (size_t)(B * T * H) * 4 + (size_t)(2 * B * H * K * K) * 4 +
                   scratch;
    size_t mem = lk_context_device(ctx)->global_mem_bytes;
    if (bytes <= mem / 2)
        return 1;
    fprintf(stderr, "note: skipping kda %s K=%lld T=%lld: %zu MiB of tensors and scratch > half of %zu MiB of device "
                    "memory\n",
            lk_dtype_name(dtype), (long long)K, (long long)T, bytes >> 20, mem >> 20);
    return 0;
}

lk_status kda_problem_create(lk_context *ctx, lk_dtype dtype, int64_t B, int64_t T, int64_t H, int64_t K,
                             uint64_t seed, int keep_host, kda_problem *out)
{
    *out = (kda_problem){.ctx = ctx, .dtype = dtype, .B = B, .T = T, .H = H, .HV = H, .K = K, .V = K};
    out->params = lk_kda_params_default();
    out->params.l2norm_qk = 1;
    uint64_t state = seed * 0x9E3779B97F4A7C15ULL + 1;
    lk_status st = LK_OK;
    for (int i = 0; i < KDA_TENSORS && st == LK_OK; i++) {
        int ndim;
        int64_t shape[4];
        shape_of(out, i, &ndim, shape);
        size_t n = count_of(out, i);
        if ((st = lk_buffer_alloc(ctx, n * lk_dtype_size(dtype_of(out, i)), &out->buf[i])) != LK_OK)
            break;
        out->t[i] = lk_tensor_make(out->buf[i], dtype_of(out, i), ndim, shape);
        if (i >= KDA_INPUTS)
            continue;
        if (keep_host && !(out->host[i] = malloc(n * sizeof(float))))
            st = LK_ERR_OUT_OF_MEMORY;
        else
            st = fill(out, i, &state, out->host[i]);
    }
    if (st != LK_OK)
        kda_problem_free(out);
    return st;
}

void kda_problem_free(kda_problem *p)
{
    for (int i = 0; i < KDA_TENSORS; i++)
        lk_buffer_free(p->buf[i]);
    for (int i = 0; i < KDA_INPUTS; i++)
        free(p->host[i]);
    memset(p, 0, sizeof *p);
}

lk_status kda_call_run(lk_context *ctx, void *call)
{
    kda_call *c = call;
    lk_tensor *t = c->pb->t;
    if (!c->tuned)
        return lk_kda_fwd(ctx, &t[KDA_Q], &t[KDA_K], &t[KDA_V], &t[KDA_G], &t[KDA_BETA], &t[KDA_H0], &t[KDA_O],
                          &t[KDA_HT], &c->pb->params);
    lk_kda_call prepared;
    lk_status st = lk_kda_fwd_prepare(ctx, &t[KDA_Q], &t[KDA_K], &t[KDA_V], &t[KDA_G], &t[KDA_BETA], &t[KDA_H0],
                                      &t[KDA_O], &t[KDA_HT], &c->pb->params, &prepared);
    return st != LK_OK ? st : lk_kda_run(ctx, &prepared, c->tuned);
}

lk_status kda_check_init(lk_context *ctx, const lk_tune_key *key, kda_check *c)
{
    memset(c, 0, sizeof *c);
    c->tol = key->dtype == LK_F16 ? 5e-3 : 1e-5;
    lk_status st = kda_problem_create(ctx, key->dtype, 1, 100, 2, key->head_dim, 7, 1, &c->pb);
    if (st != LK_OK)
        return st;
    kda_problem *p = &c->pb;
    size_t no = count_of(p, KDA_O), ns = count_of(p, KDA_HT);
    c->ref = malloc(sizeof(double) * (no + ns));
    c->got = malloc(sizeof(float) * (no + ns));
    if (!c->ref || !c->got)
        return LK_ERR_OUT_OF_MEMORY;
    ref_kda_args a = {p->B, p->T, p->H, p->HV, p->K, p->V, 0.0, 1, NULL, NULL, NULL, p->B};
    float **h = p->host;
    ref_kda(&a, h[KDA_Q], h[KDA_K], h[KDA_V], h[KDA_G], h[KDA_BETA], h[KDA_H0], c->ref, c->ref + no);
    return LK_OK;
}

/* Relative RMS error rms(got - ref) / rms(ref); NaN in got gives NaN. */
static double rel_rms(const float *got, const double *ref, size_t n)
{
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        num += (got[i] - ref[i]) * (got[i] - ref[i]);
        den += ref[i] * ref[i];
    }
    return sqrt(num / (den > 0 ? den : 1.0));
}

/* t read back as floats. */
static lk_status read_floats(kda_problem *p, int which, float *out)
{
    size_t n = count_of(p, which);
    if (dtype_of(p, which) == LK_F32)
        return lk_buffer_read(p->ctx, p->buf[which], 0, out, n * sizeof(float));
    uint16_t *h = malloc(n * sizeof(uint16_t));
    if (!h)
        return LK_ERR_OUT_OF_MEMORY;
    lk_status st = lk_buffer_read(p->ctx, p->buf[which], 0, h, n * sizeof(uint16_t));
    for (size_t i = 0; st == LK_OK && i < n; i++)
        out[i] = ref_h2f(h[i]);
    free(h);
    return st;
}

lk_status kda_check_run(kda_check *c, const lk_params *p, double *rel_err)
{
    kda_call call = {&c->pb, p};
    lk_status st = kda_call_run(c->pb.ctx, &call);
    size_t no = count_of(&c->pb, KDA_O), ns = count_of(&c->pb, KDA_HT);
    if (st == LK_OK && (st = read_floats(&c->pb, KDA_O, c->got)) == LK_OK)
        st = read_floats(&c->pb, KDA_HT, c->got + no);
    if (st != LK_OK)
        return st;
    double eo = rel_rms(c->got, c->ref, no), es = rel_rms(c->got + no, c->ref + no, ns);
    *rel_err = isnan(eo) || isnan(es) ? NAN : eo > es ? eo : es;
    return LK_OK;
}

void kda_check_free(kda_check *c)
{
    kda_problem_free(&c->pb);
    free(c->ref);
    free(c->got);
    memset(c, 0, sizeof *c);
}
