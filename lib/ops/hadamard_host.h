/* Grouped-head Hadamard rotation, host side: checks and the launch shared by lk_hadamard and
 * the sparse KV cache (which keeps its permutation in its own device buffer). */
#ifndef LK_HADAMARD_HOST_H
#define LK_HADAMARD_HOST_H

#include "../core/internal.h"

/* G >= 1 dividing H, G*D a power of two <= 4096, perm (host, n entries) NULL or a permutation. */
lk_status lk_hadamard_check(lk_context *ctx, const char *op, int group, int64_t heads, int64_t head_dim,
                            const int32_t *perm);
/* Rotates x into out ([B, H, S, D], both of x's dtype) with perm a device I32 buffer of G*D entries or NULL.
 * Arguments must be valid. */
lk_status lk_hadamard_launch(lk_context *ctx, const lk_tensor *x, const lk_tensor *out, int group,
                             const lk_buffer *perm, int inverse);

#endif
