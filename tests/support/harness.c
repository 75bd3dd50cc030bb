/* Test harness (see harness.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ref.h"

const char *lkt_backend_name(lkt_backend b)
{
    return b == LKT_CUDA ? "cuda" : "opencl";
}

lk_context *lkt_open(lkt_backend b)
{
    lk_device_request req;
    const char *spec = b == LKT_CUDA ? "cuda" : getenv("LK_TEST_OPENCL");
    if (!spec || !*spec)
        spec = "opencl";
    cr_assert_eq(lk_device_request_parse(spec, &req), LK_OK, "bad device spec '%s'", spec);
    lk_backend_kind kind = b == LKT_CUDA ? LK_BACKEND_CUDA : LK_BACKEND_OPENCL;
    const char *why = NULL;
    if (lk_backend_available(kind, &why) != LK_OK)
        cr_skip_test("%s backend not usable here: %s", lkt_backend_name(b), why);
    lk_context *ctx = NULL;
    lk_status st = lk_context_create(&ctx, &req);
    if (st != LK_OK)
        cr_skip_test("%s: no device for '%s': %s", lkt_backend_name(b), spec, lk_last_error(NULL));
    return ctx;
}

void lkt_require_tensor_cores(lk_context *ctx)
{
    const lk_device_info *dev = lk_context_device(ctx);
    if (!(dev->type == LK_DEVICE_GPU && dev->cc_major >= 8))
        cr_skip_test("the tensor-core kernels need an NVIDIA GPU of compute capability 8+ (this device: %s)",
                     dev->name);
}

uint64_t lkt_seed(void)
{
    const char *e = getenv("LK_TEST_SEED");
    uint64_t seed = e && *e ? strtoull(e, NULL, 10) : 20261121ULL;
    return seed;
}

lkt_rng lkt_rng_make(uint64_t seed, uint64_t stream)
{
    lkt_rng r = {seed * 0x9E3779B97F4A7C15ULL + stream * 0xD1B54A32D192ED03ULL + 1};
    return r;
}

static uint64_t next_u64(lkt_rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 2685821657736338717ULL;
}

float lkt_uniform(lkt_rng *r)
{
    for (;;) {
        float x = (float)((double)(next_u64(r) >> 11) * (2.0 / 9007199254740992.0) - 1.0);
        if (fabsf(x) >= 1e-3f)
            return x;
    }
}

void lkt_fill(lkt_rng *r, float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = lkt_uniform(r);
}

/* Element offset of logical (b, h, s, d) in t. */
static int64_t at(const lk_tensor *t, int64_t b, int64_t h, int64_t s, int64_t d)
{
    return t->offset + b * t->strides[0] + h * t->strides[1] + s * t->strides[2] + d * t->strides[3];
}

lkt_tensor lkt_upload(lk_context *ctx, lk_dtype dtype, lkt_layout layout, const int64_t shape[4], float *host)
{
    int64_t B = shape[0], H = shape[1], S = shape[2], D = shape[3];
    lkt_tensor r;
    memset(&r, 0, sizeof r);
    r.count = (size_t)(B * H * S * D);
    lk_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = dtype;
    t.ndim = 4;
    memcpy(t.shape, shape, sizeof t.shape[0] * 4);
    int64_t elems;
    if (layout == LKT_BSHD) {
        int64_t st[4] = {S * H * D, D, H * D, 1};
        memcpy(t.strides, st, sizeof st);
        elems = (int64_t)r.count;
    } else if (layout == LKT_PADDED || layout == LKT_UNALIGNED) {
        int64_t pad = layout == LKT_PADDED ? 24 : 3, front = layout == LKT_PADDED ? 40 : 5;
        int64_t row = D + pad;
        int64_t st[4] = {H * S * row, S * row, row, 1};
        memcpy(t.strides, st, sizeof st);
        t.offset = front;
        elems = front + B * H * S * row;
    } else {
        int64_t st[4] = {H * S * D, S * D, D, 1};
        memcpy(t.strides, st, sizeof st);
        elems = (int64_t)r.count;
    }
    size_t es = lk_dtype_size(dtype), bytes = (size_t)elems * es;
    unsigned char *img = calloc((size_t)elems, es);
    size_t i = 0;
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t s = 0; s < S; s++)
                for (int64_t d = 0; d < D; d++, i++) {
                    int64_t o = at(&t, b, h, s, d);
                    if (dtype == LK_F16) {
                        uint16_t hv = ref_f2h(host[i]);
                        host[i] = ref_h2f(hv);
                        memcpy(img + (size_t)o * 2, &hv, 2);
                    } else {
                        memcpy(img + (size_t)o * 4, &host[i], 4);
                    }
                }
    LKT_OK(ctx, lk_buffer_alloc(ctx, bytes, &r.buf));
    LKT_OK(ctx, lk_buffer_write(ctx, r.buf, 0, img, bytes));
    free(img);
    t.buffer = r.buf;
    r.t = t;
    return r;
}

lkt_tensor lkt_zeros(lk_context *ctx, lk_dtype dtype, int ndim, const int64_t *shape)
{
    lkt_tensor r;
    memset(&r, 0, sizeof r);
    r.count = 1;
    for (int i = 0; i < ndim; i++)
        r.count *= (size_t)shape[i];
    size_t bytes = r.count * lk_dtype_size(dtype);
    LKT_OK(ctx, lk_buffer_alloc(ctx, bytes, &r.buf));
    void *zeros = calloc(r.count, lk_dtype_size(dtype));
    LKT_OK(ctx, lk_buffer_write(ctx, r.buf, 0, zeros, bytes));
    free(zeros);
    r.t = lk_tensor_make(r.buf, dtype, ndim, shape);
    return r;
}

void lkt_download(lk_context *ctx, const lkt_tensor *r, float *host)
{
    const lk_tensor *t = &r->t;
    size_t es = lk_dtype_size(t->dtype), bytes = lk_buffer_size(r->buf);
    unsigned char *img = malloc(bytes);
    LKT_OK(ctx, lk_buffer_read(ctx, r->buf, 0, img, bytes));
    int64_t shape[4] = {1, 1, 1, 1}, strides[4] = {0, 0, 0, 0};
    for (int i = 0; i < t->ndim; i++) {
        shape[4 - t->ndim + i] = t->shape[i];
        strides[4 - t->ndim + i] = t->strides[i];
    }
    size_t i = 0;
    for (int64_t a = 0; a < shape[0]; a++)
        for (int64_t b = 0; b < shape[1]; b++)
            for (int64_t c = 0; c < shape[2]; c++)
                for (int64_t d = 0; d < shape[3]; d++, i++) {
                    size_t o = (size_t)(t->offset + a * strides[0] + b * strides[1] + c * strides[2] + d * strides[3]);
                    if (t->dtype == LK_F16) {
                        uint16_t hv;
                        memcpy(&hv, img + o * es, 2);
                        host[i] = ref_h2f(hv);
                    } else {
                        memcpy(&host[i], img + o * es, 4);
                    }
                }
    free(img);
}

void lkt_free(lkt_tensor *t)
{
    lk_buffer_free(t->buf);
    t->buf = NULL;
}

double lkt_rel_error(const float *got, const double *ref, size_t n, size_t *worst)
{
    double max_ref = 0, max_err = -1;
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - ref[i]);
        if (isnan(got[i]) || isnan(e))
            e = INFINITY;
        if (e > max_err) {
            max_err = e;
            w = i;
        }
        if (fabs(ref[i]) > max_ref)
            max_ref = fabs(ref[i]);
    }
    if (worst)
        *worst = w;
    return max_err / (max_ref > 1e-30 ? max_ref : 1e-30);
}

void lkt_expect_close(const char *label, const float *got, const double *ref, size_t n, double tol)
{
    size_t w = 0;
    double err = lkt_rel_error(got, ref, n, &w);
    cr_expect(err <= tol, "%s: relative error %.3g > %.3g; worst element %zu: got %.9g, ref %.9g (seed %llu)", label,
              err, tol, w, (double)got[w], ref[w], (unsigned long long)lkt_seed());
}
