/* The CUDA backend: the driver API and NVRTC, both loaded at run time.
 *
 * Design
 *  - libcuda.so.1 and libnvrtc (.so.13, .so.12, .so) are dlopen'ed once (pthread_once) and every
 *    entry point is resolved with dlsym into `api`, so the library loads and runs on machines
 *    without an NVIDIA driver; cuda.h and nvrtc.h are included for types and enums only. The
 *    fields are named p_<function> so cuda.h's renaming macros (cuMemAlloc -> cuMemAlloc_v2, ...)
 *    do not touch them, and the names given to dlsym are the real exported ones (_v2 where
 *    cuda.h maps to _v2).
 *  - A context retains the device's primary context (the one the CUDA runtime, hence PyTorch,
 *    uses) and pushes it around each call, leaving the caller's current context untouched. All
 *    work goes to stream 0, which with the non-_ptsz entry points is the legacy default stream:
 *    ordered with PyTorch's default stream without any extra synchronization.
 *  - Buffers are CUdeviceptr values stored in the pointer-sized handle.
 *  - Programs are compiled from the portable OpenCL C source by NVRTC to a CUBIN for the
 *    device's sm_XY (sm_90a on 9.0; returned to the core for the disk cache), or to PTX for the
 *    newest virtual architecture NVRTC knows when it is older than the device. A program holds
 *    the CUmodule and a small cache of CUfunction by kernel name.
 *  - A launch's dyn_local bytes (the kernel's LK_DYN_SHARED array) are cuLaunchKernel's dynamic
 *    shared memory. Beyond 48 KB a function must opt in with CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
 *    (at most the device's ..._MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, info.local_mem_optin_bytes). One
 *    rule: the attribute is set on a function's first launch with dynamic shared memory (harmless
 *    below 48 KB) and raised only if a later launch needs more, so once per function in practice.
 *  - Every CUresult error becomes lk_fail(ctx, ...) with the call and the error's name. */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cuda.h>
#include <nvrtc.h>

#include "internal.h"
#include "cuda_gemm.h"
#include "longkern_cuda.h"

#define LK_CU_MAX_ARGS LK_MAX_ARGS
#define LK_CU_KERNEL_CACHE 16

/* ---- run-time loaded entry points ------------------------------------------------------------ */

static struct {
    /* libcuda.so.1 */
    CUresult (*p_cuInit)(unsigned int flags);
    CUresult (*p_cuDriverGetVersion)(int *version);
    CUresult (*p_cuGetErrorName)(CUresult error, const char **name);
    CUresult (*p_cuDeviceGetCount)(int *count);
    CUresult (*p_cuDeviceGet)(CUdevice *dev, int ordinal);
    CUresult (*p_cuDeviceGetName)(char *name, int len, CUdevice dev);
    CUresult (*p_cuDeviceGetAttribute)(int *value, CUdevice_attribute attr, CUdevice dev);
    CUresult (*p_cuDeviceTotalMem)(size_t *bytes, CUdevice dev);
    CUresult (*p_cuDevicePrimaryCtxRetain)(CUcontext *ctx, CUdevice dev);
    CUresult (*p_cuDevicePrimaryCtxRelease)(CUdevice dev);
    CUresult (*p_cuCtxPushCurrent)(CUcontext ctx);
    CUresult (*p_cuCtxPopCurrent)(CUcontext *ctx);
    CUresult (*p_cuMemAlloc)(CUdeviceptr *ptr, size_t bytes);
    CUresult (*p_cuMemFree)(CUdeviceptr ptr);
    CUresult (*p_cuMemcpyHtoD)(CUdeviceptr dst, const void *src, size_t bytes);
    CUresult (*p_cuMemcpyDtoH)(void *dst, CUdeviceptr src, size_t bytes);
    CUresult (*p_cuMemcpyDtoD)(CUdeviceptr dst, CUdeviceptr src, size_t bytes);
    CUresult (*p_cuPointerGetAttribute)(void *data, CUpointer_attribute attr, CUdeviceptr ptr);
    CUresult (*p_cuModuleLoadData)(CUmodule *module, const void *image);
    CUresult (*p_cuModuleUnload)(CUmodule module);
    CUresult (*p_cuModuleGetFunction)(CUfunction *fn, CUmodule module, const char *name);
    CUresult (*p_cuFuncGetAttribute)(int *value, CUfunction_attribute attr, CUfunction fn);
    CUresult (*p_cuFuncSetAttribute)(CUfunction fn, CUfunction_attribute attr, int value);
    CUresult (*p_cuLaunchKernel)(CUfunction fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                                 unsigned by, unsigned bz, unsigned shared_bytes, CUstream stream,
                                 void **params, void **extra);
    CUresult (*p_cuStreamSynchronize)(CUstream stream);
    CUresult (*p_cuEventCreate)(CUevent *event, unsigned int flags);
    CUresult (*p_cuEventDestroy)(CUevent event);
    CUresult (*p_cuEventRecord)(CUevent event, CUstream stream);
    CUresult (*p_cuEventSynchronize)(CUevent event);
    CUresult (*p_cuEventElapsedTime)(float *ms, CUevent start, CUevent end);
    /* libnvrtc */
    const char *(*p_nvrtcGetErrorString)(nvrtcResult result);
    nvrtcResult (*p_nvrtcCreateProgram)(nvrtcProgram *prog, const char *src, const char *name,
                                        int nheaders, const char *const *headers,
                                        const char *const *include_names);
    nvrtcResult (*p_nvrtcDestroyProgram)(nvrtcProgram *prog);
    nvrtcResult (*p_nvrtcCompileProgram)(nvrtcProgram prog, int nopts, const char *const *opts);
    nvrtcResult (*p_nvrtcGetProgramLogSize)(nvrtcProgram prog, size_t *size);
    nvrtcResult (*p_nvrtcGetProgramLog)(nvrtcProgram prog, char *log);
    nvrtcResult (*p_nvrtcGetCUBINSize)(nvrtcProgram prog, size_t *size);
    nvrtcResult (*p_nvrtcGetCUBIN)(nvrtcProgram prog, char *cubin);
    nvrtcResult (*p_nvrtcGetPTXSize)(nvrtcProgram prog, size_t *size);
    nvrtcResult (*p_nvrtcGetPTX)(nvrtcProgram prog, char *ptx);
    nvrtcResult (*p_nvrtcGetNumSupportedArchs)(int *count);
    nvrtcResult (*p_nvrtcGetSupportedArchs)(int *archs);
} api;

static pthread_once_t api_once = PTHREAD_ONCE_INIT;
static const char *api_why;   /* NULL once the backend is usable */
static char api_why_text[192]; /* api_why when it needs formatting */

/* Resolve `name` into api.field; on failure return the missing name from the enclosing function. */
#define RESOLVE(lib, field, name)                                          \
    do {                                                                   \
        if (!(api.field = (__typeof__(api.field))dlsym((lib), (name))))    \
            return (name);                                                 \
    } while (0)

static const char *resolve_cuda(void *lib) {
    RESOLVE(lib, p_cuInit, "cuInit");
    RESOLVE(lib, p_cuDriverGetVersion, "cuDriverGetVersion");
    RESOLVE(lib, p_cuGetErrorName, "cuGetErrorName");
    RESOLVE(lib, p_cuDeviceGetCount, "cuDeviceGetCount");
    RESOLVE(lib, p_cuDeviceGet, "cuDeviceGet");
    RESOLVE(lib, p_cuDeviceGetName, "cuDeviceGetName");
    RESOLVE(lib, p_cuDeviceGetAttribute, "cuDeviceGetAttribute");
    RESOLVE(lib, p_cuDeviceTotalMem, "cuDeviceTotalMem_v2");
    RESOLVE(lib, p_cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
    RESOLVE(lib, p_cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2");
    RESOLVE(lib, p_cuCtxPushCurrent, "cuCtxPushCurrent_v2");
    RESOLVE(lib, p_cuCtxPopCurrent, "cuCtxPopCurrent_v2");
    RESOLVE(lib, p_cuMemAlloc, "cuMemAlloc_v2");
    RESOLVE(lib, p_cuMemFree, "cuMemFree_v2");
    RESOLVE(lib, p_cuMemcpyHtoD, "cuMemcpyHtoD_v2");
    RESOLVE(lib, p_cuMemcpyDtoH, "cuMemcpyDtoH_v2");
    RESOLVE(lib, p_cuMemcpyDtoD, "cuMemcpyDtoD_v2");
    RESOLVE(lib, p_cuPointerGetAttribute, "cuPointerGetAttribute");
    RESOLVE(lib, p_cuModuleLoadData, "cuModuleLoadData");
    RESOLVE(lib, p_cuModuleUnload, "cuModuleUnload");
    RESOLVE(lib, p_cuModuleGetFunction, "cuModuleGetFunction");
    RESOLVE(lib, p_cuFuncGetAttribute, "cuFuncGetAttribute");
    RESOLVE(lib, p_cuFuncSetAttribute, "cuFuncSetAttribute");
    RESOLVE(lib, p_cuLaunchKernel, "cuLaunchKernel");
    RESOLVE(lib, p_cuStreamSynchronize, "cuStreamSynchronize");
    RESOLVE(lib, p_cuEventCreate, "cuEventCreate");
    RESOLVE(lib, p_cuEventDestroy, "cuEventDestroy_v2");
    RESOLVE(lib, p_cuEventRecord, "cuEventRecord");
    RESOLVE(lib, p_cuEventSynchronize, "cuEventSynchronize");
    /* _v2 appeared in CUDA 12.8 with the same signature; older drivers have only the original. */
    api.p_cuEventElapsedTime = (__typeof__(api.p_cuEventElapsedTime))dlsym(lib, "cuEventElapsedTime_v2");
    if (!api.p_cuEventElapsedTime)
        RESOLVE(lib, p_cuEventElapsedTime, "cuEventElapsedTime");
    return NULL;
}

static const char *resolve_nvrtc(void *lib) {
    RESOLVE(lib, p_nvrtcGetErrorString, "nvrtcGetErrorString");
    RESOLVE(lib, p_nvrtcCreateProgram, "nvrtcCreateProgram");
    RESOLVE(lib, p_nvrtcDestroyProgram, "nvrtcDestroyProgram");
    RESOLVE(lib, p_nvrtcCompileProgram, "nvrtcCompileProgram");
    RESOLVE(lib, p_nvrtcGetProgramLogSize, "nvrtcGetProgramLogSize");
    RESOLVE(lib, p_nvrtcGetProgramLog, "nvrtcGetProgramLog");
    RESOLVE(lib, p_nvrtcGetCUBINSize, "nvrtcGetCUBINSize");
    RESOLVE(lib, p_nvrtcGetCUBIN, "nvrtcGetCUBIN");
    RESOLVE(lib, p_nvrtcGetPTXSize, "nvrtcGetPTXSize");
    RESOLVE(lib, p_nvrtcGetPTX, "nvrtcGetPTX");
    RESOLVE(lib, p_nvrtcGetNumSupportedArchs, "nvrtcGetNumSupportedArchs");
    RESOLVE(lib, p_nvrtcGetSupportedArchs, "nvrtcGetSupportedArchs");
    return NULL;
}

#undef RESOLVE

/* "CUDA_ERROR_OUT_OF_MEMORY", ... */
static const char *cu_name(CUresult r) {
    const char *name = NULL;
    if (api.p_cuGetErrorName(r, &name) != CUDA_SUCCESS || !name)
        return "unknown CUresult";
    return name;
}

static void *open_nvrtc(void) {
    static const char *const names[] = {"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        void *lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (lib)
            return lib;
    }
    return NULL;
}

/* Runs once: sets api_why to NULL (usable) or to the reason the backend is unavailable. */
static void api_load(void) {
    void *cuda = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!cuda) {
        api_why = "libcuda.so.1 not found (no NVIDIA driver)";
        return;
    }
    const char *missing = resolve_cuda(cuda);
    if (missing) {
        snprintf(api_why_text, sizeof api_why_text, "libcuda.so.1 lacks %s (driver too old)", missing);
        api_why = api_why_text;
        return;
    }
    CUresult r = api.p_cuInit(0);
    int count = 0;
    if (r == CUDA_SUCCESS)
        r = api.p_cuDeviceGetCount(&count);
    if (r != CUDA_SUCCESS) {
        snprintf(api_why_text, sizeof api_why_text, "cuInit failed: %s", cu_name(r));
        api_why = api_why_text;
        return;
    }
    if (count == 0) {
        api_why = "no CUDA device";
        return;
    }
    void *nvrtc = open_nvrtc();
    if (!nvrtc) {
        api_why = "libnvrtc not found (tried libnvrtc.so.13, libnvrtc.so.12, libnvrtc.so)";
        return;
    }
    missing = resolve_nvrtc(nvrtc);
    if (missing) {
        snprintf(api_why_text, sizeof api_why_text, "libnvrtc lacks %s (too old)", missing);
        api_why = api_why_text;
        return;
    }
    api_why = NULL;
}

static lk_status cuda_available(const char **why) {
    pthread_once(&api_once, api_load);
    if (why)
        *why = api_why;
    return api_why ? LK_ERR_BACKEND_UNAVAILABLE : LK_OK;
}

/* ---- context state and helpers ----------------------------------------------------------------- */

typedef struct cu_state {
    CUdevice dev;
    CUcontext primary;     /* retained primary context */
    CUevent start, end;    /* timing_begin / timing_end */
    void *blas;            /* cuBLAS handle, made by the first gemm (cuda_gemm.c) */
} cu_state;

/* The one translation of a failed CUresult into the context's error. */
static lk_status cu_fail(lk_context *ctx, CUresult r, const char *call) {
    lk_status status = r == CUDA_ERROR_OUT_OF_MEMORY ? LK_ERR_OUT_OF_MEMORY : LK_ERR_DEVICE;
    return lk_fail(ctx, status, "%s: %s", call, cu_name(r));
}

/* Make ctx's primary context current for the duration of one call (pair with cu_pop). */
static lk_status cu_push(lk_context *ctx) {
    const cu_state *s = ctx->be;
    CUresult r = api.p_cuCtxPushCurrent(s->primary);
    return r == CUDA_SUCCESS ? LK_OK : cu_fail(ctx, r, "cuCtxPushCurrent");
}

static void cu_pop(void) {
    CUcontext popped;
    api.p_cuCtxPopCurrent(&popped);
}

/* ---- devices ----------------------------------------------------------------------------------- */

/* The version of the loaded NVIDIA kernel module ("580.65.06") from /proc, or 0 if unreadable:
 * the first token of the first line made of digits and dots. */
static int kernel_module_version(char *out, size_t n) {
    char line[256];
    FILE *f = fopen("/proc/driver/nvidia/version", "r");
    if (!f)
        return 0;
    int ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    for (char *p = line; ok && *p;) {
        p += strspn(p, " \t\n");
        size_t len = strcspn(p, " \t\n");
        size_t digits = strspn(p, "0123456789.");
        if (len > 0 && digits == len && isdigit((unsigned char)p[0]) && memchr(p, '.', len) &&
            len < n) {
            memcpy(out, p, len);
            out[len] = '\0';
            return 1;
        }
        p += len;
    }
    return 0;
}

/* "cuda 13.0 / 580.65.06" (the part after '/' only when /proc says it). */
static void driver_text(char *out, size_t n) {
    int version = 0;
    char kmod[32];
    api.p_cuDriverGetVersion(&version);
    if (kernel_module_version(kmod, sizeof kmod))
        snprintf(out, n, "cuda %d.%d / %s", version / 1000, version % 1000 / 10, kmod);
    else
        snprintf(out, n, "cuda %d.%d", version / 1000, version % 1000 / 10);
}

static int device_attr(CUdevice dev, CUdevice_attribute attr) {
    int value = 0;
    return api.p_cuDeviceGetAttribute(&value, attr, dev) == CUDA_SUCCESS ? value : 0;
}

static CUresult describe_device(int ordinal, lk_device_info *info) {
    CUdevice dev;
    size_t total = 0;
    memset(info, 0, sizeof *info);
    CUresult r = api.p_cuDeviceGet(&dev, ordinal);
    if (r == CUDA_SUCCESS)
        r = api.p_cuDeviceGetName(info->name, (int)sizeof info->name, dev);
    if (r == CUDA_SUCCESS)
        r = api.p_cuDeviceTotalMem(&total, dev);
    if (r != CUDA_SUCCESS)
        return r;
    info->backend = LK_BACKEND_CUDA;
    info->platform = 0;
    info->device = ordinal;
    info->type = LK_DEVICE_GPU;
    snprintf(info->platform_name, sizeof info->platform_name, "CUDA");
    snprintf(info->vendor, sizeof info->vendor, "NVIDIA");
    driver_text(info->driver, sizeof info->driver);
    info->compute_units = device_attr(dev, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
    info->local_mem_bytes = (size_t)device_attr(dev, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK);
    info->local_mem_optin_bytes = (size_t)device_attr(dev, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
    if (info->local_mem_optin_bytes < info->local_mem_bytes) /* no opt-in (before sm_70) */
        info->local_mem_optin_bytes = info->local_mem_bytes;
    info->global_mem_bytes = total;
    info->max_work_group = (size_t)device_attr(dev, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK);
    info->clock_mhz = device_attr(dev, CU_DEVICE_ATTRIBUTE_CLOCK_RATE) / 1000;
    info->cc_major = device_attr(dev, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
    info->cc_minor = device_attr(dev, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
    snprintf(info->fingerprint, sizeof info->fingerprint, "cuda|%s|%s|%s|%d|%zu|%d", info->vendor,
             info->name, info->driver, info->compute_units, info->local_mem_bytes, info->clock_mhz);
    return CUDA_SUCCESS;
}

static lk_status cuda_enumerate(lk_device_info *out, int max, int *count) {
    int n = 0;
    if (cuda_available(NULL) != LK_OK || api.p_cuDeviceGetCount(&n) != CUDA_SUCCESS)
        return LK_OK;
    for (int i = 0; i < n; i++) {
        lk_device_info info;
        CUresult r = describe_device(i, &info);
        if (r != CUDA_SUCCESS) {
            lk_log(LK_LOG_WARN, "cuda: skipping device %d: %s", i, cu_name(r));
            continue;
        }
        if (*count < max)
            out[*count] = info;
        (*count)++;
    }
    return LK_OK;
}

/* ---- contexts ---------------------------------------------------------------------------------- */

static void cuda_close(lk_context *ctx) {
    cu_state *s = ctx->be;
    if (!s)
        return;
    if ((s->start || s->end || s->blas) && cu_push(ctx) == LK_OK) {
        lk_cuda_gemm_release(s->blas);
        if (s->start)
            api.p_cuEventDestroy(s->start);
        if (s->end)
            api.p_cuEventDestroy(s->end);
        cu_pop();
    }
    api.p_cuDevicePrimaryCtxRelease(s->dev);
    free(s);
    ctx->be = NULL;
}

static lk_status cuda_open(lk_context *ctx, const lk_device_info *info) {
    const char *why;
    if (cuda_available(&why) != LK_OK)
        return lk_fail(ctx, LK_ERR_BACKEND_UNAVAILABLE, "cuda: %s", why);
    cu_state *s = calloc(1, sizeof *s);
    if (!s)
        return lk_fail(ctx, LK_ERR_OUT_OF_MEMORY, "cuda: out of host memory");
    CUresult r = api.p_cuDeviceGet(&s->dev, info->device);
    if (r == CUDA_SUCCESS)
        r = api.p_cuDevicePrimaryCtxRetain(&s->primary, s->dev);
    if (r != CUDA_SUCCESS) {
        free(s);
        return cu_fail(ctx, r, "cuDevicePrimaryCtxRetain");
    }
    ctx->be = s;
    ctx->info = *info;

    lk_status st = cu_push(ctx);
    if (st != LK_OK) {
        cuda_close(ctx);
        return st;
    }
    r = api.p_cuEventCreate(&s->start, CU_EVENT_DEFAULT);
    if (r == CUDA_SUCCESS)
        r = api.p_cuEventCreate(&s->end, CU_EVENT_DEFAULT);
    cu_pop();
    if (r != CUDA_SUCCESS) {
        st = cu_fail(ctx, r, "cuEventCreate");
        cuda_close(ctx);
    }
    return st;
}

/* ---- buffers ----------------------------------------------------------------------------------- */

static CUdeviceptr dptr(const void *handle, size_t off) {
    return (CUdeviceptr)(uintptr_t)handle + off;
}

static lk_status cuda_buffer_alloc(lk_context *ctx, size_t bytes, void **handle) {
    CUdeviceptr p = 0;
    lk_status st = cu_push(ctx);
    if (st != LK_OK)
        return st;
    CUresult r = api.p_cuMemAlloc(&p, bytes ? bytes : 1);
    cu_pop();
    if (r != CUDA_SUCCESS)
        return cu_fail(ctx, r, "cuMemAlloc");
    *handle = (void *)(uintptr_t)p;
    return LK_OK;
}

static void cuda_buffer_free(lk_context *ctx, void *handle) {
    if (!handle || cu_push(ctx) != LK_OK)
        return;
    CUresult r = api.p_cuMemFree(dptr(handle, 0));
    cu_pop();
    if (r != CUDA_SUCCESS)
        lk_log(LK_LOG_WARN, "cuda: cuMemFree: %s", cu_name(r));
}

/* Synchronous on pageable host memory; ordered after earlier work on the legacy stream. */
static lk_status cuda_buffer_write(lk_context *ctx, void *handle, size_t off, const void *src,
                                   size_t n) {
    lk_status st = cu_push(ctx);
    if (st != LK_OK)
        return st;
    CUresult r = api.p_cuMemcpyHtoD(dptr(handle, off), src, n);
    cu_pop();
    return r == CUDA_SUCCESS ? LK_OK : cu_fail(ctx, r, "cuMemcpyHtoD");
}

/* Synchronous: waits for earlier work on the legacy stream, returns with the data in dst. */
static lk_status cuda_buffer_read(lk_context *ctx, void *handle, size_t off, void *dst, size_t n) {
    lk_status st = cu_push(ctx);
    if (st != LK_OK)
        return st;
    CUresult r = api.p_cuMemcpyDtoH(dst, dptr(handle, off), n);
    cu_pop();
    return r == CUDA_SUCCESS ? LK_OK : cu_fail(ctx, r, "cuMemcpyDtoH");
}

static lk_status cuda_buffer_copy(lk_context *ctx, void *dst, size_t dst_off, void *src,
                                  size_t src_off, size_t n) {
    lk_status st = cu_push(ctx);
    if (st != LK_OK)
        return st;
    CUresult r = api.p_cuMemcpyDtoD(dptr(dst, dst_off), dptr(src, src_off), n);
    cu_pop();
    return r == CUDA_SUCCESS ? LK_OK : cu_fail(ctx, r, "cuMemcpyDtoD");
}

/* ---- programs ---------------------------------------------------------------------------------- */

typedef struct cu_function {
    char name[64];
    CUfunction fn;
    size_t dyn_allowed; /* CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES as set by us, 0 if never */
} cu_function;

typedef struct cu_program {
    CUmodule module;
    int nkernels;
    cu_function kernels[LK_CU_KERNEL_CACHE];
} cu_program;

/* "--gpu-architecture=sm_XY" and 1 (CUBIN) when NVRTC supports the device's architecture (on
 * compute capability 9.0 sm_90a: its arch-specific instructions, wgmma for
 * cl/attention_fwd_wgmma.cl; the CUBIN runs on 9.0 only, as it is built for this device);
 * otherwise "--gpu-architecture=compute_XY" for the newest architecture NVRTC supports at or
 * below the device (PTX, JIT-compiled by the driver) and 0. A device older than everything
 * NVRTC supports gets sm_XY, and NVRTC's own error. */
static int choose_arch(int major, int minor, char *out, size_t n) {
    int want = major * 10 + minor, best = 0, count = 0;
    int archs[128];
    if (api.p_nvrtcGetNumSupportedArchs(&count) == NVRTC_SUCCESS && count > 0 && count <= 128 &&
        api.p_nvrtcGetSupportedArchs(archs) == NVRTC_SUCCESS) {
        for (int i = 0; i < count; i++)
            if (archs[i] <= want && archs[i] > best)
                best = archs[i];
    }
    if (best == 0 || best == want) {
        snprintf(out, n, "--gpu-architecture=sm_%d%s", want, want == 90 ? "a" : "");
        return 1;
    }
    snprintf(out, n, "--gpu-architecture=compute_%d", best);
    return 0;
}

/* Split the space-separated options in place (text is a writable copy) into argv, then append
 * arch. argv needs room for strlen(text) / 2 + 2 entries. Returns the count. */
static int split_options(char *text, const char *arch, const char **argv) {
    int argc = 0;
    for (char *p = text; *p;) {
        p += strspn(p, " \t\n");
        size_t len = strcspn(p, " \t\n");
        if (len == 0)
            break;
        argv[argc++] = p;
        p += len;
        if (*p)
            *p++ = '\0';
    }
    argv[argc++] = arch;
    return argc;
}

/* LK_ERR_BUILD with NVRTC's log, cut to what fits in the context's error text. */
static lk_status nvrtc_fail(lk_context *ctx, nvrtcProgram prog, nvrtcResult r, const char *arch) {
    size_t size = 0;
    char *log = NULL;
    if (api.p_nvrtcGetProgramLogSize(prog, &size) == NVRTC_SUCCESS && size > 0 &&
        (log = malloc(size)) && api.p_nvrtcGetProgramLog(prog, log) != NVRTC_SUCCESS)
        log[0] = '\0';
    int room = (int)sizeof ctx->last_error - 128;
    lk_status st = lk_fail(ctx, LK_ERR_BUILD, "NVRTC (%s): %s\n%.*s", arch,
                           api.p_nvrtcGetErrorString(r), room, log ? log : "");
    free(log);
    return st;
}

/* The compiled CUBIN (cubin != 0) or NUL-terminated PTX, malloc'ed. */
static lk_status nvrtc_output(lk_context *ctx, nvrtcProgram prog, int cubin, void **image,
                              size_t *size) {
    nvrtcResult r = cubin ? api.p_nvrtcGetCUBINSize(prog, size) : api.p_nvrtcGetPTXSize(prog, size);
    char *data = r == NVRTC_SUCCESS ? malloc(*size ? *size : 1) : NULL;
    if (!data)
        return r == NVRTC_SUCCESS ? lk_fail(ctx, LK_ERR_OUT_OF_MEMORY, "cuda: out of host memory")
                                  : lk_fail(ctx, LK_ERR_BUILD, "NVRTC output: %s",
                                            api.p_nvrtcGetErrorString(r));
    r = cubin ? api.p_nvrtcGetCUBIN(prog, data) : api.p_nvrtcGetPTX(prog, data);
    if (r != NVRTC_SUCCESS) {
        free(data);
        return lk_fail(ctx, LK_ERR_BUILD, "NVRTC output: %s", api.p_nvrtcGetErrorString(r));
    }
    *image = data;
    return LK_OK;
}

static lk_status nvrtc_compile(lk_context *ctx, const char *source, const char *options,
                               void **image, size_t *size) {
    char arch[48];
    int cubin = choose_arch(ctx->info.cc_major, ctx->info.cc_minor, arch, sizeof arch);
    size_t len = options ? strlen(options) : 0;
    char *text = malloc(len + 1);
    const char **argv = malloc((len / 2 + 2) * sizeof *argv);
    if (!text || !argv) {
        free(text);
        free(argv);
        return lk_fail(ctx, LK_ERR_OUT_OF_MEMORY, "cuda: out of host memory");
    }
    memcpy(text, options ? options : "", len + 1);
    int argc = split_options(text, arch, argv);

    nvrtcProgram prog;
    lk_status st;
    nvrtcResult r = api.p_nvrtcCreateProgram(&prog, source, "longkern.cu", 0, NULL, NULL);
    if (r != NVRTC_SUCCESS) {
        st = lk_fail(ctx, LK_ERR_BUILD, "nvrtcCreateProgram: %s", api.p_nvrtcGetErrorString(r));
    } else {
        r = api.p_nvrtcCompileProgram(prog, argc, argv);
        st = r == NVRTC_SUCCESS ? nvrtc_output(ctx, prog, cubin, image, size)
                                : nvrtc_fail(ctx, prog, r, arch);
        api.p_nvrtcDestroyProgram(&prog);
    }
    free(argv);
    free(text);
    return st;
}

/* A cached image must be an ELF CUBIN or NUL-terminated PTX, or the driver would read past it. */
static int image_plausible(const void *image, size_t size) {
    const unsigned char *b = image;
    return size >= 4 && (memcmp(b, "\177ELF", 4) == 0 || b[size - 1] == '\0');
}

static lk_status module_load(lk_context *ctx, const void *image, void **program) {
    cu_program *p = calloc(1, sizeof *p);
    if (!p)
        return lk_fail(ctx, LK_ERR_OUT_OF_MEMORY, "cuda: out of host memory");
    lk_status st = cu_push(ctx);
    if (st != LK_OK) {
        free(p);
        return st;
    }
    CUresult r = api.p_cuModuleLoadData(&p->module, image);
    cu_pop();
    if (r != CUDA_SUCCESS) {
        free(p);
        if (r == CUDA_ERROR_OUT_OF_MEMORY)
            return cu_fail(ctx, r, "cuModuleLoadData");
        return lk_fail(ctx, LK_ERR_BUILD, "cuModuleLoadData: %s%s", cu_name(r),
                       r == CUDA_ERROR_UNSUPPORTED_PTX_VERSION ? " (NVRTC is newer than the driver)" : "");
    }
    *program = p;
    return LK_OK;
}

static lk_status cuda_program_build(lk_context *ctx, const char *source, const char *options,
                                    const void *binary, size_t binary_size, void **program,
                                    void **binary_out, size_t *binary_size_out) {
    void *image = NULL;
    size_t image_size = 0;
    *program = NULL;
    if (binary_out)
        *binary_out = NULL;
    if (binary_size_out)
        *binary_size_out = 0;

    if (binary) {
        if (!image_plausible(binary, binary_size))
            return lk_fail(ctx, LK_ERR_BUILD, "cuda: cached binary is neither CUBIN nor PTX");
        return module_load(ctx, binary, program);
    }
    lk_status st = nvrtc_compile(ctx, source, options, &image, &image_size);
    if (st == LK_OK)
        st = module_load(ctx, image, program);
    if (st == LK_OK && binary_out && binary_size_out) {
        *binary_out = image;
        *binary_size_out = image_size;
        image = NULL;
    }
    free(image);
    return st;
}

static void cuda_program_free(lk_context *ctx, void *program) {
    cu_program *p = program;
    if (!p)
        return;
    if (cu_push(ctx) == LK_OK) {
        api.p_cuModuleUnload(p->module);
        cu_pop();
    }
    free(p);
}

/* The kernel's entry in the program's cache (*out), made on first use; when the cache is full
 * or the name too long, *uncached is filled and used instead. Call with the context pushed. */
static lk_status get_function(lk_context *ctx, cu_program *p, const char *kernel, cu_function *uncached,
                              cu_function **out) {
    for (int i = 0; i < p->nkernels; i++) {
        if (strcmp(p->kernels[i].name, kernel) == 0) {
            *out = &p->kernels[i];
            return LK_OK;
        }
    }
    CUfunction fn;
    CUresult r = api.p_cuModuleGetFunction(&fn, p->module, kernel);
    if (r == CUDA_ERROR_NOT_FOUND)
        return lk_fail(ctx, LK_ERR_LAUNCH, "cuda: no kernel named %s in the program", kernel);
    if (r != CUDA_SUCCESS)
        return lk_fail(ctx, LK_ERR_LAUNCH, "cuModuleGetFunction(%s): %s", kernel, cu_name(r));
    cu_function *f = uncached;
    if (p->nkernels < LK_CU_KERNEL_CACHE && strlen(kernel) < sizeof f->name)
        f = &p->kernels[p->nkernels++];
    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "%s", kernel);
    f->fn = fn;
    *out = f;
    return LK_OK;
}

static lk_status cuda_kernel_limits(lk_context *ctx, void *program, const char *kernel, size_t dyn_local,
                                    lk_kernel_limits *out) {
    cu_function uncached, *f;
    int threads = 0, shared = 0, regs = 0;
    lk_status st = cu_push(ctx);
    if (st != LK_OK)
        return st;
    st = get_function(ctx, program, kernel, &uncached, &f);
    CUresult r = CUDA_SUCCESS;
    if (st == LK_OK)
        r = api.p_cuFuncGetAttribute(&threads, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, f->fn);
    if (st == LK_OK && r == CUDA_SUCCESS)
        r = api.p_cuFuncGetAttribute(&shared, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, f->fn);
    if (st == LK_OK && r == CUDA_SUCCESS)
        r = api.p_cuFuncGetAttribute(&regs, CU_FUNC_ATTRIBUTE_NUM_REGS, f->fn);
    cu_pop();
    if (st != LK_OK)
        return st;
    if (r != CUDA_SUCCESS)
        return cu_fail(ctx, r, "cuFuncGetAttribute");
    out->max_work_group = (size_t)threads;
    out->local_mem_bytes = (size_t)shared + dyn_local; /* static + dynamic */
    out->registers = regs;
    return LK_OK;
}

/* ---- launches, synchronization, timing --------------------------------------------------------- */

/* OpenCL geometry to CUDA grid and block; unused dimensions are 1. */
static lk_status launch_geometry(lk_context *ctx, const char *kernel, int dims,
                                 const size_t global[3], const size_t local[3], unsigned grid[3],
                                 unsigned block[3]) {
    if (dims < 1 || dims > 3)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, "cuda: %s launched with %d dimensions", kernel, dims);
    for (int d = 0; d < 3; d++) {
        grid[d] = block[d] = 1;
        if (d >= dims)
            continue;
        if (local[d] == 0 || global[d] % local[d] != 0 || local[d] > UINT_MAX ||
            global[d] / local[d] > UINT_MAX)
            return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT,
                           "cuda: %s: bad geometry in dimension %d (global %zu, local %zu)",
                           kernel, d, global[d], local[d]);
        grid[d] = (unsigned)(global[d] / local[d]);
        block[d] = (unsigned)local[d];
    }
    return LK_OK;
}

static lk_status cuda_launch(lk_context *ctx, void *program, const char *kernel, int dims,
                             const size_t global[3], const size_t local[3], size_t dyn_local,
                             int nargs, const lk_kernel_arg *args) {
    unsigned grid[3], block[3];
    CUdeviceptr ptrs[LK_CU_MAX_ARGS];
    void *params[LK_CU_MAX_ARGS];
    cu_function uncached, *f;

    if (nargs < 0 || nargs > LK_CU_MAX_ARGS)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, "cuda: %s: %d arguments (at most %d)", kernel,
                       nargs, LK_CU_MAX_ARGS);
    if (dyn_local > ctx->info.local_mem_optin_bytes)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT,
                       "cuda: %s: %zu B of dynamic shared memory > %zu B per block on this device", kernel,
                       dyn_local, ctx->info.local_mem_optin_bytes);
    lk_status st = launch_geometry(ctx, kernel, dims, global, local, grid, block);
    if (st != LK_OK)
        return st;
    for (int i = 0; i < nargs; i++) {
        if (args[i].kind == LK_ARG_BUFFER) {
            ptrs[i] = args[i].buffer ? dptr(args[i].buffer->handle, 0) : 0;
            params[i] = &ptrs[i];
        } else {
            params[i] = (void *)args[i].value;
        }
    }

    if ((st = cu_push(ctx)) != LK_OK)
        return st;
    st = get_function(ctx, program, kernel, &uncached, &f);
    if (st == LK_OK && dyn_local > f->dyn_allowed) {
        CUresult r = api.p_cuFuncSetAttribute(f->fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                              (int)dyn_local);
        if (r == CUDA_SUCCESS)
            f->dyn_allowed = dyn_local;
        else
            st = lk_fail(ctx, LK_ERR_LAUNCH, "cuFuncSetAttribute(%s, %zu B dynamic shared memory): %s",
                         kernel, dyn_local, cu_name(r));
    }
    if (st == LK_OK) {
        CUresult r = api.p_cuLaunchKernel(f->fn, grid[0], grid[1], grid[2], block[0], block[1],
                                          block[2], (unsigned)dyn_local, NULL, params, NULL);
        if (r != CUDA_SUCCESS)
            st = lk_fail(ctx, LK_ERR_LAUNCH, "cuLaunchKernel(%s): %s", kernel, cu_name(r));
    }
    cu_pop();
    return st;
}

static lk_status cuda_sync(lk_context *ctx) {
    lk_status st = cu_push(ctx);
    if (st != LK_OK)
        return st;
    CUresult r = api.p_cuStreamSynchronize(NULL);
    cu_pop();
    return r == CUDA_SUCCESS ? LK_OK : cu_fail(ctx, r, "cuStreamSynchronize");
}

static lk_status cuda_timing_begin(lk_context *ctx) {
    const cu_state *s = ctx->be;
    lk_status st = cu_push(ctx);
    if (st != LK_OK)
        return st;
    CUresult r = api.p_cuEventRecord(s->start, NULL);
    cu_pop();
    return r == CUDA_SUCCESS ? LK_OK : cu_fail(ctx, r, "cuEventRecord");
}

static lk_status cuda_timing_end(lk_context *ctx, double *ms) {
    const cu_state *s = ctx->be;
    float elapsed = 0.0f;
    const char *call = "cuEventRecord";
    lk_status st = cu_push(ctx);
    if (st != LK_OK)
        return st;
    CUresult r = api.p_cuEventRecord(s->end, NULL);
    if (r == CUDA_SUCCESS && (r = api.p_cuEventSynchronize(s->end)) != CUDA_SUCCESS)
        call = "cuEventSynchronize";
    if (r == CUDA_SUCCESS && (r = api.p_cuEventElapsedTime(&elapsed, s->start, s->end)) != CUDA_SUCCESS)
        call = "cuEventElapsedTime";
    cu_pop();
    if (r != CUDA_SUCCESS)
        return cu_fail(ctx, r, call);
    *ms = elapsed;
    return LK_OK;
}

static lk_status cuda_gemm(lk_context *ctx, const lk_gemm_desc *g) {
    cu_state *s = ctx->be;
    lk_status st = cu_push(ctx);
    if (st != LK_OK)
        return st;
    st = lk_cuda_gemm(ctx, &s->blas, g);
    cu_pop();
    return st;
}

const lk_backend_ops lk_cuda_backend = {
    .kind = LK_BACKEND_CUDA,
    .name = "cuda",
    .available = cuda_available,
    .enumerate = cuda_enumerate,
    .open = cuda_open,
    .close = cuda_close,
    .buffer_alloc = cuda_buffer_alloc,
    .buffer_free = cuda_buffer_free,
    .buffer_write = cuda_buffer_write,
    .buffer_read = cuda_buffer_read,
    .buffer_copy = cuda_buffer_copy,
    .program_build = cuda_program_build,
    .program_free = cuda_program_free,
    .kernel_limits = cuda_kernel_limits,
    .launch = cuda_launch,
    .sync = cuda_sync,
    .timing_begin = cuda_timing_begin,
    .timing_end = cuda_timing_end,
    .gemm = cuda_gemm,
};

/* ---- public interop (longkern_cuda.h) ---------------------------------------------------------- */

lk_status lk_buffer_wrap_cuda(lk_context *ctx, unsigned long long device_ptr, size_t bytes,
                              lk_buffer **out) {
    int ordinal = -1;
    if (!ctx || !out)
        return lk_fail(ctx, LK_ERR_NULL_POINTER, "lk_buffer_wrap_cuda: NULL %s", ctx ? "out" : "ctx");
    if (ctx->ops->kind != LK_BACKEND_CUDA)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, "lk_buffer_wrap_cuda: not a CUDA context");
    if (device_ptr == 0)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, "lk_buffer_wrap_cuda: null device pointer");
    if (device_ptr % 16)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT,
                       "lk_buffer_wrap_cuda: 0x%llx is not 16-byte aligned (kernels read rows 16 bytes at a time):"
                       " wrap the allocation's start and give the element offset in lk_tensor.offset",
                       device_ptr);
    lk_status st = cu_push(ctx);
    if (st != LK_OK)
        return st;
    CUresult r = api.p_cuPointerGetAttribute(&ordinal, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL,
                                             (CUdeviceptr)device_ptr);
    cu_pop();
    if (r != CUDA_SUCCESS)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT,
                       "lk_buffer_wrap_cuda: 0x%llx is not CUDA device memory (%s)", device_ptr,
                       cu_name(r));
    if (ordinal != ctx->info.device)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT,
                       "lk_buffer_wrap_cuda: memory on device %d, context on device %d", ordinal,
                       ctx->info.device);
    return lk_buffer_wrap(ctx, (void *)(uintptr_t)device_ptr, bytes, out);
}

unsigned long long lk_buffer_cuda_ptr(const lk_buffer *buf) {
    if (!buf || !buf->ctx || buf->ctx->ops->kind != LK_BACKEND_CUDA)
        return 0;
    return (unsigned long long)(uintptr_t)buf->handle;
}
