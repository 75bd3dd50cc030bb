/* Programs: cl/<name>.cl compiled for the context's device with -D parameters.
 *
 * The source is the .cl file with its `#include "x.h"` lines expanded from cl/, embedded at
 * build time (or read from LK_KERNEL_DIR when set). Built programs are cached in memory per context and on disk (key: hash of source,
 * options, device fingerprint and backend), written by temp file + rename. */
#ifndef LK_PROGRAM_H
#define LK_PROGRAM_H

#include "internal.h"
#include "params.h"

/* The text of cl/<name>.cl with its includes expanded, or NULL (error set on ctx). Caller frees. */
char *lk_kernel_source(lk_context *ctx, const char *name);

/* The program for cl/<name>.cl built with `defines` (may be NULL). Owned by the context. */
lk_status lk_program_get(lk_context *ctx, const char *name, const lk_params *defines, void **program);

void lk_program_cache_destroy(lk_context *ctx);

/* Directory of the on-disk cache: LK_CACHE_DIR, else $XDG_CACHE_HOME/longkern, else
 * ~/.cache/longkern. "" disables it (LK_CACHE_DIR=""). */
const char *lk_program_cache_dir(void);

#endif
