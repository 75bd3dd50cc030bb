/* lk_kda_fwd and lk_kda_decode_step against the fp64 token-by-token recurrence (ref/kda_ref.c)
 * on every compiled backend.
 *
 * Metric (as fla's tests): relative RMS error rms(got - ref) / rms(ref) over a whole output.
 * Tolerances: 1e-5 with f32 inputs, 5e-3 with f16 inputs (the reference sees the same rounded
 * inputs; o is stored as half). The state is f32 in both cases. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kda_ref.h"
#include "ops/kda.h"

#define TOL_F32 1e-5
#define TOL_F16 5e-3

typedef struct {
    int64_t B, T, H, HV, K, V;
    lk_dtype dtype;
    int l2norm;          /* L2 norm of q and k in the kernel (else k is normalised on the host) */
    int gate;            /* 0: g given; 1: g from (a_log, f, dt_bias) */
    int h0;              /* initial state given */
    int strong;          /* log-decay near -5 per step and channel */
    lkt_layout mem;      /* layout of q, k, v, g, o */
    char tune[128];      /* kernel parameters forced for this case, or "" (an array: parameters are
                            copied into the test process, where pointers would not be valid) */
    lkt_backend backend;
} kda_case;

/* Host inputs in logical order ([B, T, H|HV, K|V]); f16 tensors hold the rounded values. */
typedef struct {
    float *q, *k, *v, *g, *beta, *h0, *a_log, *dt_bias;
} kda_host;

/* Device tensors of one problem. */
typedef struct {
    lkt_tensor q, k, v, g, o, beta, h0, ht, a_log, dt_bias;
} kda_dev;

static double rel_rms(const float *got, const double *ref, size_t n)
{
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        num += (got[i] - ref[i]) * (got[i] - ref[i]);
        den += ref[i] * ref[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static void expect_rms(const char *label, const float *got, const double *ref, size_t n, double tol)
{
    for (size_t i = 0; i < n; i++)
        cr_assert(isfinite(got[i]), "%s[%zu] = %g is not finite (seed %llu)", label, i, got[i],
                  (unsigned long long)lkt_seed());
    double err = rel_rms(got, ref, n);
    cr_log_info("%s: relative RMS error %.3g (tolerance %.1g)", label, err, tol);
    cr_expect(err <= tol, "%s: relative RMS error %.3g > %.1g (seed %llu)", label, err, tol,
              (unsigned long long)lkt_seed());
}

static float *alloc_floats(size_t n)
{
    float *x = calloc(n ? n : 1, sizeof(float));
    cr_assert(x != NULL);
    return x;
}

static float unit(lkt_rng *r) /* uniform in (0, 1) */
{
    return 0.5f * (lkt_uniform(r) + 1.0f);
}

/* Rows of length n divided by their L2 norm. */
static void normalise_rows(float *x, size_t rows, int64_t n)
{
    for (size_t i = 0; i < rows; i++) {
        double ss = 0.0;
        for (int64_t d = 0; d < n; d++)
            ss += (double)x[i * n + d] * x[i * n + d];
        for (int64_t d = 0; d < n; d++)
            x[i * n + d] = (float)(x[i * n + d] / sqrt(ss));
    }
}

static kda_host make_host(const kda_case *c, int64_t n_seqs, uint64_t stream)
{
    lkt_rng rng = lkt_rng_make(lkt_seed(), stream);
    size_t nqk = (size_t)(c->B * c->T * c->H * c->K), nv = (size_t)(c->B * c->T * c->HV * c->V);
    size_t ng = (size_t)(c->B * c->T * c->HV * c->K), nb = (size_t)(c->B * c->T * c->HV);
    kda_host h = {alloc_floats(nqk), alloc_floats(nqk), alloc_floats(nv), alloc_floats(ng), alloc_floats(nb),
                  NULL, NULL, NULL};
    lkt_fill(&rng, h.q, nqk);
    lkt_fill(&rng, h.k, nqk);
    lkt_fill(&rng, h.v, nv);
    if (!c->l2norm)
        normalise_rows(h.k, nqk / (size_t)c->K, c->K);
    for (size_t i = 0; i < ng; i++) /* log-decay in [-0.5, 0), or near -5; gate input f in [-3, 3] */
        h.g[i] = c->gate ? 3.0f * lkt_uniform(&rng) : c->strong ? -5.0f + 0.5f * lkt_uniform(&rng) : -0.5f * unit(&rng);
    for (size_t i = 0; i < nb; i++)
        h.beta[i] = unit(&rng);
    if (c->h0) {
        size_t ns = (size_t)(n_seqs * c->HV * c->K * c->V);
        h.h0 = alloc_floats(ns);
        lkt_fill(&rng, h.h0, ns);
    }
    if (c->gate) {
        h.a_log = alloc_floats((size_t)c->HV);
        h.dt_bias = alloc_floats((size_t)(c->HV * c->K));
        for (int64_t i = 0; i < c->HV; i++)
            h.a_log[i] = -1.0f + 1.5f * unit(&rng);
        lkt_fill(&rng, h.dt_bias, (size_t)(c->HV * c->K));
    }
    return h;
}

static void free_host(kda_host *h)
{
    free(h->q); free(h->k); free(h->v); free(h->g); free(h->beta); free(h->h0); free(h->a_log); free(h->dt_bias);
}

/* A contiguous f32 device tensor holding host (or zeros when host is NULL). */
static lkt_tensor upload_f32(lk_context *ctx, int ndim, const int64_t *shape, const float *host)
{
    lkt_tensor t = lkt_zeros(ctx, LK_F32, ndim, shape);
    if (host)
        LKT_OK(ctx, lk_buffer_write(ctx, t.buf, 0, host, t.count * sizeof(float)));
    return t;
}

/* Device tensors of case c; f16 inputs are rounded in h. o is poisoned with ones. */
static kda_dev make_dev(lk_context *ctx, const kda_case *c, kda_host *h, int64_t n_seqs)
{
    kda_dev d;
    memset(&d, 0, sizeof d);
    int64_t qs[4] = {c->B, c->T, c->H, c->K}, vs[4] = {c->B, c->T, c->HV, c->V}, gs[4] = {c->B, c->T, c->HV, c->K};
    int64_t bs[3] = {c->B, c->T, c->HV}, ss[4] = {n_seqs, c->HV, c->K, c->V};
    d.q = lkt_upload(ctx, c->dtype, c->mem, qs, h->q);
    d.k = lkt_upload(ctx, c->dtype, c->mem, qs, h->k);
    d.v = lkt_upload(ctx, c->dtype, c->mem, vs, h->v);
    d.g = lkt_upload(ctx, LK_F32, c->mem, gs, h->g);
    float *ones = alloc_floats((size_t)(c->B * c->T * c->HV * c->V));
    for (int64_t i = 0; i < c->B * c->T * c->HV * c->V; i++)
        ones[i] = 1.0f;
    d.o = lkt_upload(ctx, c->dtype, c->mem, vs, ones);
    free(ones);
    d.beta = upload_f32(ctx, 3, bs, h->beta);
    if (h->h0)
        d.h0 = upload_f32(ctx, 4, ss, h->h0);
    d.ht = upload_f32(ctx, 4, ss, NULL);
    if (h->a_log) {
        int64_t as[1] = {c->HV}, ds[2] = {c->HV, c->K};
        d.a_log = upload_f32(ctx, 1, as, h->a_log);
        d.dt_bias = upload_f32(ctx, 2, ds, h->dt_bias);
    }
    return d;
}

static void free_dev(kda_dev *d)
{
    lkt_free(&d->q); lkt_free(&d->k); lkt_free(&d->v); lkt_free(&d->g); lkt_free(&d->o);
    lkt_free(&d->beta); lkt_free(&d->h0); lkt_free(&d->ht); lkt_free(&d->a_log); lkt_free(&d->dt_bias);
}

static lk_kda_params params_of(const kda_case *c, const kda_dev *d)
{
    lk_kda_params p = lk_kda_params_default();
    p.l2norm_qk = c->l2norm;
    if (c->gate) {
        p.a_log = &d->a_log.t;
        p.dt_bias = &d->dt_bias.t;
    }
    return p;
}

static ref_kda_args ref_args_of(const kda_case *c, const kda_host *h)
{
    ref_kda_args a = {c->B, c->T, c->H, c->HV, c->K, c->V, 0.0, c->l2norm, h->a_log, h->dt_bias, NULL, c->B};
    return a;
}

static void force_params(lk_context *ctx, const kda_case *c)
{
    if (c->tune[0])
        LKT_OK(ctx, lk_tuning_override(ctx, "kda_fwd", c->dtype, (int)c->K, 0, 0, c->tune));
}

/* lk_kda_fwd; a case whose parameters need more local memory than the device has is skipped
 * with the reason (the forced parameters of the cases fit 48 KiB, NVIDIA's static limit). */
static void fwd_or_skip(lk_context *ctx, kda_dev *d, const lk_tensor *h0, const lk_kda_params *p)
{
    lk_status st = lk_kda_fwd(ctx, &d->q.t, &d->k.t, &d->v.t, &d->g.t, &d->beta.t, h0, &d->o.t, &d->ht.t, p);
    if (st == LK_ERR_INVALID_ARGUMENT && strstr(lk_last_error(ctx), "local memory"))
        cr_skip_test("%s", lk_last_error(ctx));
    LKT_OK(ctx, st);
}

/* B T H HV K V dtype l2norm gate h0 strong mem tune */
#define F32 LK_F32
#define F16 LK_F16
#define CASES(X)                                                                                             \
    X(1, 63, 1, 1, 64, 64, F32, 1, 0, 0, 0, LKT_CONTIGUOUS, "CHUNK=16,SUB=8,BV=64,WG=64")  /* partial chunk */ \
    X(1, 63, 1, 1, 64, 64, F16, 1, 0, 1, 0, LKT_CONTIGUOUS, "CHUNK=32,SUB=8,BV=32,WG=128,SCR16=1")            \
    X(2, 100, 2, 4, 32, 48, F32, 0, 0, 1, 0, LKT_BSHD, "CHUNK=64,SUB=16,BV=16,WG=64")      /* GVA */         \
    X(1, 150, 2, 2, 128, 128, F16, 1, 0, 1, 1, LKT_CONTIGUOUS, "")                         /* strong decay */ \
    X(1, 130, 1, 1, 128, 128, F32, 1, 0, 0, 1, LKT_CONTIGUOUS, "CHUNK=64,SUB=32,BV=16,WG=64")                 \
    X(1, 200, 1, 1, 128, 128, F16, 1, 0, 1, 0, LKT_CONTIGUOUS, "CHUNK=64,SUB=8,BV=16,WG=64,SCR16=1")          \
    X(1, 37, 1, 2, 100, 60, F32, 1, 1, 1, 0, LKT_PADDED, "CHUNK=16,SUB=4,BV=32,WG=96")     /* gate, odd dims */ \
    X(1, 37, 1, 2, 100, 60, F16, 1, 1, 1, 0, LKT_PADDED, "CHUNK=16,SUB=4,BV=32,WG=96,SCR16=1")                \
    X(1, 1, 2, 2, 16, 8, F32, 1, 0, 1, 0, LKT_CONTIGUOUS, "")                              /* T = 1 */       \
    X(1, 40, 1, 1, 256, 256, F32, 1, 0, 1, 0, LKT_CONTIGUOUS, "CHUNK=16,SUB=16,BV=32,WG=256")                 \
    X(1, 200, 2, 2, 128, 128, F32, 1, 0, 1, 1, LKT_BSHD, "CHUNK=64,SUB=16,BV=16,WG=128")   /* GPU default */

#define ROW(b, t, h, hv, k, v, dt, l2, gate, h0, strong, mem, tune)                                         \
    {b, t, h, hv, k, v, dt, l2, gate, h0, strong, mem, tune, LKT_OPENCL},                                    \
        {b, t, h, hv, k, v, dt, l2, gate, h0, strong, mem, tune, LKT_CUDA},

ParameterizedTestParameters(kda, matches_recurrence)
{
    static kda_case cases[] = {CASES(ROW)};
    return cr_make_param_array(kda_case, cases, sizeof cases / sizeof cases[0]);
}

static void run_matches(const kda_case *c);

ParameterizedTest(kda_case *c, kda, matches_recurrence)
{
    run_matches(c);
}

/* The tensor-core kernels forced by a tuning override, f16 only: the state pass
 * (cl/kda_state_mma.cl, SMMA = 1; with the tensor-core output, MMA = 1) and the chunk kernel
 * (cl/kda_chunk_mma.cl, CMMA = 1): the GPU default's shape (also all three together), CHUNK 32
 * with strong decay (BV 16 for the state pass, 32 for the chunk kernel), CHUNK 16 with odd K and
 * V (zero-padded K tiles, V not a multiple of BV or of the column tile, gate), GVA with two
 * sequences without L2 norm; the state pass's last two with BV 8 (one n8 tile a work-group); all
 * chunk and output kernels at odd K = 33, V = 17 (f16 pairs past a row's end or unaligned; the
 * state pass copies rows 4-16 bytes at a time and needs K and V even); the last three with the
 * output fused into the state pass (FUSEOUT: kda_state_mma is the last launch). All with SCR16 = 1, the
 * f16 scratch these kernels need. Skipped on devices without an NVIDIA GPU of
 * compute capability 8+. */
#define TC_CASES(X)                                                                                          \
    X(1, 200, 1, 1, 128, 128, F16, 1, 0, 1, 0, LKT_BSHD, "CHUNK=64,SUB=16,BV=16,WG=128,OBV=64,MMA=1,SMMA=1,SCR16=1") \
    X(1, 150, 2, 2, 128, 128, F16, 1, 0, 1, 1, LKT_CONTIGUOUS, "CHUNK=32,SUB=16,BV=16,WG=128,OBV=64,MMA=1,SMMA=1,SCR16=1") \
    X(1, 37, 1, 2, 100, 60, F16, 1, 1, 1, 0, LKT_PADDED, "CHUNK=16,SUB=8,BV=8,WG=64,OBV=32,MMA=1,SMMA=1,SCR16=1")      \
    X(2, 100, 2, 4, 64, 48, F16, 0, 0, 1, 0, LKT_BSHD, "CHUNK=64,SUB=16,BV=8,WG=64,OBV=32,SMMA=1,SCR16=1")              \
    X(1, 200, 1, 1, 128, 128, F16, 1, 0, 1, 0, LKT_BSHD, "CHUNK=64,SUB=16,BV=16,WG=128,OBV=64,MMA=1,SMMA=1,CMMA=1,SCR16=1") \
    X(1, 150, 2, 2, 128, 128, F16, 1, 0, 1, 1, LKT_CONTIGUOUS, "CHUNK=32,SUB=16,BV=32,WG=128,OBV=64,CMMA=1,SCR16=1")   \
    X(1, 37, 1, 2, 100, 60, F16, 1, 1, 1, 0, LKT_PADDED, "CHUNK=16,SUB=8,BV=16,WG=64,OBV=32,CMMA=1,SCR16=1")            \
    X(2, 100, 2, 4, 64, 48, F16, 0, 0, 1, 0, LKT_BSHD, "CHUNK=64,SUB=16,BV=16,WG=64,OBV=32,CMMA=1,SCR16=1")     \
    X(1, 45, 1, 1, 33, 17, F16, 1, 0, 1, 0, LKT_CONTIGUOUS, "CHUNK=32,SUB=16,BV=8,WG=64,OBV=32,MMA=1,CMMA=1,SCR16=1") \
    X(1, 200, 1, 1, 128, 128, F16, 1, 0, 1, 1, LKT_BSHD, "CHUNK=64,SUB=16,BV=16,WG=128,OBV=64,MMA=1,SMMA=1,CMMA=1,SCR16=1,FUSEOUT=1") \
    X(1, 37, 1, 2, 100, 60, F16, 1, 1, 1, 0, LKT_PADDED, "CHUNK=16,SUB=8,BV=8,WG=64,OBV=32,MMA=1,SMMA=1,SCR16=1,FUSEOUT=1") \
    X(2, 100, 2, 4, 64, 48, F16, 0, 0, 1, 0, LKT_BSHD, "CHUNK=64,SUB=16,BV=8,WG=64,OBV=32,SMMA=1,CMMA=1,SCR16=1,FUSEOUT=1")

ParameterizedTestParameters(kda, tensor_core)
{
    static kda_case cases[] = {TC_CASES(ROW)};
    return cr_make_param_array(kda_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(kda_case *c, kda, tensor_core)
{
    run_matches(c);
}

/* Where the case forces `flag`, runs the kernels of bit mask `stages` alone (STAGES) and expects
 * `kernel` to be the last launch: the forced tensor-core kernel ran, not its fallback. */
static void expect_last_kernel(lk_context *ctx, const kda_case *c, kda_dev *d, const lk_kda_params *p,
                               const char *flag, int stages, const char *kernel)
{
    if (!strstr(c->tune, flag))
        return;
    char tune[160], launch[64];
    snprintf(tune, sizeof tune, "%s,STAGES=%d", c->tune, stages);
    LKT_OK(ctx, lk_tuning_override(ctx, "kda_fwd", c->dtype, (int)c->K, 0, 0, tune));
    fwd_or_skip(ctx, d, c->h0 ? &d->h0.t : NULL, p);
    snprintf(launch, sizeof launch, "%s ", kernel);
    cr_expect(strstr(lk_last_launch(ctx), launch) == lk_last_launch(ctx), "%s did not run: %s", kernel,
              lk_last_launch(ctx));
}

/* Whether the case's FUSEOUT = 1 fuses the output on this device: it needs two sets of copies with
 * qg and Aqk in local memory, which NVIDIA OpenCL's 48 KB does not hold at K = 64 or 128 (the
 * output then runs in kda_out; the match above still holds). */
static int fuses_output(lk_context *ctx, const kda_case *c)
{
    const lk_device_info *dev = lk_context_device(ctx);
    lk_params tuned, eff;
    int fuse = 0;
    if (lk_params_parse(c->tune, &tuned) != LK_OK)
        return 0;
    /* lk_kda_run's caps, with T for its longest sequence */
    lk_kda_effective(&tuned, c->K, c->V, c->T, dev->local_mem_bytes, &eff);
    lk_kda_state_mma_sets(dev, c->dtype, &eff, c->K, c->V, &fuse);
    if (!fuse && strstr(c->tune, "FUSEOUT=1"))
        cr_log_info("%s: FUSEOUT does not fit this device's local memory; kda_out runs", dev->name);
    return fuse;
}

static void run_matches(const kda_case *c)
{
    lk_context *ctx = lkt_open(c->backend);
    if (strstr(c->tune, "MMA=1"))
        lkt_require_tensor_cores(ctx);
    kda_host h = make_host(c, c->B, (uint64_t)(c->T * 131 + c->K * 7 + c->V + c->dtype));
    kda_dev d = make_dev(ctx, c, &h, c->B);
    lk_kda_params p = params_of(c, &d);
    force_params(ctx, c);
    fwd_or_skip(ctx, &d, c->h0 ? &d.h0.t : NULL, &p);
    cr_log_info("%s: %s", lkt_backend_name(c->backend), lk_last_launch(ctx));

    size_t no = d.o.count, ns = d.ht.count;
    float *o = alloc_floats(no), *ht = alloc_floats(ns);
    lkt_download(ctx, &d.o, o);
    lkt_download(ctx, &d.ht, ht);
    double *ro = malloc(no * sizeof(double)), *rht = malloc(ns * sizeof(double));
    ref_kda_args ra = ref_args_of(c, &h);
    ref_kda(&ra, h.q, h.k, h.v, h.g, h.beta, h.h0, ro, rht);
    double tol = c->dtype == LK_F16 ? TOL_F16 : TOL_F32;
    expect_rms("o", o, ro, no, tol);
    expect_rms("final state", ht, rht, ns, tol);
    expect_last_kernel(ctx, c, &d, &p, "SMMA=1", 3, "kda_state_mma");
    if (fuses_output(ctx, c))
        expect_last_kernel(ctx, c, &d, &p, "FUSEOUT=1", 7, "kda_state_mma");
    expect_last_kernel(ctx, c, &d, &p, "CMMA=1", 1, "kda_chunk_mma");

    free(o); free(ht); free(ro); free(rht);
    free_host(&h);
    free_dev(&d);
    lk_context_destroy(ctx);
}

/* Tokens t0 .. t0+len of a [B, T, ...] tensor. */
static lk_tensor token_range(const lk_tensor *t, int64_t t0, int64_t len)
{
    lk_tensor r = *t;
    r.offset += t0 * t->strides[1];
    r.shape[1] = len;
    return r;
}

/* Token tok of a [B, T, X(, Y)] tensor as [B, X(, Y)]. */
static lk_tensor token_at(const lk_tensor *t, int64_t tok)
{
    lk_tensor r = *t;
    r.offset += tok * t->strides[1];
    r.ndim = t->ndim - 1;
    r.shape[0] = t->shape[0];
    r.strides[0] = t->strides[0];
    for (int i = 1; i < r.ndim; i++) {
        r.shape[i] = t->shape[i + 1];
        r.strides[i] = t->strides[i + 1];
    }
    return r;
}

static void read_floats(lk_context *ctx, const lkt_tensor *t, float **out)
{
    *out = alloc_floats(t->count);
    lkt_download(ctx, t, *out);
}

/* Two calls of T/2 carrying the state (the second one in place) equal one call of T. */
LKT_EACH_BACKEND(be, kda, split_equals_whole)
{
    lk_context *ctx = lkt_open(*be);
    kda_case c = {2, 100, 1, 2, 32, 40, LK_F32, 1, 0, 1, 0, LKT_BSHD, "CHUNK=32,SUB=8,BV=16,WG=32", *be};
    kda_host h = make_host(&c, c.B, 11);
    kda_dev d = make_dev(ctx, &c, &h, c.B);
    lk_kda_params p = params_of(&c, &d);
    force_params(ctx, &c);
    fwd_or_skip(ctx, &d, &d.h0.t, &p);
    float *o_whole, *ht_whole;
    read_floats(ctx, &d.o, &o_whole);
    read_floats(ctx, &d.ht, &ht_whole);

    for (int half = 0; half < 2; half++) { /* first: h0 -> ht; second: ht -> ht in place */
        int64_t t0 = half * c.T / 2, len = c.T / 2;
        lk_tensor q = token_range(&d.q.t, t0, len), k = token_range(&d.k.t, t0, len);
        lk_tensor v = token_range(&d.v.t, t0, len), g = token_range(&d.g.t, t0, len);
        lk_tensor b = token_range(&d.beta.t, t0, len), o = token_range(&d.o.t, t0, len);
        LKT_OK(ctx, lk_kda_fwd(ctx, &q, &k, &v, &g, &b, half ? &d.ht.t : &d.h0.t, &o, &d.ht.t, &p));
    }
    float *o_split, *ht_split;
    read_floats(ctx, &d.o, &o_split);
    read_floats(ctx, &d.ht, &ht_split);
    double *ref = malloc(sizeof(double) * d.o.count);
    for (size_t i = 0; i < d.o.count; i++)
        ref[i] = o_whole[i];
    expect_rms("o (split vs whole)", o_split, ref, d.o.count, TOL_F32);
    free(ref);
    ref = malloc(sizeof(double) * d.ht.count);
    for (size_t i = 0; i < d.ht.count; i++)
        ref[i] = ht_whole[i];
    expect_rms("final state (split vs whole)", ht_split, ref, d.ht.count, TOL_F32);

    free(ref); free(o_whole); free(ht_whole); free(o_split); free(ht_split);
    free_host(&h);
    free_dev(&d);
    lk_context_destroy(ctx);
}

/* lk_kda_decode_step token after token (f16, gate from a_log, GVA) equals the recurrence. */
LKT_EACH_BACKEND(be, kda, decode_steps_match_recurrence)
{
    lk_context *ctx = lkt_open(*be);
    kda_case c = {2, 5, 2, 4, 32, 24, LK_F16, 1, 1, 1, 0, LKT_CONTIGUOUS, "", *be};
    kda_host h = make_host(&c, c.B, 12);
    kda_dev d = make_dev(ctx, &c, &h, c.B);
    lk_kda_params p = params_of(&c, &d);
    for (int64_t t = 0; t < c.T; t++) {
        lk_tensor q = token_at(&d.q.t, t), k = token_at(&d.k.t, t), v = token_at(&d.v.t, t);
        lk_tensor g = token_at(&d.g.t, t), b = token_at(&d.beta.t, t), o = token_at(&d.o.t, t);
        LKT_OK(ctx, lk_kda_decode_step(ctx, &q, &k, &v, &g, &b, &d.h0.t, &o, &p));
    }
    cr_log_info("%s: %s", lkt_backend_name(*be), lk_last_launch(ctx));
    cr_expect(strstr(lk_last_launch(ctx), "CHUNK=1 ") != NULL, "the decode step runs with CHUNK=1: %s",
              lk_last_launch(ctx));
    float *o, *state;
    read_floats(ctx, &d.o, &o);
    read_floats(ctx, &d.h0, &state);
    double *ro = malloc(sizeof(double) * d.o.count), *rs = malloc(sizeof(double) * d.h0.count);
    ref_kda_args ra = ref_args_of(&c, &h);
    ref_kda(&ra, h.q, h.k, h.v, h.g, h.beta, h.h0, ro, rs);
    expect_rms("o", o, ro, d.o.count, TOL_F16);
    expect_rms("state", state, rs, d.h0.count, TOL_F32); /* f32 state: f16 only rounds the inputs */

    free(o); free(state); free(ro); free(rs);
    free_host(&h);
    free_dev(&d);
    lk_context_destroy(ctx);
}

/* Sequences of 15, 1, 0, 65 and 69 tokens packed along T, each with its own initial state. The
 * first two chunks start at rows 0 and 15: one scratch chunk slot each only through the + n of
 * the slot index (cl/kda_common.h). */
LKT_EACH_BACKEND(be, kda, variable_length)
{
    lk_context *ctx = lkt_open(*be);
    static const int32_t cu[] = {0, 15, 16, 16, 81, 150};
    const int64_t N = 5;
    kda_case c = {1, 150, 2, 2, 48, 32, LK_F32, 1, 0, 1, 0, LKT_PADDED, "CHUNK=16,SUB=8,BV=32,WG=64", *be};
    kda_host h = make_host(&c, N, 13);
    kda_dev d = make_dev(ctx, &c, &h, N);
    int64_t cs[1] = {N + 1};
    lkt_tensor tcu = lkt_zeros(ctx, LK_I32, 1, cs);
    LKT_OK(ctx, lk_buffer_write(ctx, tcu.buf, 0, cu, sizeof cu));
    lk_kda_params p = params_of(&c, &d);
    p.cu_seqlens = &tcu.t;
    force_params(ctx, &c);
    fwd_or_skip(ctx, &d, &d.h0.t, &p);
    float *o, *ht;
    read_floats(ctx, &d.o, &o);
    read_floats(ctx, &d.ht, &ht);
    double *ro = malloc(sizeof(double) * d.o.count), *rht = malloc(sizeof(double) * d.ht.count);
    ref_kda_args ra = ref_args_of(&c, &h);
    ra.cu_seqlens = cu;
    ra.N = N;
    ref_kda(&ra, h.q, h.k, h.v, h.g, h.beta, h.h0, ro, rht);
    expect_rms("o", o, ro, d.o.count, TOL_F32);
    expect_rms("final state", ht, rht, d.ht.count, TOL_F32);

    free(o); free(ht); free(ro); free(rht);
    lkt_free(&tcu);
    free_host(&h);
    free_dev(&d);
    lk_context_destroy(ctx);
}

/* Each bad argument returns its status with a message and launches nothing. */
Test(kda, rejects_bad_input)
{
    lk_context *ctx = lkt_open(LKT_OPENCL);
    kda_case c = {1, 20, 2, 2, 16, 16, LK_F32, 1, 1, 1, 0, LKT_CONTIGUOUS, "", LKT_OPENCL};
    kda_host h = make_host(&c, c.B, 14);
    kda_dev d = make_dev(ctx, &c, &h, c.B);
    int64_t bad_cu_shape[1] = {3};
    lkt_tensor cu = lkt_zeros(ctx, LK_I32, 1, bad_cu_shape);
    const int32_t decreasing[] = {0, 12, 9}, short_end[] = {0, 5, 19};
    enum { NCASES = 14 };
    for (int i = 0; i < NCASES; i++) {
        lk_kda_params p = params_of(&c, &d), *pp = &p;
        lk_tensor q = d.q.t, k = d.k.t, v = d.v.t, g = d.g.t, b = d.beta.t, o = d.o.t, h0 = d.h0.t, ht = d.ht.t;
        lk_tensor *h0p = &h0, *htp = &ht;
        lk_status want = LK_ERR_SHAPE;
        const char *what = "";
        switch (i) {
        case 0: pp = NULL, want = LK_ERR_NULL_POINTER, what = "params NULL"; break;
        case 1: q.shape[2] = k.shape[2] = 3, q.strides[2] = k.strides[2] = 0, what = "HV not a multiple of H"; break;
        case 2: g.dtype = LK_F16, want = LK_ERR_DTYPE, what = "g f16"; break;
        case 3: b.shape[2] = 1, what = "beta shape"; break;
        case 4: o = v, want = LK_ERR_ALIAS, what = "o is v"; break;
        case 5: ht.offset = 1, ht.shape[0] = 1, want = LK_ERR_BOUNDS, what = "state past its buffer"; break;
        case 6: ht = h0, ht.strides[3] = 2, ht.shape[3] = 8, ht.shape[2] = 8, what = "state shape"; break;
        case 7: p.a_log = NULL, want = LK_ERR_INVALID_ARGUMENT, what = "dt_bias without a_log"; break;
        case 8: p.scale = -1.0, want = LK_ERR_INVALID_ARGUMENT, what = "negative scale"; break;
        case 9: p.cu_seqlens = &cu.t, want = LK_ERR_INVALID_ARGUMENT, what = "cu_seqlens decreasing";
            LKT_OK(ctx, lk_buffer_write(ctx, cu.buf, 0, decreasing, sizeof decreasing)); break;
        case 10: p.cu_seqlens = &cu.t, want = LK_ERR_INVALID_ARGUMENT, what = "cu_seqlens not ending at T";
            LKT_OK(ctx, lk_buffer_write(ctx, cu.buf, 0, short_end, sizeof short_end)); break;
        case 11: p.cu_seqlens = &cu.t, h0p = NULL, htp = NULL, b.shape[0] = 2, what = "cu_seqlens with B > 1";
            q.shape[0] = k.shape[0] = v.shape[0] = g.shape[0] = o.shape[0] = 2;
            q.strides[0] = k.strides[0] = v.strides[0] = g.strides[0] = o.strides[0] = b.strides[0] = 0; break;
        case 12: want = LK_ERR_INVALID_ARGUMENT, what = "tuned parameters out of range";
            LKT_OK(ctx, lk_tuning_override(ctx, "kda_fwd", c.dtype, (int)c.K, 0, 0, "BV=16,WG=24")); break;
        case 13: want = LK_ERR_UNSUPPORTED, what = "K > 256"; q.shape[3] = k.shape[3] = g.shape[3] = 300;
            q.strides[0] = k.strides[0] = g.strides[0] = q.strides[1] = k.strides[1] = g.strides[1] = 0;
            q.strides[2] = k.strides[2] = g.strides[2] = 0; break;
        }
        lk_status st = lk_kda_fwd(ctx, &q, &k, &v, &g, &b, h0p, &o, htp, pp);
        cr_expect_eq(st, want, "%s: got %s (%s), want %s", what, lk_status_str(st), lk_last_error(ctx),
                     lk_status_str(want));
        cr_expect(strlen(lk_last_error(ctx)) > 0, "%s: no message", what);
        cr_expect_str_empty(lk_last_launch(ctx), "%s: launched %s", what, lk_last_launch(ctx));
        cr_log_info("%s -> %s: %s", what, lk_status_str(st), lk_last_error(ctx));
        LKT_OK(ctx, lk_tuning_clear_overrides(ctx));
    }
    /* decode: cu_seqlens is not allowed */
    lk_kda_params p = params_of(&c, &d);
    p.cu_seqlens = &cu.t;
    lk_tensor q = token_at(&d.q.t, 0), k = token_at(&d.k.t, 0), v = token_at(&d.v.t, 0);
    lk_tensor g = token_at(&d.g.t, 0), b = token_at(&d.beta.t, 0), o = token_at(&d.o.t, 0);
    cr_expect_eq(lk_kda_decode_step(ctx, &q, &k, &v, &g, &b, &d.h0.t, &o, &p), LK_ERR_INVALID_ARGUMENT);
    p.cu_seqlens = NULL;
    cr_expect_eq(lk_kda_decode_step(ctx, &d.q.t, &k, &v, &g, &b, &d.h0.t, &o, &p), LK_ERR_SHAPE,
                 "a 4-D q for the decode step");

    lkt_free(&cu);
    free_host(&h);
    free_dev(&d);
    lk_context_destroy(ctx);
}

/* The scratch size (docs/kda.md): 4 HV (B T C + NCH K) + e HV (B T (3K + V) + NCH K V) bytes with
 * NCH = ceil(B T / C) + N; a size past 2^63 is SIZE_MAX (it once wrapped to 256 KB, and the
 * kernels read past the buffer), not a small number. */
Test(kda, scratch_size_is_exact_or_refused)
{
    int64_t nch = 0;
    const int64_t B = 2, T = 65536, HV = 16, K = 128, V = 96, N = 2, C = 64, want_nch = (B * T + C - 1) / C + N;
    size_t got = lk_kda_scratch_bytes(B, T, HV, K, V, N, (int)C, 1, &nch);
    size_t want = 4 * (size_t)(HV * (B * T * C + want_nch * K)) + 2 * (size_t)(HV * (B * T * (3 * K + V) + want_nch * K * V));
    cr_expect_eq(nch, want_nch);
    cr_expect_eq(got, want, "scratch %zu bytes, want %zu", got, want);
    cr_expect_eq(lk_kda_scratch_bytes(32767, 296213680, 2048, 64, 2, 32767, 64, 0, &nch), SIZE_MAX,
                 "a scratch past 2^64 bytes was not refused");
}

