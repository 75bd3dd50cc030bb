/* lk_kda_fwd and lk_kda_decode_step against the fp64 token-by-token recurrence (ref/kda_ref.c)
 * on every compiled backend.
 *
 * Metric (as fla's tests): relative RMS error rms(got - ref) / rms(ref) over a whole output.
 * Tolerances: 1e-5 with f32 inputs, 5e-3 with f16 inputs (the reference sees the same rounded
 * inputs; o is stored as half). The state is f32 in both cases. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kda_ref.h"

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
    char tune[40];       /* kernel parameters forced for this case, or "" (an array: parameters are
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
        LKT_OK(ctx, lk_tuning_override(ctx, "kda_fwd", c->dtype, (int)c->K, (int)c->V, 0, c->tune));
}

/* B T H HV K V dtype l2norm gate h0 strong mem tune */
#define F32 LK_F32
#define F16 LK_F16
#define CASES(X)                                                                                            \
    X(1, 63, 1, 1, 64, 64, F32, 1, 0, 0, 0, LKT_CONTIGUOUS, "CHUNK=16,BV=64,WG=64")   /* partial chunk */ \
    X(1, 63, 1, 1, 64, 64, F16, 1, 0, 1, 0, LKT_CONTIGUOUS, "CHUNK=32,BV=32,WG=128")                     \
    X(2, 100, 2, 4, 32, 48, F32, 0, 0, 1, 0, LKT_BSHD, "CHUNK=64,BV=16,WG=64")        /* GVA */          \
    X(1, 150, 2, 2, 128, 128, F16, 1, 0, 1, 1, LKT_CONTIGUOUS, "")                    /* strong decay */ \
    X(1, 130, 1, 1, 128, 128, F32, 1, 0, 0, 1, LKT_CONTIGUOUS, "CHUNK=64,BV=32,WG=128")                  \
    X(1, 37, 1, 2, 100, 60, F32, 1, 1, 1, 0, LKT_PADDED, "CHUNK=16,BV=32,WG=96")      /* gate, odd dims */ \
    X(1, 1, 2, 2, 16, 8, F32, 1, 0, 1, 0, LKT_CONTIGUOUS, "")                         /* T = 1 */        \
    X(1, 40, 1, 1, 256, 256, F32, 1, 0, 1, 0, LKT_CONTIGUOUS, "CHUNK=16,BV=64,WG=256")

#define ROW(b, t, h, hv, k, v, dt, l2, gate, h0, strong, mem, tune)                                         \
    {b, t, h, hv, k, v, dt, l2, gate, h0, strong, mem, tune, LKT_OPENCL},                                    \
        {b, t, h, hv, k, v, dt, l2, gate, h0, strong, mem, tune, LKT_CUDA},

ParameterizedTestParameters(kda, matches_recurrence)
{
    static kda_case cases[] = {CASES(ROW)};
    return cr_make_param_array(kda_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(kda_case *c, kda, matches_recurrence)
{
    lk_context *ctx = lkt_open(c->backend);
    kda_host h = make_host(c, c->B, (uint64_t)(c->T * 131 + c->K * 7 + c->V + c->dtype));
    kda_dev d = make_dev(ctx, c, &h, c->B);
    lk_kda_params p = params_of(c, &d);
    force_params(ctx, c);
    LKT_OK(ctx, lk_kda_fwd(ctx, &d.q.t, &d.k.t, &d.v.t, &d.g.t, &d.beta.t, c->h0 ? &d.h0.t : NULL, &d.o.t,
                           &d.ht.t, &p));
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

    free(o); free(ht); free(ro); free(rht);
    free_host(&h);
    free_dev(&d);
    lk_context_destroy(ctx);
}
