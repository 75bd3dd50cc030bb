/* Tensor checks shared by every op: each returns LK_OK or records an error naming the op and
 * the argument. Nothing is launched after a failed check. */
#ifndef LK_TENSOR_H
#define LK_TENSOR_H

#include "internal.h"

/* Most elements a tensor may have: products and offsets of in-range tensors then fit int64. */
#define LK_MAX_ELEMENTS ((int64_t)1 << 62)

/* t is not NULL, has a buffer of ctx, ndim dims with positive extents (at most LK_MAX_ELEMENTS
 * elements), non-negative strides, and every element it addresses lies inside the buffer (the
 * address arithmetic checked for overflow). */
lk_status lk_check_tensor(lk_context *ctx, const char *op, const char *arg, const lk_tensor *t, int ndim);
/* Same dtype as listed (one of n). */
lk_status lk_check_dtype(lk_context *ctx, const char *op, const char *arg, const lk_tensor *t,
                         int n, const lk_dtype *allowed);
/* For an output (after lk_check_tensor): no two of its elements share memory (a zero stride on
 * a dimension of extent > 1, or strides that interleave, would make the kernels race): with
 * its dimensions of extent > 1 sorted by stride, each stride passes the span of the ones below
 * (the nested layouts; an exotic interleaving that happens not to collide is refused too).
 * LK_ERR_ALIAS otherwise. */
lk_status lk_check_distinct(lk_context *ctx, const char *op, const char *arg, const lk_tensor *t);
/* An output: lk_check_tensor, then lk_check_distinct. */
lk_status lk_check_output(lk_context *ctx, const char *op, const char *arg, const lk_tensor *t, int ndim);
/* 1 if the byte ranges that a and b span in the same buffer intersect. */
int lk_tensors_overlap(const lk_tensor *a, const lk_tensor *b);
/* 1 if t's rows can be read as 16-byte chunks: unit last stride, offset and other strides
 * multiples of 16 bytes (8 f16 or 4 f32 elements; buffers themselves are 16-byte aligned). */
int lk_tensor_rows_vec(const lk_tensor *t);
/* 1 if a and b describe exactly the same elements (same buffer, offset, shape, strides). */
int lk_tensors_identical(const lk_tensor *a, const lk_tensor *b);

#endif
