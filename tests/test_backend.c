/* The backend layer on every compiled backend: buffers, copies, the program cache on disk,
 * device timing, and device listing. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "longkern_cuda.h"
#include "internal.h"
#include "program.h"
#include "ref.h"

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

LKT_EACH_BACKEND(b, backend_layer, buffers_and_timing)
{
    char cache[] = "/tmp/lk-cache-XXXXXX";
    cr_assert_not_null(mkdtemp(cache));
    setenv("LK_CACHE_DIR", cache, 1);
    lk_context *ctx = lkt_open(*b);
    const lk_device_info *dev = lk_context_device(ctx);
    cr_expect(strlen(dev->fingerprint) > 0 && strlen(dev->name) > 0);

    enum { N = 1000 };
    int32_t src[N], dst[N];
    for (int i = 0; i < N; i++)
        src[i] = i * 7 - 300;
    lk_buffer *a, *c;
    LKT_OK(ctx, lk_buffer_alloc(ctx, sizeof src, &a));
    LKT_OK(ctx, lk_buffer_alloc(ctx, sizeof src, &c));
    LKT_OK(ctx, lk_buffer_write(ctx, a, 0, src, sizeof src));
    LKT_OK(ctx, lk_buffer_copy(ctx, c, 4, a, 0, sizeof src - 4));
    LKT_OK(ctx, lk_buffer_read(ctx, c, 4, dst, sizeof src - 4));
    cr_expect_arr_eq(dst, src, sizeof src - 4, "copy at an offset lost data");

    /* an op builds a program, which lands in the disk cache; a second context reuses it */
    int64_t shape[4] = {1, 1, 4, 64};
    float x[256];
    lkt_rng rng = lkt_rng_make(lkt_seed(), 1);
    lkt_fill(&rng, x, 256);
    lkt_tensor t = lkt_upload(ctx, LK_F32, LKT_CONTIGUOUS, shape, x);
    lk_rope_params r = lk_rope_params_default();
    LKT_OK(ctx, lk_rope(ctx, &t.t, &t.t, &r));
    LKT_OK(ctx, lk_sync(ctx));
    int cached = count_files(cache);
    cr_expect_geq(cached, 1, "no program binary written to %s", cache);

    double ms = -1;
    LKT_OK(ctx, ctx->ops->timing_begin(ctx));
    LKT_OK(ctx, lk_rope(ctx, &t.t, &t.t, &r));
    LKT_OK(ctx, ctx->ops->timing_end(ctx, &ms));
    cr_expect(ms > 0.0 && ms < 10000.0, "device timing %g ms", ms);

    lkt_free(&t);
    lk_buffer_free(a);
    lk_buffer_free(c);
    lk_context_destroy(ctx);
    cr_expect_eq(count_files(cache), cached, "the cache changed without new programs");
}

Test(backend_layer, list_devices)
{
    lk_device_info devs[16];
    int n = -1;
    cr_assert_eq(lk_list_devices(devs, 16, &n), LK_OK);
    const char *why;
    if (lk_backend_available(LK_BACKEND_OPENCL, &why) == LK_OK)
        cr_expect_geq(n, 1, "OpenCL is available but no device was listed");
    for (int i = 0; i < n && i < 16; i++)
        cr_expect(strchr(devs[i].fingerprint, '|') != NULL, "fingerprint '%s'", devs[i].fingerprint);
}

/* A set of defines that lk_params_set found full (or one too long to format) fails the program
 * build with a message, instead of building the kernel without the dropped define. */
Test(backend_layer, too_many_defines_fail_the_build)
{
    lk_context *ctx = lkt_open(LKT_OPENCL);
    lk_params p = {0};
    char name[16];
    for (int i = 0; i <= LK_MAX_PARAMS; i++) {
        snprintf(name, sizeof name, "D%d", i);
        lk_params_set(&p, name, i);
    }
    cr_expect_eq(p.n, LK_MAX_PARAMS);
    cr_expect(p.dropped, "the define past LK_MAX_PARAMS is marked dropped");
    void *prog = NULL;
    cr_expect_eq(lk_program_get(ctx, "rope", &p, &prog), LK_ERR_BUILD);
    cr_expect(strstr(lk_last_error(ctx), "more defines than fit") != NULL, "%s", lk_last_error(ctx));
    cr_expect_null(prog);
    lk_context_destroy(ctx);
}

/* The per-work-group limit for local memory taken at launch reaches the device info: on CUDA the
 * opt-in limit (CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, 227 KB on sm_90), above the
 * 48 KB of static shared memory from compute capability 7.0 on; on OpenCL the static limit itself.
 * Without an NVIDIA driver only OpenCL devices are listed: the CUDA query needs libcuda. */
Test(backend_layer, local_mem_optin)
{
    lk_device_info devs[16];
    int n = 0;
    cr_assert_eq(lk_list_devices(devs, 16, &n), LK_OK);
    for (int i = 0; i < n && i < 16; i++) {
        const lk_device_info *d = &devs[i];
        cr_log_info("%s: local mem %zu B, opt-in %zu B", d->name, d->local_mem_bytes, d->local_mem_optin_bytes);
        if (d->backend == LK_BACKEND_CUDA && d->cc_major >= 7)
            cr_expect_gt(d->local_mem_optin_bytes, d->local_mem_bytes, "%s: no opt-in shared memory", d->name);
        else
            cr_expect_eq(d->local_mem_optin_bytes, d->local_mem_bytes, "%s", d->name);
    }
}

/* A wrapped CUDA pointer must be 16-byte aligned (the kernels read rows 16 bytes at a time; a view
 * inside an allocation is wrapped at the allocation and given an element offset instead). */
Test(backend_layer, cuda_wrap_refuses_unaligned_pointers)
{
    lk_context *ctx = lkt_open(LKT_CUDA);
    lk_buffer *a, *w = NULL;
    LKT_OK(ctx, lk_buffer_alloc(ctx, 4096, &a));
    unsigned long long p = lk_buffer_cuda_ptr(a);
    cr_assert_neq(p, 0ull);
    LKT_OK(ctx, lk_buffer_wrap_cuda(ctx, p + 16, 1024, &w));
    lk_buffer_free(w);
    w = NULL;
    cr_expect_eq(lk_buffer_wrap_cuda(ctx, p + 2, 1024, &w), LK_ERR_INVALID_ARGUMENT, "an unaligned pointer was wrapped");
    cr_expect_null(w);
    cr_expect(strstr(lk_last_error(ctx), "16-byte aligned") != NULL, "unclear message: %s", lk_last_error(ctx));
    lk_buffer_free(a);
    lk_context_destroy(ctx);
}

/* One kernel launched again and again in one context with other buffers and scalars (the OpenCL
 * backend sets only the arguments that changed since the kernel's last launch): every result
 * matches ref_rope, including after a buffer is freed and a new one allocated in its place. */
LKT_EACH_BACKEND(b, backend_layer, changed_arguments_reach_the_kernel)
{
    lk_context *ctx = lkt_open(*b);
    lkt_rng rng = lkt_rng_make(lkt_seed(), 77);
    int64_t shape[4] = {1, 2, 33, 64};
    size_t n = 2 * 33 * 64;
    float *x = malloc(n * 4), *got = malloc(n * 4);
    double *want = malloc(n * sizeof(double));
    lkt_fill(&rng, x, n);
    lkt_tensor in = lkt_upload(ctx, LK_F32, LKT_CONTIGUOUS, shape, x);
    lkt_tensor outs[3] = {lkt_zeros(ctx, LK_F32, 4, shape), lkt_zeros(ctx, LK_F32, 4, shape)};
    const struct {
        int out;
        int64_t offset;
    } calls[] = {{0, 0}, {1, 0}, {1, 1000}, {0, 1000}, {2, 5}};
    lk_rope_params r = lk_rope_params_default();
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        if (calls[i].out == 2) { /* a fresh buffer, perhaps at a freed one's address */
            lkt_free(&outs[1]);
            outs[2] = lkt_zeros(ctx, LK_F32, 4, shape);
        }
        r.position_offset = calls[i].offset;
        lkt_tensor *out = &outs[calls[i].out];
        LKT_OK(ctx, lk_rope(ctx, &in.t, &out->t, &r));
        lkt_download(ctx, out, got);
        ref_rope(x, want, 1, 2, 33, 64, &r, NULL, calls[i].offset);
        lkt_expect_close("rope", got, want, n, 1e-5);
    }
    lkt_free(&in);
    lkt_free(&outs[0]);
    lkt_free(&outs[2]);
    free(x);
    free(got);
    free(want);
    lk_context_destroy(ctx);
}
