/* cuBLAS for the CUDA backend (cuda_gemm.c), loaded at run time like libcuda and NVRTC. */
#ifndef LK_CUDA_GEMM_H
#define LK_CUDA_GEMM_H

#include "backend.h"

/* Runs g with the context's primary context current (the caller pushes it). *handle is the
 * context's cuBLAS handle, created on first use. */
lk_status lk_cuda_gemm(lk_context *ctx, void **handle, const lk_gemm_desc *g);
/* Destroys a handle made by lk_cuda_gemm (NULL is a no-op), with its context current. */
void lk_cuda_gemm_release(void *handle);

#endif
