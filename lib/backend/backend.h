/* The backend interface: a small vtable that each device runtime (OpenCL, CUDA) fills.
 *
 * Core code (context, program cache, ops) talks only to this table. Kernel sources are OpenCL
 * C; the CUDA backend compiles the same text through NVRTC with cl/portable.h mapping the
 * OpenCL names. Launch geometry follows OpenCL: global size in work-items (a multiple of local),
 * local size = work-group (CUDA block). Every entry reports failures through lk_fail(ctx, ...). */
#ifndef LK_BACKEND_H
#define LK_BACKEND_H

#include "longkern.h"

typedef enum lk_arg_kind { LK_ARG_BUFFER = 0, LK_ARG_SCALAR = 1 } lk_arg_kind;

typedef struct lk_kernel_arg {
    lk_arg_kind kind;
    const lk_buffer *buffer; /* LK_ARG_BUFFER; NULL passes a null pointer */
    const void *value;       /* LK_ARG_SCALAR: bytes of an int, long, float, ... */
    size_t size;
} lk_kernel_arg;

/* Most kernel arguments one launch may pass (both backends). */
#define LK_MAX_ARGS 64


/* Limits of a compiled kernel, re-checked after building (the tuner rejects what does not fit). */
typedef struct lk_kernel_limits {
    size_t max_work_group; /* for this kernel */
    size_t local_mem_bytes;/* local/shared memory one work-group uses when launched with dyn_local */
    int registers;         /* per work-item where the runtime says (CUDA), else 0 */
} lk_kernel_limits;

/* Row-major C_i = alpha · op(A_i) · op(B_i) + beta · C_i for i < batch; op(A_i) is m×k, op(B_i)
 * k×n, C_i m×n; X_i starts at element x_off + i * x_stride of its buffer; leading dimensions in
 * elements. F32: fp32 throughout. F16 storage: cuBLAS computes in fp32, clBLAST in fp16. */
typedef struct lk_gemm_desc {
    lk_dtype dtype;
    int trans_a, trans_b;
    int64_t m, n, k, batch;
    float alpha, beta;
    const lk_buffer *a, *b;
    lk_buffer *c;
    int64_t a_off, lda, a_stride, b_off, ldb, b_stride, c_off, ldc, c_stride;
} lk_gemm_desc;

typedef struct lk_backend_ops {
    lk_backend_kind kind;
    const char *name; /* "opencl", "cuda" */

    /* LK_OK if usable; *why set to a static reason otherwise. */
    lk_status (*available)(const char **why);
    /* Append the backend's devices to out[*count..max) (incrementing *count past max is fine). */
    lk_status (*enumerate)(lk_device_info *out, int max, int *count);
    /* Bind ctx to one device (info->platform/device as found by enumerate); sets ctx->be. */
    lk_status (*open)(lk_context *ctx, const lk_device_info *info);
    void (*close)(lk_context *ctx);

    lk_status (*buffer_alloc)(lk_context *ctx, size_t bytes, void **handle);
    void (*buffer_free)(lk_context *ctx, void *handle);
    lk_status (*buffer_write)(lk_context *ctx, void *handle, size_t off, const void *src, size_t n);
    lk_status (*buffer_read)(lk_context *ctx, void *handle, size_t off, void *dst, size_t n);
    lk_status (*buffer_copy)(lk_context *ctx, void *dst, size_t dst_off, void *src, size_t src_off,
                             size_t n);

    /* Build a program from source (binary NULL) or from a binary the same backend produced for
     * the same device earlier (source ignored). On success *binary_out and *binary_size_out may receive
     * a malloc'ed binary to store in the disk cache (NULL if the backend has none). A failed
     * build returns LK_ERR_BUILD with the compiler log in the context's error text. */
    lk_status (*program_build)(lk_context *ctx, const char *source, const char *options,
                               const void *binary, size_t binary_size, void **program,
                               void **binary_out, size_t *binary_size_out);
    void (*program_free)(lk_context *ctx, void *program);
    /* dyn_local as for launch. */
    lk_status (*kernel_limits)(lk_context *ctx, void *program, const char *kernel, size_t dyn_local,
                               lk_kernel_limits *out);

    /* dyn_local: bytes of the kernel's LK_DYN_SHARED array (cl/portable.h), 0 if it has none.
     * CUDA passes them as dynamic shared memory (up to info.local_mem_optin_bytes); OpenCL ignores
     * them, the array being a static __local one there. */
    lk_status (*launch)(lk_context *ctx, void *program, const char *kernel, int dims,
                        const size_t global[3], const size_t local[3], size_t dyn_local, int nargs,
                        const lk_kernel_arg *args);
    lk_status (*sync)(lk_context *ctx);

    /* Device-side timing of everything launched between begin and end, in milliseconds. */
    lk_status (*timing_begin)(lk_context *ctx);
    lk_status (*timing_end)(lk_context *ctx, double *ms);

    /* Optional (NULL when the backend was built without its BLAS): batched GEMM on the
     * context's queue through clBLAST (opencl_gemm.c) or cuBLAS (cuda_gemm.c). */
    lk_status (*gemm)(lk_context *ctx, const lk_gemm_desc *g);
} lk_backend_ops;

#ifdef LK_HAVE_OPENCL
extern const lk_backend_ops lk_opencl_backend;
#endif
#ifdef LK_HAVE_CUDA
extern const lk_backend_ops lk_cuda_backend;
#endif

/* The compiled-in backends, NULL-terminated, in default-preference order (CUDA first). */
extern const lk_backend_ops *const lk_backends[];

#endif
