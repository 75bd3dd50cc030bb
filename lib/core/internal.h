/* Internal state shared by the core, the backends and the ops. Not installed. */
#ifndef LK_INTERNAL_H
#define LK_INTERNAL_H

#include <stdarg.h>
#include <stdio.h>

#include "longkern.h"
#include "../backend/backend.h"

struct lk_program_cache; /* program_cache.c */
struct lk_tunedb;        /* ../tunedb/tunedb.h */

struct lk_context {
    const lk_backend_ops *ops;
    void *be;                        /* backend state */
    lk_device_info info;
    char last_error[4096];
    char last_launch[512];
    struct lk_program_cache *programs;
    struct lk_tunedb *tunedb;        /* opened lazily by the first tuned lookup */
    struct lk_scratch *scratch;      /* see scratch.c */
};

struct lk_buffer {
    lk_context *ctx;
    void *handle;    /* cl_mem, or a CUdeviceptr stored as a pointer-sized integer */
    size_t bytes;
    int owned;       /* 0 for wrapped external memory */
    uint64_t serial; /* unique in the process, never 0: a freed handle's value may come back */
};

/* Record an error on ctx (may be NULL) and return status. printf-style message. */
lk_status lk_fail(lk_context *ctx, lk_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void lk_clear_error(lk_context *ctx);
/* Why the last lk_context_create on this thread failed ("" if it did not). */
const char *lk_context_creation_error(void);
/* 1 on an NVIDIA GPU of compute capability 8 or newer: the tensor-core kernels (cl/mma_nv.h:
 * mma.sync with f16 operands, ldmatrix, cp.async) run there. */
int lk_device_tensor_cores(const lk_device_info *dev);

/* Logging: LK_LOG=error|warn|info|debug (default warn), to stderr. */
typedef enum lk_log_level { LK_LOG_ERROR = 0, LK_LOG_WARN = 1, LK_LOG_INFO = 2, LK_LOG_DEBUG = 3 } lk_log_level;
void lk_log(lk_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int lk_log_enabled(lk_log_level level);

/* 64-bit FNV-1a, chained: h = lk_hash(h, data, n), start with LK_HASH_SEED. */
#define LK_HASH_SEED 1469598103934665603ULL
uint64_t lk_hash(uint64_t h, const void *data, size_t n);

/* Wrap an existing device handle as an lk_buffer (used by the interop headers). */
lk_status lk_buffer_wrap(lk_context *ctx, void *handle, size_t bytes, lk_buffer **out);

#endif
