/* The OpenCL backend: any OpenCL 1.2 device (PoCL on CPUs, NVIDIA, AMD, Intel GPUs).
 *
 * One context and one in-order queue with profiling per lk_context. Programs are built from
 * source (or from a binary this backend produced earlier) and keep their kernel objects by
 * name. Timing reads the profiling info of the first and last kernel launched inside a
 * timing_begin/timing_end pair. */
#include <stdlib.h>
#include <string.h>

#define CL_USE_DEPRECATED_OPENCL_1_2_APIS
#include <CL/cl.h>

#include "../core/internal.h"
#include "opencl_internal.h"
#include "longkern_opencl.h"

#define CL_DEVICE_COMPUTE_CAPABILITY_MAJOR_NV 0x4000
#define CL_DEVICE_COMPUTE_CAPABILITY_MINOR_NV 0x4001
#define MAX_KERNELS 16

typedef struct cl_state {
    cl_device_id device;
    cl_context context;
    cl_command_queue queue;
    int timing;
    cl_event first, last;
} cl_state;

/* The arguments last set on a kernel. OpenCL keeps them between launches, so a launch sets only
 * those that changed: a call into the driver per argument is a few microseconds per launch of
 * host time on some drivers (a kernel here takes up to 60 arguments), which short kernels
 * queued back to back wait for. Buffers are known by their serial, not their handle, whose
 * value a later allocation may reuse. */
typedef struct cl_arg_memo {
    unsigned char set[LK_MAX_ARGS]; /* 0: not set or unknown */
    unsigned char size[LK_MAX_ARGS];
    uint64_t value[LK_MAX_ARGS];    /* a scalar's bytes, or a buffer's serial (0: NULL) */
} cl_arg_memo;

typedef struct cl_prog {
    cl_program program;
    int n;
    char *names[MAX_KERNELS];
    cl_kernel kernels[MAX_KERNELS];
    cl_arg_memo memo[MAX_KERNELS];
} cl_prog;

static const char *cl_err(cl_int e)
{
    switch (e) {
    case CL_DEVICE_NOT_FOUND: return "CL_DEVICE_NOT_FOUND";
    case CL_OUT_OF_RESOURCES: return "CL_OUT_OF_RESOURCES";
    case CL_OUT_OF_HOST_MEMORY: return "CL_OUT_OF_HOST_MEMORY";
    case CL_MEM_OBJECT_ALLOCATION_FAILURE: return "CL_MEM_OBJECT_ALLOCATION_FAILURE";
    case CL_BUILD_PROGRAM_FAILURE: return "CL_BUILD_PROGRAM_FAILURE";
    case CL_INVALID_VALUE: return "CL_INVALID_VALUE";
    case CL_INVALID_BINARY: return "CL_INVALID_BINARY";
    case CL_INVALID_KERNEL_NAME: return "CL_INVALID_KERNEL_NAME";
    case CL_INVALID_KERNEL_ARGS: return "CL_INVALID_KERNEL_ARGS";
    case CL_INVALID_ARG_SIZE: return "CL_INVALID_ARG_SIZE";
    case CL_INVALID_ARG_VALUE: return "CL_INVALID_ARG_VALUE";
    case CL_INVALID_WORK_GROUP_SIZE: return "CL_INVALID_WORK_GROUP_SIZE";
    case CL_INVALID_WORK_ITEM_SIZE: return "CL_INVALID_WORK_ITEM_SIZE";
    case CL_INVALID_GLOBAL_WORK_SIZE: return "CL_INVALID_GLOBAL_WORK_SIZE";
    case CL_INVALID_BUFFER_SIZE: return "CL_INVALID_BUFFER_SIZE";
    case CL_INVALID_MEM_OBJECT: return "CL_INVALID_MEM_OBJECT";
    case CL_INVALID_OPERATION: return "CL_INVALID_OPERATION";
    default: return "OpenCL error";
    }
}

static lk_status fail_cl(lk_context *ctx, lk_status st, const char *what, cl_int e)
{
    if (e == CL_OUT_OF_RESOURCES || e == CL_MEM_OBJECT_ALLOCATION_FAILURE || e == CL_OUT_OF_HOST_MEMORY)
        st = st == LK_ERR_LAUNCH ? LK_ERR_LAUNCH : LK_ERR_OUT_OF_MEMORY;
    return lk_fail(ctx, st, "%s: %s (%d)", what, cl_err(e), (int)e);
}

static cl_state *state(lk_context *ctx) { return (cl_state *)ctx->be; }

static lk_status cl_available(const char **why)
{
    cl_uint n = 0;
    cl_int e = clGetPlatformIDs(0, NULL, &n);
    if (e != CL_SUCCESS || n == 0) {
        *why = "no OpenCL platform (install an ICD such as pocl-opencl-icd)";
        return LK_ERR_BACKEND_UNAVAILABLE;
    }
    *why = "";
    return LK_OK;
}

static void str_info(cl_device_id d, cl_device_info what, char *out, size_t n)
{
    out[0] = '\0';
    clGetDeviceInfo(d, what, n, out, NULL);
    out[n - 1] = '\0';
}

static void describe(cl_platform_id p, cl_device_id d, int pi, int di, lk_device_info *info)
{
    memset(info, 0, sizeof *info);
    info->backend = LK_BACKEND_OPENCL;
    info->platform = pi;
    info->device = di;
    clGetPlatformInfo(p, CL_PLATFORM_NAME, sizeof info->platform_name, info->platform_name, NULL);
    info->platform_name[sizeof info->platform_name - 1] = '\0';
    str_info(d, CL_DEVICE_NAME, info->name, sizeof info->name);
    str_info(d, CL_DEVICE_VENDOR, info->vendor, sizeof info->vendor);
    str_info(d, CL_DRIVER_VERSION, info->driver, sizeof info->driver);
    cl_device_type type = 0;
    cl_uint cus = 0, clock = 0, cc = 0;
    cl_ulong local = 0, global = 0;
    size_t wg = 0;
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof type, &type, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cus, &cus, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_CLOCK_FREQUENCY, sizeof clock, &clock, NULL);
    clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof local, &local, NULL);
    clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof global, &global, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof wg, &wg, NULL);
    info->type = (type & CL_DEVICE_TYPE_GPU) ? LK_DEVICE_GPU : (type & CL_DEVICE_TYPE_CPU) ? LK_DEVICE_CPU
                                                                                         : LK_DEVICE_OTHER;
    info->compute_units = (int)cus;
    info->clock_mhz = (int)clock;
    info->local_mem_bytes = (size_t)local;
    info->local_mem_optin_bytes = (size_t)local; /* no dynamic local memory beyond the static limit */
    info->global_mem_bytes = (size_t)global;
    info->max_work_group = wg;
    if (clGetDeviceInfo(d, CL_DEVICE_COMPUTE_CAPABILITY_MAJOR_NV, sizeof cc, &cc, NULL) == CL_SUCCESS) {
        info->cc_major = (int)cc;
        clGetDeviceInfo(d, CL_DEVICE_COMPUTE_CAPABILITY_MINOR_NV, sizeof cc, &cc, NULL);
        info->cc_minor = (int)cc;
    }
    snprintf(info->fingerprint, sizeof info->fingerprint, "opencl|%s|%s|%s|%d|%zu|%d", info->vendor,
             info->name, info->driver, info->compute_units, info->local_mem_bytes, info->clock_mhz);
}

/* Calls fn on every (platform, device) pair; stops when fn returns non-zero. */
static void for_each_device(int (*fn)(cl_platform_id, cl_device_id, int, int, void *), void *arg)
{
    cl_platform_id plats[16];
    cl_uint np = 0;
    if (clGetPlatformIDs(16, plats, &np) != CL_SUCCESS)
        return;
    for (cl_uint p = 0; p < np && p < 16; p++) {
        cl_device_id devs[32];
        cl_uint nd = 0;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 32, devs, &nd) != CL_SUCCESS)
            continue;
        for (cl_uint d = 0; d < nd && d < 32; d++)
            if (fn(plats[p], devs[d], (int)p, (int)d, arg))
                return;
    }
}

typedef struct { lk_device_info *out; int max; int *count; } enum_args;

static int add_device(cl_platform_id p, cl_device_id d, int pi, int di, void *arg)
{
    enum_args *a = arg;
    if (*a->count < a->max)
        describe(p, d, pi, di, &a->out[*a->count]);
    (*a->count)++;
    return 0;
}

static lk_status cl_enumerate(lk_device_info *out, int max, int *count)
{
    enum_args a = {out, max, count};
    for_each_device(add_device, &a);
    return LK_OK;
}

typedef struct { int pi, di; cl_device_id found; } find_args;

static int find_device(cl_platform_id p, cl_device_id d, int pi, int di, void *arg)
{
    find_args *a = arg;
    if (pi == a->pi && di == a->di) {
        a->found = d;
        return 1;
    }
    return 0;
}

static lk_status cl_open(lk_context *ctx, const lk_device_info *info)
{
    find_args a = {info->platform, info->device, NULL};
    for_each_device(find_device, &a);
    if (!a.found)
        return lk_fail(ctx, LK_ERR_NO_DEVICE, "OpenCL device %d:%d disappeared", info->platform, info->device);
    cl_state *s = calloc(1, sizeof *s);
    if (!s)
        return lk_fail(ctx, LK_ERR_OUT_OF_MEMORY, "OpenCL: host allocation failed");
    cl_int e;
    s->device = a.found;
    s->context = clCreateContext(NULL, 1, &s->device, NULL, NULL, &e);
    if (e == CL_SUCCESS)
        s->queue = clCreateCommandQueue(s->context, s->device, CL_QUEUE_PROFILING_ENABLE, &e);
    if (e != CL_SUCCESS) {
        if (s->context)
            clReleaseContext(s->context);
        free(s);
        return fail_cl(ctx, LK_ERR_DEVICE, "clCreateContext/clCreateCommandQueue", e);
    }
    ctx->be = s;
    return LK_OK;
}

static void drop_events(cl_state *s)
{
    if (s->first)
        clReleaseEvent(s->first);
    if (s->last)
        clReleaseEvent(s->last);
    s->first = s->last = NULL;
}

static void cl_close(lk_context *ctx)
{
    cl_state *s = state(ctx);
    if (!s)
        return;
    clFinish(s->queue);
    drop_events(s);
    clReleaseCommandQueue(s->queue);
    clReleaseContext(s->context);
    free(s);
    ctx->be = NULL;
}

static lk_status cl_buffer_alloc(lk_context *ctx, size_t bytes, void **handle)
{
    cl_int e;
    cl_mem m = clCreateBuffer(state(ctx)->context, CL_MEM_READ_WRITE, bytes, NULL, &e);
    if (e != CL_SUCCESS)
        return fail_cl(ctx, LK_ERR_OUT_OF_MEMORY, "clCreateBuffer", e);
    *handle = m;
    return LK_OK;
}

static void cl_buffer_free(lk_context *ctx, void *handle)
{
    clReleaseMemObject((cl_mem)handle);
}

static lk_status cl_buffer_write(lk_context *ctx, void *h, size_t off, const void *src, size_t n)
{
    cl_int e = clEnqueueWriteBuffer(state(ctx)->queue, (cl_mem)h, CL_TRUE, off, n, src, 0, NULL, NULL);
    return e == CL_SUCCESS ? LK_OK : fail_cl(ctx, LK_ERR_DEVICE, "clEnqueueWriteBuffer", e);
}

static lk_status cl_buffer_read(lk_context *ctx, void *h, size_t off, void *dst, size_t n)
{
    cl_int e = clEnqueueReadBuffer(state(ctx)->queue, (cl_mem)h, CL_TRUE, off, n, dst, 0, NULL, NULL);
    return e == CL_SUCCESS ? LK_OK : fail_cl(ctx, LK_ERR_DEVICE, "clEnqueueReadBuffer", e);
}

static lk_status cl_buffer_copy(lk_context *ctx, void *dst, size_t doff, void *src, size_t soff, size_t n)
{
    cl_event ev = NULL; /* timed like a kernel (the copy-bandwidth benchmarks) */
    cl_int e = clEnqueueCopyBuffer(state(ctx)->queue, (cl_mem)src, (cl_mem)dst, soff, doff, n, 0, NULL,
                                   state(ctx)->timing ? &ev : NULL);
    if (e != CL_SUCCESS)
        return fail_cl(ctx, LK_ERR_DEVICE, "clEnqueueCopyBuffer", e);
    lk_opencl_note_event(ctx, ev);
    return LK_OK;
}

static lk_status build_failure(lk_context *ctx, cl_program p, cl_int e)
{
    char log[3500] = "";
    clGetProgramBuildInfo(p, state(ctx)->device, CL_PROGRAM_BUILD_LOG, sizeof log, log, NULL);
    log[sizeof log - 1] = '\0';
    clReleaseProgram(p);
    return lk_fail(ctx, LK_ERR_BUILD, "OpenCL build failed (%s):\n%s", cl_err(e), log);
}

static lk_status cl_program_build(lk_context *ctx, const char *source, const char *options,
                                  const void *binary, size_t binary_size, void **program,
                                  void **binary_out, size_t *binary_size_out)
{
    cl_state *s = state(ctx);
    cl_int e;
    cl_program p;
    if (binary) {
        const unsigned char *b = binary;
        cl_int bin_status;
        p = clCreateProgramWithBinary(s->context, 1, &s->device, &binary_size, &b, &bin_status, &e);
        if (e == CL_SUCCESS && bin_status != CL_SUCCESS)
            e = bin_status;
    } else {
        p = clCreateProgramWithSource(s->context, 1, &source, NULL, &e);
    }
    if (e != CL_SUCCESS)
        return fail_cl(ctx, LK_ERR_BUILD, binary ? "clCreateProgramWithBinary" : "clCreateProgramWithSource", e);
    /* Correctly rounded fp32 division and sqrt, as IEEE (and NVRTC's default): quantization
     * codes must match ref/ bit for bit on every device. */
    char full[2048];
    snprintf(full, sizeof full, "-cl-fp32-correctly-rounded-divide-sqrt %s", options ? options : "");
    e = clBuildProgram(p, 1, &s->device, full, NULL, NULL);
    if (e != CL_SUCCESS)
        return build_failure(ctx, p, e);
    cl_prog *cp = calloc(1, sizeof *cp);
    if (!cp) {
        clReleaseProgram(p);
        return lk_fail(ctx, LK_ERR_OUT_OF_MEMORY, "OpenCL: host allocation failed");
    }
    cp->program = p;
    *program = cp;
    if (binary_out) {
        size_t size = 0;
        *binary_out = NULL;
        *binary_size_out = 0;
        if (clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, NULL) == CL_SUCCESS && size) {
            unsigned char *bin = malloc(size);
            if (bin && clGetProgramInfo(p, CL_PROGRAM_BINARIES, sizeof bin, &bin, NULL) == CL_SUCCESS) {
                *binary_out = bin;
                *binary_size_out = size;
            } else {
                free(bin);
            }
        }
    }
    return LK_OK;
}

static void cl_program_free(lk_context *ctx, void *program)
{
    cl_prog *cp = program;
    for (int i = 0; i < cp->n; i++) {
        clReleaseKernel(cp->kernels[i]);
        free(cp->names[i]);
    }
    clReleaseProgram(cp->program);
    free(cp);
}

static lk_status get_kernel(lk_context *ctx, cl_prog *cp, const char *name, cl_kernel *out, cl_arg_memo **memo)
{
    for (int i = 0; i < cp->n; i++)
        if (strcmp(cp->names[i], name) == 0) {
            *out = cp->kernels[i];
            *memo = &cp->memo[i];
            return LK_OK;
        }
    if (cp->n == MAX_KERNELS)
        return lk_fail(ctx, LK_ERR_LAUNCH, "OpenCL: more than %d kernels in one program", MAX_KERNELS);
    cl_int e;
    cl_kernel k = clCreateKernel(cp->program, name, &e);
    if (e != CL_SUCCESS)
        return lk_fail(ctx, LK_ERR_LAUNCH, "clCreateKernel(%s): %s", name, cl_err(e));
    cp->names[cp->n] = strdup(name);
    *memo = &cp->memo[cp->n];
    cp->kernels[cp->n++] = k;
    *out = k;
    return LK_OK;
}

/* Sets argument i unless the memo says the kernel holds this value already. */
static cl_int set_arg(cl_kernel k, cl_arg_memo *memo, int i, const lk_kernel_arg *a)
{
    uint64_t v = 0;
    size_t size;
    const void *bytes;
    cl_mem m = NULL;
    if (a->kind == LK_ARG_BUFFER) {
        m = a->buffer ? (cl_mem)a->buffer->handle : NULL;
        v = a->buffer ? a->buffer->serial : 0;
        size = sizeof m;
        bytes = &m;
    } else {
        size = a->size;
        bytes = a->value;
        if (size <= sizeof v)
            memcpy(&v, bytes, size);
    }
    int memoizable = size <= sizeof v;
    if (memoizable && memo->set[i] && memo->size[i] == size && memo->value[i] == v)
        return CL_SUCCESS;
    cl_int e = clSetKernelArg(k, (cl_uint)i, size, bytes);
    memo->set[i] = e == CL_SUCCESS && memoizable;
    memo->size[i] = (unsigned char)size;
    memo->value[i] = v;
    return e;
}

/* dyn_local is ignored here and in cl_launch: LK_DYN_SHARED arrays are static in OpenCL C. */
static lk_status cl_kernel_limits(lk_context *ctx, void *program, const char *name, size_t dyn_local,
                                  lk_kernel_limits *out)
{
    cl_kernel k;
    cl_arg_memo *memo;
    lk_status st = get_kernel(ctx, program, name, &k, &memo);
    if (st != LK_OK)
        return st;
    cl_ulong local = 0;
    memset(out, 0, sizeof *out);
    clGetKernelWorkGroupInfo(k, state(ctx)->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof out->max_work_group,
                             &out->max_work_group, NULL);
    clGetKernelWorkGroupInfo(k, state(ctx)->device, CL_KERNEL_LOCAL_MEM_SIZE, sizeof local, &local, NULL);
    out->local_mem_bytes = (size_t)local;
    return LK_OK;
}

static lk_status cl_launch(lk_context *ctx, void *program, const char *name, int dims, const size_t global[3],
                           const size_t local[3], size_t dyn_local, int nargs, const lk_kernel_arg *args)
{
    cl_state *s = state(ctx);
    cl_kernel k;
    cl_arg_memo *memo;
    lk_status st = get_kernel(ctx, program, name, &k, &memo);
    if (st != LK_OK)
        return st;
    for (int i = 0; i < nargs; i++) {
        cl_int e = set_arg(k, memo, i, &args[i]);
        if (e != CL_SUCCESS)
            return lk_fail(ctx, LK_ERR_LAUNCH, "clSetKernelArg(%s, %d): %s", name, i, cl_err(e));
    }
    cl_event ev = NULL;
    cl_int e = clEnqueueNDRangeKernel(s->queue, k, (cl_uint)dims, NULL, global, local, 0, NULL,
                                      s->timing ? &ev : NULL);
    if (e != CL_SUCCESS)
        return fail_cl(ctx, LK_ERR_LAUNCH, name, e);
    lk_opencl_note_event(ctx, ev);
    return LK_OK;
}

void lk_opencl_note_event(lk_context *ctx, cl_event ev)
{
    cl_state *s = state(ctx);
    if (!ev)
        return;
    if (!s->first) {
        s->first = ev;
        clRetainEvent(ev);
    }
    if (s->last)
        clReleaseEvent(s->last);
    s->last = ev;
}

cl_command_queue lk_opencl_queue(lk_context *ctx, int *timing)
{
    *timing = state(ctx)->timing;
    return state(ctx)->queue;
}

static lk_status cl_sync(lk_context *ctx)
{
    cl_int e = clFinish(state(ctx)->queue);
    return e == CL_SUCCESS ? LK_OK : fail_cl(ctx, LK_ERR_DEVICE, "clFinish", e);
}

static lk_status cl_timing_begin(lk_context *ctx)
{
    cl_state *s = state(ctx);
    drop_events(s);
    s->timing = 1;
    return LK_OK;
}

static lk_status cl_timing_end(lk_context *ctx, double *ms)
{
    cl_state *s = state(ctx);
    s->timing = 0;
    lk_status st = cl_sync(ctx);
    *ms = 0;
    if (st == LK_OK && s->first) {
        cl_ulong t0 = 0, t1 = 0;
        clGetEventProfilingInfo(s->first, CL_PROFILING_COMMAND_START, sizeof t0, &t0, NULL);
        clGetEventProfilingInfo(s->last, CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL);
        *ms = t1 > t0 ? (double)(t1 - t0) * 1e-6 : 0.0;
    }
    drop_events(s);
    return st;
}

const lk_backend_ops lk_opencl_backend = {
    .kind = LK_BACKEND_OPENCL,
    .name = "opencl",
    .available = cl_available,
    .enumerate = cl_enumerate,
    .open = cl_open,
    .close = cl_close,
    .buffer_alloc = cl_buffer_alloc,
    .buffer_free = cl_buffer_free,
    .buffer_write = cl_buffer_write,
    .buffer_read = cl_buffer_read,
    .buffer_copy = cl_buffer_copy,
    .program_build = cl_program_build,
    .program_free = cl_program_free,
    .kernel_limits = cl_kernel_limits,
    .launch = cl_launch,
    .sync = cl_sync,
    .timing_begin = cl_timing_begin,
    .timing_end = cl_timing_end,
#ifdef LK_HAVE_CLBLAST
    .gemm = lk_opencl_gemm,
#endif
};

/* ---- interop (longkern_opencl.h) ---- */

lk_status lk_buffer_wrap_cl_mem(lk_context *ctx, cl_mem mem, lk_buffer **out)
{
    if (!ctx || !mem || !out)
        return lk_fail(ctx, LK_ERR_NULL_POINTER, "lk_buffer_wrap_cl_mem: NULL argument");
    if (ctx->ops != &lk_opencl_backend)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, "lk_buffer_wrap_cl_mem: the context is not an OpenCL context");
    size_t size = 0;
    cl_int e = clGetMemObjectInfo(mem, CL_MEM_SIZE, sizeof size, &size, NULL);
    if (e != CL_SUCCESS)
        return fail_cl(ctx, LK_ERR_INVALID_ARGUMENT, "lk_buffer_wrap_cl_mem: clGetMemObjectInfo", e);
    lk_status st = lk_buffer_wrap(ctx, mem, size, out);
    if (st == LK_OK) {
        clRetainMemObject(mem);
        (*out)->owned = 1; /* lk_buffer_free drops the reference taken here */
    }
    return st;
}

cl_mem lk_buffer_cl_mem(const lk_buffer *buf)
{
    return buf && buf->ctx->ops == &lk_opencl_backend ? (cl_mem)buf->handle : NULL;
}
