/* Contexts: device discovery across backends, selection (API request or LK_DEVICE), and the
 * lifetime of everything a context owns (backend state, program cache, tuning view). */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "program.h"
#include "scratch.h"
#include "../tunedb/tunedb.h"

const lk_backend_ops *const lk_backends[] = {
#ifdef LK_HAVE_CUDA
    &lk_cuda_backend,
#endif
#ifdef LK_HAVE_OPENCL
    &lk_opencl_backend,
#endif
    NULL};

#define MAX_DEVICES 64

/* Messages of failures that happen before a context exists (lk_last_error(NULL)). */
static _Thread_local char creation_error[sizeof ((lk_context *)0)->last_error];

static const lk_backend_ops *backend_of(lk_backend_kind kind)
{
    for (int i = 0; lk_backends[i]; i++)
        if (lk_backends[i]->kind == kind)
            return lk_backends[i];
    return NULL;
}

lk_status lk_backend_available(lk_backend_kind backend, const char **why)
{
    const lk_backend_ops *ops = backend_of(backend);
    if (!ops) {
        if (why)
            *why = backend == LK_BACKEND_CUDA ? "the CUDA backend is not compiled in (LK_CUDA=OFF)"
                                              : "the OpenCL backend is not compiled in (LK_OPENCL=OFF)";
        return LK_ERR_BACKEND_UNAVAILABLE;
    }
    const char *reason = NULL;
    lk_status st = ops->available(&reason);
    if (why)
        *why = st == LK_OK ? "" : reason;
    return st;
}

lk_status lk_list_devices(lk_device_info *out, int max, int *count)
{
    if (!count || (max > 0 && !out))
        return LK_ERR_NULL_POINTER;
    *count = 0;
    for (int i = 0; lk_backends[i]; i++) {
        const char *why;
        if (lk_backends[i]->available(&why) == LK_OK)
            lk_backends[i]->enumerate(out, max, count);
    }
    return LK_OK;
}

lk_status lk_device_request_parse(const char *spec, lk_device_request *out)
{
    if (!spec || !out)
        return LK_ERR_NULL_POINTER;
    lk_device_request r = {LK_BACKEND_ANY, -1, -1, NULL};
    const char *rest = strchr(spec, ':');
    size_t head = rest ? (size_t)(rest - spec) : strlen(spec);
    if (head == 6 && strncasecmp(spec, "opencl", 6) == 0)
        r.backend = LK_BACKEND_OPENCL;
    else if (head == 4 && strncasecmp(spec, "cuda", 4) == 0)
        r.backend = LK_BACKEND_CUDA;
    else if (!(head == 3 && strncasecmp(spec, "any", 3) == 0) && head != 0)
        return LK_ERR_INVALID_ARGUMENT;
    if (rest && rest[1]) {
        rest++;
        if (isdigit((unsigned char)rest[0])) {
            char *end;
            errno = 0;
            long a = strtol(rest, &end, 10);
            if (errno == ERANGE || a > INT_MAX)
                return LK_ERR_INVALID_ARGUMENT;
            if (*end == ':' && isdigit((unsigned char)end[1])) {
                char *end2;
                long b = strtol(end + 1, &end2, 10);
                if (*end2 || errno == ERANGE || b > INT_MAX)
                    return LK_ERR_INVALID_ARGUMENT;
                r.platform = (int)a;
                r.device = (int)b;
            } else if (*end == '\0') {
                /* "cuda:N" is an ordinal, "opencl:P" a platform */
                if (r.backend == LK_BACKEND_CUDA)
                    r.device = (int)a;
                else
                    r.platform = (int)a;
            } else {
                return LK_ERR_INVALID_ARGUMENT;
            }
        } else {
            r.name_contains = rest;
        }
    }
    *out = r;
    return LK_OK;
}

lk_device_request lk_device_request_default(void)
{
    lk_device_request r = {LK_BACKEND_ANY, -1, -1, NULL};
    const char *env = getenv("LK_DEVICE");
    if (env && *env && lk_device_request_parse(env, &r) != LK_OK) {
        lk_log(LK_LOG_WARN, "LK_DEVICE='%s' is not understood (want opencl[:P:D|:NAME], cuda[:N] or any); "
               "using the default device", env);
        r = (lk_device_request){LK_BACKEND_ANY, -1, -1, NULL};
    }
    return r;
}

static int contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return 1;
    return 0;
}

static int matches(const lk_device_info *d, const lk_device_request *r)
{
    if (r->backend != LK_BACKEND_ANY && d->backend != r->backend)
        return 0;
    if (r->platform >= 0 && d->platform != r->platform)
        return 0;
    if (r->device >= 0 && d->device != r->device)
        return 0;
    if (r->name_contains && !contains_ci(d->name, r->name_contains) &&
        !contains_ci(d->platform_name, r->name_contains))
        return 0;
    return 1;
}

/* Default preference: CUDA GPU, then OpenCL GPU, then anything else in enumeration order. */
static int rank(const lk_device_info *d)
{
    if (d->type == LK_DEVICE_GPU)
        return d->backend == LK_BACKEND_CUDA ? 0 : 1;
    return 2;
}

static lk_status pick_device(const lk_device_request *r, lk_device_info *chosen)
{
    lk_device_info all[MAX_DEVICES];
    int n = 0;
    lk_list_devices(all, MAX_DEVICES, &n);
    if (n > MAX_DEVICES)
        n = MAX_DEVICES;
    int best = -1;
    for (int i = 0; i < n; i++)
        if (matches(&all[i], r) && (best < 0 || rank(&all[i]) < rank(&all[best])))
            best = i;
    if (best < 0) {
        const char *why = "";
        if (r->backend != LK_BACKEND_ANY && lk_backend_available(r->backend, &why) != LK_OK) {
            snprintf(creation_error, sizeof creation_error, "%s backend unavailable: %s",
                     r->backend == LK_BACKEND_CUDA ? "CUDA" : "OpenCL", why);
            return LK_ERR_BACKEND_UNAVAILABLE;
        }
        snprintf(creation_error, sizeof creation_error,
                 "no device matches the request (backend %d, platform %d, device %d, name '%s'); "
                 "%d device(s) present (run lk-info)", (int)r->backend, r->platform, r->device,
                 r->name_contains ? r->name_contains : "", n);
        return LK_ERR_NO_DEVICE;
    }
    *chosen = all[best];
    return LK_OK;
}

lk_status lk_context_create(lk_context **out, const lk_device_request *request)
{
    if (!out)
        return LK_ERR_NULL_POINTER;
    *out = NULL;
    creation_error[0] = '\0';
    lk_device_request r = request ? *request : lk_device_request_default();
    if ((int)r.backend < LK_BACKEND_ANY || r.backend > LK_BACKEND_CUDA || r.platform < -1 || r.device < -1) {
        snprintf(creation_error, sizeof creation_error,
                 "lk_context_create: unknown backend %d, or platform %d / device %d below -1 (-1: any)", (int)r.backend,
                 r.platform, r.device);
        return LK_ERR_INVALID_ARGUMENT;
    }
    lk_device_info info;
    lk_status st = pick_device(&r, &info);
    if (st != LK_OK) {
        lk_log(LK_LOG_INFO, "%s", creation_error);
        return st;
    }
    lk_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return LK_ERR_OUT_OF_MEMORY;
    ctx->ops = backend_of(info.backend);
    ctx->info = info;
    st = ctx->ops->open(ctx, &info);
    if (st != LK_OK) {
        snprintf(creation_error, sizeof creation_error, "%s", ctx->last_error);
        free(ctx);
        return st;
    }
    lk_log(LK_LOG_INFO, "context on %s device '%s' (%s)", ctx->ops->name, ctx->info.name, ctx->info.driver);
    *out = ctx;
    return LK_OK;
}

void lk_context_destroy(lk_context *ctx)
{
    if (!ctx)
        return;
    lk_sync(ctx);
    lk_scratch_release(ctx);
    lk_program_cache_destroy(ctx);
    lk_tunedb_context_free(ctx);
    ctx->ops->close(ctx);
    free(ctx);
}

const lk_device_info *lk_context_device(const lk_context *ctx)
{
    return ctx ? &ctx->info : NULL;
}

int lk_device_tensor_cores(const lk_device_info *dev)
{
    return dev->type == LK_DEVICE_GPU && dev->cc_major >= 8;
}

const char *lk_context_creation_error(void)
{
    return creation_error;
}

lk_status lk_sync(lk_context *ctx)
{
    if (!ctx)
        return LK_ERR_NULL_POINTER;
    return ctx->ops->sync(ctx);
}

const char *lk_last_launch(const lk_context *ctx)
{
    return ctx ? ctx->last_launch : "";
}
