/* The backend GEMM of CUDA through cuBLAS (cublasGemmStridedBatchedEx: fp32 or fp16 storage,
 * fp32 compute). libcublas (.so.13, .so.12, .so) is dlopen'ed once; cublas_api.h gives the
 * types only. Work goes to stream 0 (cuBLAS's default), ordered with the kernels. Row-major
 * C = op(A)·op(B) is computed as the column-major Cᵀ = op(B)ᵀ·op(A)ᵀ. */
#define _POSIX_C_SOURCE 200809L

#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>

#include <cublas_api.h>

#include "cuda_gemm.h"
#include "internal.h"

static struct {
    cublasStatus_t (*create)(cublasHandle_t *handle);
    cublasStatus_t (*destroy)(cublasHandle_t handle);
    cublasStatus_t (*gemm)(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                           int k, const void *alpha, const void *A, cudaDataType Atype, int lda, long long strideA,
                           const void *B, cudaDataType Btype, int ldb, long long strideB, const void *beta, void *C,
                           cudaDataType Ctype, int ldc, long long strideC, int batchCount,
                           cublasComputeType_t computeType, cublasGemmAlgo_t algo);
    const char *why; /* NULL when loaded */
} blas;

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

static void load_blas(void)
{
    static const char *names[] = {"libcublas.so.13", "libcublas.so.12", "libcublas.so"};
    void *lib = NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !lib; i++)
        lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        blas.why = "libcublas.so.13/.12 not found (install the CUDA toolkit's cuBLAS)";
        return;
    }
    *(void **)&blas.create = dlsym(lib, "cublasCreate_v2");
    *(void **)&blas.destroy = dlsym(lib, "cublasDestroy_v2");
    *(void **)&blas.gemm = dlsym(lib, "cublasGemmStridedBatchedEx");
    if (!blas.create || !blas.destroy || !blas.gemm)
        blas.why = "libcublas lacks cublasCreate_v2, cublasDestroy_v2 or cublasGemmStridedBatchedEx";
}

/* Device address of element `off` of a buffer (handles are CUdeviceptr values). */
static void *element(const lk_buffer *buf, int64_t off, size_t esize)
{
    return (void *)((uintptr_t)buf->handle + (uintptr_t)off * esize);
}

lk_status lk_cuda_gemm(lk_context *ctx, void **handle, const lk_gemm_desc *g)
{
    pthread_once(&blas_once, load_blas);
    if (blas.why)
        return lk_fail(ctx, LK_ERR_UNSUPPORTED, "gemm (cuBLAS): %s", blas.why);
    if (g->dtype != LK_F32 && g->dtype != LK_F16)
        return lk_fail(ctx, LK_ERR_DTYPE, "gemm (cuBLAS): dtype %s", lk_dtype_name(g->dtype));
    if (!*handle && blas.create((cublasHandle_t *)handle) != CUBLAS_STATUS_SUCCESS) {
        *handle = NULL;
        return lk_fail(ctx, LK_ERR_DEVICE, "gemm (cuBLAS): cublasCreate failed");
    }
    cudaDataType type = g->dtype == LK_F16 ? CUDA_R_16F : CUDA_R_32F;
    size_t es = lk_dtype_size(g->dtype);
    cublasStatus_t r = blas.gemm(
        (cublasHandle_t)*handle, g->trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, g->trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
        (int)g->n, (int)g->m, (int)g->k, &g->alpha, element(g->b, g->b_off, es), type, (int)g->ldb, g->b_stride,
        element(g->a, g->a_off, es), type, (int)g->lda, g->a_stride, &g->beta, element(g->c, g->c_off, es), type,
        (int)g->ldc, g->c_stride, (int)g->batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    if (r != CUBLAS_STATUS_SUCCESS)
        return lk_fail(ctx, LK_ERR_DEVICE, "gemm (cuBLAS): cublasGemmStridedBatchedEx status %d (m %lld n %lld k %lld)",
                       (int)r, (long long)g->m, (long long)g->n, (long long)g->k);
    return LK_OK;
}

void lk_cuda_gemm_release(void *handle)
{
    if (handle && blas.destroy)
        blas.destroy((cublasHandle_t)handle);
}
