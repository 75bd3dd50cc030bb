/* longkern_opencl.h: interop with OpenCL code that owns its own buffers. */
#ifndef LONGKERN_OPENCL_H
#define LONGKERN_OPENCL_H

#include <CL/cl.h>
#include "longkern.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Wrap a cl_mem created in the same OpenCL context family as ctx's device. The buffer is
 * retained while wrapped; lk_buffer_free releases that reference only. */
lk_status lk_buffer_wrap_cl_mem(lk_context *ctx, cl_mem mem, lk_buffer **out);
/* The cl_mem behind an lk_buffer of an OpenCL context, or NULL. */
cl_mem lk_buffer_cl_mem(const lk_buffer *buf);

#ifdef __cplusplus
}
#endif
#endif
