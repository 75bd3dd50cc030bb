/* Buffers: device memory owned by the library or wrapped from the caller. */
#include <stdlib.h>

#include "internal.h"

static lk_buffer *new_buffer(lk_context *ctx, void *handle, size_t bytes, int owned)
{
    static uint64_t serials;
    lk_buffer *b = calloc(1, sizeof *b);
    if (b) {
        b->ctx = ctx;
        b->handle = handle;
        b->bytes = bytes;
        b->owned = owned;
        b->serial = __atomic_add_fetch(&serials, 1, __ATOMIC_RELAXED);
    }
    return b;
}

lk_status lk_buffer_alloc(lk_context *ctx, size_t bytes, lk_buffer **out)
{
    if (!ctx || !out)
        return lk_fail(ctx, LK_ERR_NULL_POINTER, "lk_buffer_alloc: ctx and out must not be NULL");
    *out = NULL;
    if (bytes == 0)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, "lk_buffer_alloc: zero bytes");
    void *h = NULL;
    lk_status st = ctx->ops->buffer_alloc(ctx, bytes, &h);
    if (st != LK_OK)
        return st;
    *out = new_buffer(ctx, h, bytes, 1);
    if (!*out) {
        ctx->ops->buffer_free(ctx, h);
        return lk_fail(ctx, LK_ERR_OUT_OF_MEMORY, "lk_buffer_alloc: host allocation failed");
    }
    lk_clear_error(ctx);
    return LK_OK;
}

lk_status lk_buffer_wrap(lk_context *ctx, void *handle, size_t bytes, lk_buffer **out)
{
    if (!ctx || !out || !handle)
        return lk_fail(ctx, LK_ERR_NULL_POINTER, "lk_buffer_wrap: ctx, handle and out must not be NULL");
    *out = new_buffer(ctx, handle, bytes, 0);
    return *out ? LK_OK : lk_fail(ctx, LK_ERR_OUT_OF_MEMORY, "lk_buffer_wrap: host allocation failed");
}

void lk_buffer_free(lk_buffer *buf)
{
    if (!buf)
        return;
    if (buf->owned)
        buf->ctx->ops->buffer_free(buf->ctx, buf->handle);
    free(buf);
}

size_t lk_buffer_size(const lk_buffer *buf)
{
    return buf ? buf->bytes : 0;
}

static lk_status check_range(lk_context *ctx, const char *what, const lk_buffer *b, size_t off,
                             size_t bytes, const void *host)
{
    if (!ctx || !b || (!host && bytes))
        return lk_fail(ctx, LK_ERR_NULL_POINTER, "%s: NULL context, buffer or host pointer", what);
    if (b->ctx != ctx)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, "%s: buffer belongs to another context", what);
    if (off > b->bytes || bytes > b->bytes - off)
        return lk_fail(ctx, LK_ERR_BOUNDS, "%s: range [%zu, %zu) outside a buffer of %zu bytes", what,
                       off, off + bytes, b->bytes);
    return LK_OK;
}

lk_status lk_buffer_write(lk_context *ctx, lk_buffer *dst, size_t offset, const void *src, size_t bytes)
{
    lk_status st = check_range(ctx, "lk_buffer_write", dst, offset, bytes, src);
    if (st != LK_OK || bytes == 0)
        return st;
    return ctx->ops->buffer_write(ctx, dst->handle, offset, src, bytes);
}

lk_status lk_buffer_read(lk_context *ctx, const lk_buffer *src, size_t offset, void *dst, size_t bytes)
{
    lk_status st = check_range(ctx, "lk_buffer_read", src, offset, bytes, dst);
    if (st != LK_OK || bytes == 0)
        return st;
    return ctx->ops->buffer_read(ctx, src->handle, offset, dst, bytes);
}

lk_status lk_buffer_copy(lk_context *ctx, lk_buffer *dst, size_t dst_offset, const lk_buffer *src,
                         size_t src_offset, size_t bytes)
{
    lk_status st = check_range(ctx, "lk_buffer_copy", dst, dst_offset, bytes, dst);
    if (st == LK_OK)
        st = check_range(ctx, "lk_buffer_copy", src, src_offset, bytes, src);
    if (st != LK_OK || bytes == 0)
        return st;
    if (dst == src && dst_offset < src_offset + bytes && src_offset < dst_offset + bytes)
        return lk_fail(ctx, LK_ERR_ALIAS, "lk_buffer_copy: the ranges overlap in one buffer");
    return ctx->ops->buffer_copy(ctx, dst->handle, dst_offset, src->handle, src_offset, bytes);
}
