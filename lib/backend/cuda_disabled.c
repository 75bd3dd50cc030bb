/* The CUDA interop calls of longkern_cuda.h in a build without the CUDA backend. */
#include "../core/internal.h"
#include "longkern_cuda.h"

lk_status lk_buffer_wrap_cuda(lk_context *ctx, unsigned long long device_ptr, size_t bytes, lk_buffer **out)
{
    return lk_fail(ctx, LK_ERR_BACKEND_UNAVAILABLE, "lk_buffer_wrap_cuda: longkern was built without CUDA");
}

unsigned long long lk_buffer_cuda_ptr(const lk_buffer *buf)
{
    return 0;
}
