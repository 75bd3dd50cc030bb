/* The backend GEMM of OpenCL through clBLAST's C API (SGEMM / HGEMM, strided batched), enqueued
 * on the context's queue so it orders with the kernels and counts in device timing. */
#include <clblast_c.h>

#include "opencl_internal.h"
#include "../core/internal.h"

static CLBlastTranspose trans(int t) { return t ? CLBlastTransposeYes : CLBlastTransposeNo; }

/* IEEE half bits of a float that is exactly representable (alpha and beta are 0, 1 or powers
 * of two in the library's calls; other values are rounded toward zero). */
static cl_half to_half(float f)
{
    union { float f; uint32_t u; } v = {f};
    uint32_t sign = (v.u >> 16) & 0x8000u, exp = (v.u >> 23) & 0xffu, mant = v.u & 0x7fffffu;
    if (exp == 0)
        return (cl_half)sign;
    int e = (int)exp - 127 + 15;
    if (e <= 0)
        return (cl_half)sign;
    if (e >= 31)
        return (cl_half)(sign | 0x7c00u);
    return (cl_half)(sign | ((uint32_t)e << 10) | (mant >> 13));
}

lk_status lk_opencl_gemm(lk_context *ctx, const lk_gemm_desc *g)
{
    int timing;
    cl_command_queue queue = lk_opencl_queue(ctx, &timing);
    cl_event ev = NULL;
    cl_mem a = (cl_mem)g->a->handle, b = (cl_mem)g->b->handle, c = (cl_mem)g->c->handle;
    CLBlastStatusCode r;
    if (g->dtype == LK_F32)
        r = CLBlastSgemmStridedBatched(CLBlastLayoutRowMajor, trans(g->trans_a), trans(g->trans_b), (size_t)g->m,
                                       (size_t)g->n, (size_t)g->k, g->alpha, a, (size_t)g->a_off, (size_t)g->lda,
                                       (size_t)g->a_stride, b, (size_t)g->b_off, (size_t)g->ldb, (size_t)g->b_stride,
                                       g->beta, c, (size_t)g->c_off, (size_t)g->ldc, (size_t)g->c_stride,
                                       (size_t)g->batch, &queue, timing ? &ev : NULL);
    else if (g->dtype == LK_F16)
        r = CLBlastHgemmStridedBatched(CLBlastLayoutRowMajor, trans(g->trans_a), trans(g->trans_b), (size_t)g->m,
                                       (size_t)g->n, (size_t)g->k, to_half(g->alpha), a, (size_t)g->a_off,
                                       (size_t)g->lda, (size_t)g->a_stride, b, (size_t)g->b_off, (size_t)g->ldb,
                                       (size_t)g->b_stride, to_half(g->beta), c, (size_t)g->c_off, (size_t)g->ldc,
                                       (size_t)g->c_stride, (size_t)g->batch, &queue, timing ? &ev : NULL);
    else
        return lk_fail(ctx, LK_ERR_DTYPE, "gemm (clBLAST): dtype %s", lk_dtype_name(g->dtype));
    if (r == CLBlastNoHalfPrecision)
        return lk_fail(ctx, LK_ERR_UNSUPPORTED, "gemm (clBLAST): the device has no fp16 support (cl_khr_fp16)");
    if (r != CLBlastSuccess)
        return lk_fail(ctx, LK_ERR_DEVICE, "gemm (clBLAST): status %d (m %lld n %lld k %lld batch %lld)", (int)r,
                       (long long)g->m, (long long)g->n, (long long)g->k, (long long)g->batch);
    lk_opencl_note_event(ctx, ev);
    return LK_OK;
}
