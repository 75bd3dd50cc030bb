/* What lib/backend/opencl.c shares with the other OpenCL files of the backend (opencl_gemm.c). */
#ifndef LK_OPENCL_INTERNAL_H
#define LK_OPENCL_INTERNAL_H

#include <CL/cl.h>
#include "backend.h"

/* The context's in-order queue; *timing = 1 between timing_begin and timing_end. */
cl_command_queue lk_opencl_queue(lk_context *ctx, int *timing);
/* Counts an event of work enqueued on that queue in the running timing (takes ownership). */
void lk_opencl_note_event(lk_context *ctx, cl_event ev);

#ifdef LK_HAVE_CLBLAST
lk_status lk_opencl_gemm(lk_context *ctx, const lk_gemm_desc *g);
#endif

#endif
