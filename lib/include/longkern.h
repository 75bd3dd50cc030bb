/* longkern: portable kernels for long-context attention and KV-cache compression.
 *
 * The one public header (C99). No backend types appear here; interop with OpenCL and CUDA
 * lives in longkern_opencl.h and longkern_cuda.h.
 *
 * Conventions: every call returns lk_status (LK_OK = 0, errors negative); the context keeps the
 * message of its last error (lk_last_error). Tensors are descriptors over caller-owned buffers
 * with strides in elements. Calls are asynchronous on the context's queue/stream; lk_sync waits.
 * A bad argument returns an error before anything is launched. */
#ifndef LONGKERN_H
#define LONGKERN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LK_VERSION_MAJOR 0
#define LK_VERSION_MINOR 1
#define LK_VERSION_PATCH 0

typedef enum lk_status {
    LK_OK = 0,
    LK_ERR_INVALID_ARGUMENT = -1, /* a value out of range (scale, theta, ...) */
    LK_ERR_NULL_POINTER = -2,     /* a required pointer is NULL */
    LK_ERR_SHAPE = -3,            /* shapes or strides do not agree */
    LK_ERR_DTYPE = -4,            /* a dtype the op does not take */
    LK_ERR_UNSUPPORTED = -5,      /* valid but not implemented (e.g. head_dim 96) */
    LK_ERR_ALIAS = -6,            /* an output overlaps an input it may not overlap */
    LK_ERR_NO_DEVICE = -7,        /* no device matches the request */
    LK_ERR_BACKEND_UNAVAILABLE = -8, /* backend not compiled in, or its driver is missing */
    LK_ERR_OUT_OF_MEMORY = -9,
    LK_ERR_BUILD = -10,           /* kernel compilation failed (log in lk_last_error) */
    LK_ERR_LAUNCH = -11,          /* the device refused a launch */
    LK_ERR_DEVICE = -12,          /* any other error reported by the device runtime */
    LK_ERR_IO = -13,              /* file system */
    LK_ERR_DATABASE = -14,        /* tuning database */
    LK_ERR_CAPACITY = -15,        /* a cache is full */
    LK_ERR_CORRUPT_DATA = -16,    /* a compressed buffer failed validation */
    LK_ERR_BOUNDS = -17           /* a buffer is too small for the tensor that views it */
} lk_status;

/* Short constant text for a status ("invalid argument", ...). */
const char *lk_status_str(lk_status status);

typedef enum lk_backend_kind {
    LK_BACKEND_ANY = 0,
    LK_BACKEND_OPENCL = 1,
    LK_BACKEND_CUDA = 2
} lk_backend_kind;

typedef enum lk_dtype {
    LK_F32 = 0,
    LK_F16 = 1, /* stored as IEEE half, computed in fp32 */
    LK_I32 = 2,
    LK_U32 = 3
} lk_dtype;

size_t lk_dtype_size(lk_dtype dtype);
const char *lk_dtype_name(lk_dtype dtype);

typedef struct lk_context lk_context;
typedef struct lk_buffer lk_buffer;

/* ---- devices and contexts ------------------------------------------------------------- */

/* Which device a context binds to. Fields left at their zero/-1 values mean "any". */
typedef struct lk_device_request {
    lk_backend_kind backend;   /* LK_BACKEND_ANY: CUDA GPU, else OpenCL GPU, else OpenCL CPU */
    int platform;              /* OpenCL platform index, -1 = any */
    int device;                /* device index within the platform (or CUDA ordinal), -1 = any */
    const char *name_contains; /* case-insensitive substring of platform or device name, or NULL */
} lk_device_request;

/* The request that means "default": env LK_DEVICE if set, else the documented default. */
lk_device_request lk_device_request_default(void);

/* Parse "opencl", "opencl:P:D", "opencl:NAME", "cuda", "cuda:N", "any" into a request.
 * name_contains points into spec, which must outlive the request. */
lk_status lk_device_request_parse(const char *spec, lk_device_request *out);

typedef enum lk_device_type { LK_DEVICE_CPU = 1, LK_DEVICE_GPU = 2, LK_DEVICE_OTHER = 3 } lk_device_type;

typedef struct lk_device_info {
    lk_backend_kind backend;
    int platform, device;
    lk_device_type type;
    char platform_name[128];
    char vendor[128];
    char name[128];
    char driver[64];
    int compute_units;
    size_t local_mem_bytes;    /* per work-group (shared memory per block) */
    size_t local_mem_optin_bytes; /* per work-group for kernels that take it at launch: CUDA's opt-in
                                     dynamic shared memory per block (227 KB on sm_90); OpenCL: local_mem_bytes */
    size_t global_mem_bytes;
    size_t max_work_group;
    int clock_mhz;
    int cc_major, cc_minor;     /* NVIDIA compute capability, 0 elsewhere */
    char fingerprint[384];      /* backend|vendor|name|driver|CUs|local mem|clock */
} lk_device_info;

/* Enumerate every device of every backend that is present. Fills up to max entries and sets
 * *count to the number found (which may exceed max). Backends whose driver is missing are
 * skipped; lk_backend_available() says why. */
lk_status lk_list_devices(lk_device_info *out, int max, int *count);

/* LK_OK if the backend is compiled in and its driver loads; otherwise an error, and *why (if
 * not NULL) points to a static text saying why. */
lk_status lk_backend_available(lk_backend_kind backend, const char **why);

/* request NULL: lk_device_request_default(). */
lk_status lk_context_create(lk_context **out, const lk_device_request *request);
void lk_context_destroy(lk_context *ctx); /* NULL is a no-op */
const lk_device_info *lk_context_device(const lk_context *ctx);
/* The message of the last failed call on ctx; with ctx NULL, why the last lk_context_create on
 * this thread failed. */
const char *lk_last_error(const lk_context *ctx);
lk_status lk_sync(lk_context *ctx);

/* Text describing the kernel launch of the most recent op call on ctx ("" when that call
 * failed before launching anything): the op, the tuned
 * parameters it ran with and where they came from ("attention_fwd VARIANT=1 BLOCK_M=64 ...
 * [source=user-db]"). For logs, tests and the tuner. */
const char *lk_last_launch(const lk_context *ctx);
/* The version of the kernel sources built into the library: 12 hex digits of a SHA-1 over cl/ at
 * build time. lk-tune stores it with every measurement, and once a key has a measurement with
 * other kernels than its older rows, those older rows stop counting (docs/ARCHITECTURE.md). */
const char *lk_kernels_version(void);

/* ---- buffers ------------------------------------------------------------------------ */

lk_status lk_buffer_alloc(lk_context *ctx, size_t bytes, lk_buffer **out);
void lk_buffer_free(lk_buffer *buf); /* NULL is a no-op; a wrapped buffer's memory is not freed */
size_t lk_buffer_size(const lk_buffer *buf);
lk_status lk_buffer_write(lk_context *ctx, lk_buffer *dst, size_t offset, const void *src, size_t bytes);
lk_status lk_buffer_read(lk_context *ctx, const lk_buffer *src, size_t offset, void *dst, size_t bytes);
/* Overlapping ranges of one buffer are LK_ERR_ALIAS. */
lk_status lk_buffer_copy(lk_context *ctx, lk_buffer *dst, size_t dst_offset, const lk_buffer *src,
                         size_t src_offset, size_t bytes);

/* ---- tensors ------------------------------------------------------------------------ */

#define LK_MAX_DIMS 6

typedef struct lk_tensor {
    lk_dtype dtype;
    int ndim;
    int64_t shape[LK_MAX_DIMS];
    int64_t strides[LK_MAX_DIMS]; /* in elements */
    lk_buffer *buffer;
    int64_t offset;               /* in elements */
} lk_tensor;

/* A contiguous row-major tensor over buf (strides derived from shape). ndim outside
 * 0..LK_MAX_DIMS gives a tensor every op rejects (LK_ERR_SHAPE).
 * Every op takes any non-negative strides and offset whose elements lie in the buffer (at most
 * 2^62 elements); an input may repeat elements (a zero stride broadcasts), an output may not
 * (LK_ERR_ALIAS: its writes would race). */
lk_tensor lk_tensor_make(lk_buffer *buf, lk_dtype dtype, int ndim, const int64_t *shape);
/* Shorthand for the [B, H, S, D] layout the attention ops use. */
lk_tensor lk_tensor_bhsd(lk_buffer *buf, lk_dtype dtype, int64_t b, int64_t h, int64_t s, int64_t d);

/* ---- RoPE --------------------------------------------------------------------------- */

typedef enum lk_rope_layout {
    LK_ROPE_HALF_SPLIT = 0,  /* pairs (i, i + D/2): HF Llama rotate_half, GPT-NeoX */
    LK_ROPE_INTERLEAVED = 1  /* pairs (2i, 2i + 1): GPT-J, Meta reference code */
} lk_rope_layout;

typedef enum lk_rope_scaling {
    LK_ROPE_SCALING_NONE = 0,
    LK_ROPE_SCALING_LINEAR = 1, /* position interpolation: every frequency divided by factor */
    LK_ROPE_SCALING_LLAMA3 = 2  /* Llama-3.1: low frequencies / factor, high kept, smooth between */
} lk_rope_scaling;

typedef struct lk_rope_params {
    lk_rope_layout layout;
    double theta;                  /* base, e.g. 10000 or 500000 */
    lk_rope_scaling scaling;
    double factor;                 /* linear and llama3 */
    double low_freq_factor;        /* llama3 (1.0) */
    double high_freq_factor;       /* llama3 (4.0) */
    int64_t original_max_position; /* llama3 (8192) */
    /* Positions: position_ids (I32, shape [S] or [B, S]) when not NULL, else position_offset + s.
     * Positions must lie in [0, 2^24). */
    int64_t position_offset;
    const lk_tensor *position_ids;
} lk_rope_params;

/* theta 10000, half-split, no scaling, offset 0. */
lk_rope_params lk_rope_params_default(void);

/* Rotate x [B, H, S, D] (F32 or F16, any strides) into out (same shape and dtype); out may be
 * x itself (in place) but may not partially overlap it. D even, at most 256. */
lk_status lk_rope(lk_context *ctx, const lk_tensor *x, lk_tensor *out, const lk_rope_params *rope);

/* ---- attention forward -------------------------------------------------------------- */

typedef enum lk_rope_variant {
    LK_ROPE_VARIANT_AUTO = -1,    /* the tuning database decides per sequence length */
    LK_ROPE_FUSED = 0,            /* Q rotated once per Q tile, each K tile rotated in the loop */
    LK_ROPE_K_PREPASS = 1,        /* Q rotated in the kernel, K rotated once into scratch */
    LK_ROPE_UNFUSED = 2           /* lk_rope on Q and K into scratch, then plain attention */
} lk_rope_variant;

typedef struct lk_attention_params {
    int causal;        /* bottom-right aligned: query i sees keys j <= i + (Sk - Sq) */
    double scale;      /* 0: 1/sqrt(D) */
    /* RoPE applied to Q and K inside the op, or NULL. K positions follow rope->position_offset
     * (or k_position_ids); Q positions are the K positions shifted by Sk - Sq (or q_position_ids). */
    const lk_rope_params *rope;
    const lk_tensor *q_position_ids; /* I32 [Sq] or [B, Sq], or NULL */
    const lk_tensor *k_position_ids; /* I32 [Sk] or [B, Sk], or NULL */
    lk_rope_variant rope_variant;    /* LK_ROPE_VARIANT_AUTO unless forcing one */
} lk_attention_params;

lk_attention_params lk_attention_params_default(void);

/* o = softmax(scale · rope(q) · rope(k)ᵀ [+ causal mask]) · v
 * q [B, Hq, Sq, D], k and v [B, Hkv, Sk, D] with Hq a multiple of Hkv (GQA/MQA), o like q.
 * F32 or F16 (all four the same), D in {64, 128, 256}, any strides. lse (optional, F32
 * [B, Hq, Sq]) receives the natural-log logsumexp of each scaled score row (what the backward
 * pass needs); a fully masked row gets -inf in lse and zeros in o. */
lk_status lk_attention_fwd(lk_context *ctx, const lk_tensor *q, const lk_tensor *k, const lk_tensor *v,
                           lk_tensor *o, lk_tensor *lse, const lk_attention_params *params);

/* ---- tuning ---- */

/* Ops take their kernel parameters (tile sizes, pipeline stages, variant) from the tuning
 * database: LK_TUNING_DB, then the user DB ($XDG_DATA_HOME/longkern/tuning.db), then the system
 * DB installed from results/, then built-in defaults. These calls set parameters by hand for
 * one context; an override wins over every database.
 *
 * op is a tuned op's name (attention_fwd, attention_bwd, attention_decode, kda_fwd, kv_sparse,
 * kivi_decode, lowrank_decode; another name is LK_ERR_INVALID_ARGUMENT), or "op:family" to set
 * one variant family only. flag is
 * op-specific (causal for attention). length 0 means every length; otherwise the override
 * applies to lengths in the same power-of-two bucket (e.g. 3000 covers 2049..4096), and it wins
 * over an every-length one. params ("BLOCK_M=64,BLOCK_N=32") are laid over the op's built-in
 * defaults. Setting the same key again replaces the earlier parameters. */
lk_status lk_tuning_override(lk_context *ctx, const char *op, lk_dtype dtype, int head_dim, int flag,
                             int64_t length, const char *params);
lk_status lk_tuning_clear_overrides(lk_context *ctx);

/* Writes into buf (truncated to n) what a lookup for this key would give, over empty defaults:
 * "BLOCK_M=64,BLOCK_N=32 source=user-db match=exact bucket=4096 path=/home/u/.local/share/...".
 * source: override, env-db, user-db, system-db or default; match: exact, device-name,
 * vendor-type or none. "(built-in defaults)" stands for no parameters. */
lk_status lk_tuning_describe(lk_context *ctx, const char *op, lk_dtype dtype, int head_dim, int flag,
                             int64_t length, char *buf, size_t n);

#ifdef __cplusplus
}
#endif

#include "longkern_kvcache.h" /* decode attention, sparse KV cache (Mustafar, RotateKV) */
#include "longkern_kivi.h" /* quantized KV caches (KIVI, low-rank latents) */
#include "longkern_kda.h" /* Kimi Delta Attention */
#include "longkern_attention_bwd.h" /* attention backward (dq, dk, dv) with fused RoPE */
#endif
