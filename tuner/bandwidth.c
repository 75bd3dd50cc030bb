/* Copy bandwidth (see bandwidth.h). */
#include "bandwidth.h"
#include "timing.h"

typedef struct copy_call {
    lk_buffer *dst, *src;
    size_t bytes;
} copy_call;

static lk_status copy_run(lk_context *ctx, void *arg)
{
    copy_call *c = arg;
    return lk_buffer_copy(ctx, c->dst, 0, c->src, 0, c->bytes);
}

lk_status bench_copy_bandwidth(lk_context *ctx, size_t bytes, double *gbps)
{
    if (!bytes)
        bytes = lk_context_device(ctx)->type == LK_DEVICE_CPU ? (size_t)64 << 20 : (size_t)256 << 20;
    copy_call c = {NULL, NULL, bytes};
    timing tm = {0};
    lk_status st = lk_buffer_alloc(ctx, bytes, &c.src);
    if (st == LK_OK)
        st = lk_buffer_alloc(ctx, bytes, &c.dst);
    if (st == LK_OK)
        st = time_op(ctx, copy_run, &c, 0.0, &tm);
    lk_buffer_free(c.src);
    lk_buffer_free(c.dst);
    *gbps = st == LK_OK && tm.median_ms > 0.0 ? 2.0 * (double)bytes / (tm.median_ms * 1e6) : 0.0;
    return st;
}
