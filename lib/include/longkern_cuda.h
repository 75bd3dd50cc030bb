/* longkern_cuda.h: interop between longkern and other CUDA code (PyTorch, CuPy, plain CUDA).
 *
 * A CUDA context of longkern (backend LK_BACKEND_CUDA) runs on the device's PRIMARY context, the
 * one the CUDA runtime and therefore PyTorch use, so device pointers pass freely in both
 * directions. Every kernel and copy goes to the LEGACY default stream (stream 0), which orders
 * itself with all blocking streams, PyTorch's default stream included: work queued by PyTorch
 * before a longkern call runs before it, and longkern's work runs before what PyTorch queues
 * after. Work on non-blocking streams (cudaStreamNonBlocking) needs explicit synchronization.
 *
 * This header needs no CUDA header: a device pointer travels as an unsigned long long (a
 * CUdeviceptr, or the integer of a void* from cudaMalloc / tensor.data_ptr()). */
#ifndef LONGKERN_CUDA_H
#define LONGKERN_CUDA_H

#include <stddef.h>

#include "longkern.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Wrap `bytes` of device memory at device_ptr, owned by someone else (e.g. a torch tensor's
 * data_ptr()), as an lk_buffer of ctx. lk_buffer_free releases the wrapper only; the memory must
 * outlive the buffer. The memory must live on ctx's device, and device_ptr must be 16-byte
 * aligned, as every allocation is: for a view that starts inside its storage (torch:
 * storage_offset() != 0), wrap data_ptr() - storage_offset() * element_size() and put
 * storage_offset() in lk_tensor.offset. Returns LK_ERR_INVALID_ARGUMENT if ctx is not a CUDA
 * context, the pointer is not device memory of ctx's device, or it is not 16-byte aligned. */
lk_status lk_buffer_wrap_cuda(lk_context *ctx, unsigned long long device_ptr, size_t bytes,
                              lk_buffer **out);

/* The device pointer (CUdeviceptr) behind buf, or 0 if buf is NULL or not a CUDA buffer. */
unsigned long long lk_buffer_cuda_ptr(const lk_buffer *buf);

#ifdef __cplusplus
}
#endif
#endif
