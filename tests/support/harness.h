/* Shared test harness: one context per backend (or a printed skip), seeded random inputs,
 * host fp16 rounding, device tensors in awkward layouts, and the comparison every op test
 * uses (worst element, its index and the relative error printed on failure).
 *
 * Relative error = max_i |got_i - ref_i| / max_i |ref_i| over a whole output tensor. */
#ifndef LK_TEST_HARNESS_H
#define LK_TEST_HARNESS_H

#include <stdint.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h> /* after criterion.h: the other order breaks Test() */

#include "longkern.h"

/* Tolerances of the op tests (relative error as above, against the fp64 reference run on the
 * same rounded inputs). fp16 outputs carry a half rounding (2^-11) plus fp32 accumulation. */
#define LKT_TOL_F32 1e-5
#define LKT_TOL_F16 2e-3

/* The backends every op test runs on. A context is opened per test; OpenCL uses
 * LK_TEST_OPENCL (a device spec such as opencl:0:0) or the default OpenCL device. */
typedef enum { LKT_OPENCL = 0, LKT_CUDA = 1, LKT_BACKENDS = 2 } lkt_backend;
const char *lkt_backend_name(lkt_backend b);
/* A test run once per backend, the backend in *var:
 *   LKT_EACH_BACKEND(b, suite, name) { lk_context *ctx = lkt_open(*b); ... } */
#define LKT_EACH_BACKEND(var, suite, name)                                                                         \
    ParameterizedTestParameters(suite, name)                                                                       \
    {                                                                                                              \
        static lkt_backend backends[] = {LKT_OPENCL, LKT_CUDA};                                                    \
        return cr_make_param_array(lkt_backend, backends, LKT_BACKENDS);                                           \
    }                                                                                                              \
    ParameterizedTest(lkt_backend *var, suite, name)
/* Opens the backend's context or skips the test, printing why (no GPU, no driver, ...). */
lk_context *lkt_open(lkt_backend b);
/* Skips the running test, saying why, unless ctx's device runs the tensor-core kernels (an
 * NVIDIA GPU of compute capability 8+, cl/mma_nv.h). */
void lkt_require_tensor_cores(lk_context *ctx);

/* Seed: LK_TEST_SEED or a fixed default; printed once per test. xorshift64*. */
uint64_t lkt_seed(void);
typedef struct { uint64_t s; } lkt_rng;
lkt_rng lkt_rng_make(uint64_t seed, uint64_t stream);
/* Uniform in [-1, 1] without values near zero (|x| >= 1e-3). */
float lkt_uniform(lkt_rng *r);
void lkt_fill(lkt_rng *r, float *x, size_t n);

typedef enum {
    LKT_CONTIGUOUS = 0, /* [B, H, S, D] row-major */
    LKT_BSHD = 1,       /* stored [B, S, H, D] (HF layout), viewed as [B, H, S, D] */
    LKT_PADDED = 2,     /* rows padded by 24 elements, 40 elements of offset in front */
    LKT_UNALIGNED = 3   /* rows padded by 3 elements, 5 elements of offset: rows are not 16-byte
                           aligned, so kernels take their element-by-element loads */
} lkt_layout;

/* A device tensor of logical shape [B, H, S, D] holding `host` (logical order). For F16 the
 * host values are rounded to half in place (ref_f2h), so a reference sees what the device sees. */
typedef struct {
    lk_tensor t;
    lk_buffer *buf;
    size_t count;
} lkt_tensor;
lkt_tensor lkt_upload(lk_context *ctx, lk_dtype dtype, lkt_layout layout, const int64_t shape[4], float *host);
/* A device tensor of any rank (contiguous) with zeros. */
lkt_tensor lkt_zeros(lk_context *ctx, lk_dtype dtype, int ndim, const int64_t *shape);
/* Reads t back in logical order as floats. */
void lkt_download(lk_context *ctx, const lkt_tensor *t, float *host);
void lkt_free(lkt_tensor *t);

/* Relative error (above) of got against ref; the worst element through *worst. */
double lkt_rel_error(const float *got, const double *ref, size_t n, size_t *worst);
/* Asserts lkt_rel_error <= tol, printing label, worst index, values and the seed. */
void lkt_expect_close(const char *label, const float *got, const double *ref, size_t n, double tol);

#define LKT_OK(ctx, call)                                                                                       \
    do {                                                                                                        \
        lk_status st_ = (call);                                                                                 \
        cr_assert_eq(st_, LK_OK, "%s -> %s: %s", #call, lk_status_str(st_), lk_last_error(ctx));             \
    } while (0)

#endif
