/* Tensor descriptors: construction, dtype facts, and the checks every op runs first. */
#include <string.h>

#include "tensor.h"

size_t lk_dtype_size(lk_dtype dtype)
{
    switch (dtype) {
    case LK_F16: return 2;
    case LK_F32: case LK_I32: case LK_U32: return 4;
    }
    return 0;
}

const char *lk_dtype_name(lk_dtype dtype)
{
    switch (dtype) {
    case LK_F32: return "f32";
    case LK_F16: return "f16";
    case LK_I32: return "i32";
    case LK_U32: return "u32";
    }
    return "unknown";
}

lk_tensor lk_tensor_make(lk_buffer *buf, lk_dtype dtype, int ndim, const int64_t *shape)
{
    lk_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = dtype;
    t.buffer = buf;
    t.ndim = ndim; /* outside 0..LK_MAX_DIMS: no shape, and lk_check_tensor rejects it */
    int64_t stride = 1;
    for (int i = (ndim >= 0 && ndim <= LK_MAX_DIMS ? ndim : 0) - 1; i >= 0; i--) {
        t.shape[i] = shape[i];
        t.strides[i] = stride;
        if (__builtin_mul_overflow(stride, shape[i], &stride)) /* saturated: its span fails the check */
            stride = INT64_MAX;
    }
    return t;
}

lk_tensor lk_tensor_bhsd(lk_buffer *buf, lk_dtype dtype, int64_t b, int64_t h, int64_t s, int64_t d)
{
    int64_t shape[4] = {b, h, s, d};
    return lk_tensor_make(buf, dtype, 4, shape);
}

/* Element span [first, last] addressed by t (extents, strides and offset non-negative here): 0,
 * or -1 when it passes INT64_MAX. */
static int span(const lk_tensor *t, int64_t *first, int64_t *last)
{
    int64_t hi = t->offset, step;
    if (t->ndim < 0 || t->ndim > LK_MAX_DIMS)
        return -1;
    for (int i = 0; i < t->ndim; i++)
        if (__builtin_mul_overflow(t->shape[i] - 1, t->strides[i], &step) || __builtin_add_overflow(hi, step, &hi))
            return -1;
    *first = t->offset;
    *last = hi;
    return 0;
}

lk_status lk_check_tensor(lk_context *ctx, const char *op, const char *arg, const lk_tensor *t, int ndim)
{
    if (!t)
        return lk_fail(ctx, LK_ERR_NULL_POINTER, "%s: %s is NULL", op, arg);
    if (!t->buffer)
        return lk_fail(ctx, LK_ERR_NULL_POINTER, "%s: %s has no buffer", op, arg);
    if (t->buffer->ctx != ctx)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, "%s: %s's buffer belongs to another context", op, arg);
    if (lk_dtype_size(t->dtype) == 0)
        return lk_fail(ctx, LK_ERR_DTYPE, "%s: %s has an unknown dtype %d", op, arg, (int)t->dtype);
    if (t->ndim != ndim)
        return lk_fail(ctx, LK_ERR_SHAPE, "%s: %s must have %d dimensions, has %d", op, arg, ndim, t->ndim);
    int64_t elements = 1;
    for (int i = 0; i < ndim; i++) {
        if (t->shape[i] <= 0)
            return lk_fail(ctx, LK_ERR_SHAPE, "%s: %s has extent %lld in dimension %d", op, arg,
                           (long long)t->shape[i], i);
        if (t->strides[i] < 0)
            return lk_fail(ctx, LK_ERR_SHAPE, "%s: %s has a negative stride in dimension %d", op, arg, i);
        if (__builtin_mul_overflow(elements, t->shape[i], &elements) || elements > LK_MAX_ELEMENTS)
            return lk_fail(ctx, LK_ERR_SHAPE, "%s: %s has more than 2^62 elements", op, arg);
    }
    if (t->offset < 0)
        return lk_fail(ctx, LK_ERR_SHAPE, "%s: %s has a negative offset", op, arg);
    int64_t first, last;
    size_t need;
    if (span(t, &first, &last) != 0 || __builtin_mul_overflow((size_t)last + 1, lk_dtype_size(t->dtype), &need))
        return lk_fail(ctx, LK_ERR_BOUNDS, "%s: %s addresses past 2^63 elements (offset, strides)", op, arg);
    if (need > t->buffer->bytes)
        return lk_fail(ctx, LK_ERR_BOUNDS, "%s: %s addresses %zu bytes but its buffer has %zu", op, arg,
                       need, t->buffer->bytes);
    return LK_OK;
}

lk_status lk_check_dtype(lk_context *ctx, const char *op, const char *arg, const lk_tensor *t,
                         int n, const lk_dtype *allowed)
{
    for (int i = 0; i < n; i++)
        if (t->dtype == allowed[i])
            return LK_OK;
    return lk_fail(ctx, LK_ERR_DTYPE, "%s: %s has dtype %s, which this op does not take", op, arg,
                   lk_dtype_name(t->dtype));
}

lk_status lk_check_distinct(lk_context *ctx, const char *op, const char *arg, const lk_tensor *t)
{
    int64_t stride[LK_MAX_DIMS], extent[LK_MAX_DIMS];
    int n = 0;
    for (int i = 0; i < t->ndim; i++) { /* insertion by stride */
        if (t->shape[i] == 1)
            continue;
        int j = n++;
        for (; j > 0 && stride[j - 1] > t->strides[i]; j--) {
            stride[j] = stride[j - 1];
            extent[j] = extent[j - 1];
        }
        stride[j] = t->strides[i];
        extent[j] = t->shape[i];
    }
    int64_t reach = 0; /* the last element offset the dimensions so far address (spans fit int64: checked) */
    for (int i = 0; i < n; i++) {
        if (stride[i] <= reach)
            return lk_fail(ctx, LK_ERR_ALIAS, "%s: %s addresses some elements more than once (stride %lld)", op, arg,
                           (long long)stride[i]);
        reach += (extent[i] - 1) * stride[i];
    }
    return LK_OK;
}

lk_status lk_check_output(lk_context *ctx, const char *op, const char *arg, const lk_tensor *t, int ndim)
{
    lk_status st = lk_check_tensor(ctx, op, arg, t, ndim);
    return st != LK_OK ? st : lk_check_distinct(ctx, op, arg, t);
}

int lk_tensors_overlap(const lk_tensor *a, const lk_tensor *b)
{
    if (!a || !b || a->buffer != b->buffer)
        return 0;
    int64_t a0, a1, b0, b1;
    if (span(a, &a0, &a1) != 0 || span(b, &b0, &b1) != 0) /* not a checked tensor: assume the worst */
        return 1;
    size_t ea = lk_dtype_size(a->dtype), eb = lk_dtype_size(b->dtype);
    int64_t abeg = a0 * (int64_t)ea, aend = (a1 + 1) * (int64_t)ea;
    int64_t bbeg = b0 * (int64_t)eb, bend = (b1 + 1) * (int64_t)eb;
    return abeg < bend && bbeg < aend;
}

int lk_tensors_identical(const lk_tensor *a, const lk_tensor *b)
{
    if (a->buffer != b->buffer || a->offset != b->offset || a->ndim != b->ndim || a->dtype != b->dtype)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i] || a->strides[i] != b->strides[i])
            return 0;
    return 1;
}

int lk_tensor_rows_vec(const lk_tensor *t)
{
    int64_t per = t->dtype == LK_F16 ? 8 : 4;
    if (t->strides[t->ndim - 1] != 1 || t->offset % per)
        return 0;
    for (int i = 0; i < t->ndim - 1; i++)
        if (t->strides[i] % per)
            return 0;
    return 1;
}
