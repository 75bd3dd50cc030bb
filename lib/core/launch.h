/* Building kernel argument lists and launching a program's kernel on behalf of an op. */
#ifndef LK_LAUNCH_H
#define LK_LAUNCH_H

#include "internal.h"
#include "params.h"


/* Arguments in kernel order. Scalars are stored inside the struct, so build it in place and do
 * not copy it between adding arguments and launching. */
typedef struct lk_args {
    int n;
    size_t dyn_local; /* bytes of the kernel's LK_DYN_SHARED array (backend.h's launch), 0 if none */
    lk_kernel_arg a[LK_MAX_ARGS];
    union { int64_t l; int32_t i; float f; } val[LK_MAX_ARGS];
} lk_args;

void lk_args_buffer(lk_args *args, const lk_buffer *buf); /* NULL → null pointer */
void lk_args_long(lk_args *args, int64_t v);
void lk_args_int(lk_args *args, int32_t v);
void lk_args_float(lk_args *args, float v);
/* buffer, offset, then the ndim strides (all longs). t NULL → null pointer, zeros. */
void lk_args_tensor(lk_args *args, const lk_tensor *t, int ndim);

/* Build (cached) cl/<program>.cl with `defines`, launch `kernel` over a 1- or 2-D grid of
 * work-groups (global = groups * local), and note the launch in ctx->last_launch. */
lk_status lk_launch(lk_context *ctx, const char *program, const lk_params *defines, const char *kernel,
                    size_t groups0, size_t groups1, size_t local, lk_args *args);

#endif
