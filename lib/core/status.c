/* Status texts, the per-context last-error message, and logging (LK_LOG). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

const char *lk_status_str(lk_status status)
{
    switch (status) {
    case LK_OK: return "ok";
    case LK_ERR_INVALID_ARGUMENT: return "invalid argument";
    case LK_ERR_NULL_POINTER: return "null pointer";
    case LK_ERR_SHAPE: return "shape mismatch";
    case LK_ERR_DTYPE: return "unsupported dtype";
    case LK_ERR_UNSUPPORTED: return "unsupported";
    case LK_ERR_ALIAS: return "output aliases an input";
    case LK_ERR_NO_DEVICE: return "no matching device";
    case LK_ERR_BACKEND_UNAVAILABLE: return "backend unavailable";
    case LK_ERR_OUT_OF_MEMORY: return "out of memory";
    case LK_ERR_BUILD: return "kernel build failed";
    case LK_ERR_LAUNCH: return "kernel launch failed";
    case LK_ERR_DEVICE: return "device error";
    case LK_ERR_IO: return "i/o error";
    case LK_ERR_DATABASE: return "tuning database error";
    case LK_ERR_CAPACITY: return "capacity exceeded";
    case LK_ERR_CORRUPT_DATA: return "corrupt data";
    case LK_ERR_BOUNDS: return "buffer too small";
    }
    return "unknown status";
}

lk_status lk_fail(lk_context *ctx, lk_status status, const char *fmt, ...)
{
    char msg[sizeof ctx->last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (ctx)
        snprintf(ctx->last_error, sizeof ctx->last_error, "%s", msg);
    lk_log(LK_LOG_DEBUG, "error %d (%s): %s", (int)status, lk_status_str(status), msg);
    return status;
}

void lk_clear_error(lk_context *ctx)
{
    if (ctx)
        ctx->last_error[0] = '\0';
}

const char *lk_last_error(const lk_context *ctx)
{
    return ctx ? ctx->last_error : lk_context_creation_error();
}

static int log_threshold(void)
{
    static int level = -1;
    if (level < 0) {
        const char *e = getenv("LK_LOG");
        static const char *names[] = {"error", "warn", "info", "debug"};
        level = LK_LOG_WARN;
        for (int i = 0; e && i < 4; i++)
            if (strcasecmp(e, names[i]) == 0)
                level = i;
    }
    return level;
}

int lk_log_enabled(lk_log_level level)
{
    return (int)level <= log_threshold();
}

void lk_log(lk_log_level level, const char *fmt, ...)
{
    static const char *tags[] = {"error", "warn", "info", "debug"};
    if (!lk_log_enabled(level))
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "longkern %s: ", tags[level]);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

uint64_t lk_hash(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}
