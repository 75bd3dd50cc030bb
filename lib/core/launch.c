/* Kernel argument lists and op launches (see launch.h). */
#include <string.h>

#include "launch.h"
#include "program.h"

static lk_kernel_arg *next(lk_args *args)
{
    /* The fixed size is an internal limit: every kernel's argument count is known here. */
    return &args->a[args->n < LK_MAX_ARGS - 1 ? args->n++ : args->n];
}

void lk_args_buffer(lk_args *args, const lk_buffer *buf)
{
    *next(args) = (lk_kernel_arg){LK_ARG_BUFFER, buf, NULL, 0};
}

#define SCALAR(field, v)                                                                            \
    do {                                                                                            \
        int i_ = args->n;                                                                           \
        lk_kernel_arg *a_ = next(args);                                                             \
        args->val[i_].field = (v);                                                                  \
        *a_ = (lk_kernel_arg){LK_ARG_SCALAR, NULL, &args->val[i_].field, sizeof args->val[i_].field}; \
    } while (0)

void lk_args_long(lk_args *args, int64_t v) { SCALAR(l, v); }
void lk_args_int(lk_args *args, int32_t v) { SCALAR(i, v); }
void lk_args_float(lk_args *args, float v) { SCALAR(f, v); }

void lk_args_tensor(lk_args *args, const lk_tensor *t, int ndim)
{
    lk_args_buffer(args, t ? t->buffer : NULL);
    lk_args_long(args, t ? t->offset : 0);
    for (int i = 0; i < ndim; i++)
        lk_args_long(args, t && i < t->ndim ? t->strides[i] : 0);
}

lk_status lk_launch(lk_context *ctx, const char *program, const lk_params *defines, const char *kernel,
                    size_t groups0, size_t groups1, size_t local, lk_args *args)
{
    void *prog = NULL;
    lk_status st = lk_program_get(ctx, program, defines, &prog);
    if (st != LK_OK)
        return st;
    size_t global[3] = {groups0 * local, groups1 ? groups1 : 1, 1};
    size_t loc[3] = {local, 1, 1};
    st = ctx->ops->launch(ctx, prog, kernel, 2, global, loc, args->dyn_local, args->n, args->a);
    if (st == LK_OK) {
        int n = snprintf(ctx->last_launch, sizeof ctx->last_launch, "%s ", kernel);
        lk_params_format(defines, "", " ", ctx->last_launch + n, sizeof ctx->last_launch - (size_t)n);
    }
    return st;
}
