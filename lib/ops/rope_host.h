/* RoPE pieces shared by lk_rope and the attention variants: parameter checks, the frequency
 * buffer (turns per position, hi/lo), position-id checks and the rope / rope_table launches. */
#ifndef LK_ROPE_HOST_H
#define LK_ROPE_HOST_H

#include "../core/internal.h"
#include "../core/launch.h"

/* Highest position the angle reduction keeps exact (rope_math.h). */
#define LK_ROPE_MAX_POSITION (1LL << 24)

/* The params themselves: layout, theta, scaling (finite factors), position_offset in [0, 2^24),
 * and position_ids only where the op takes them (ids_instead NULL; otherwise the reason they do
 * not apply, for the message). */
lk_status lk_rope_check(lk_context *ctx, const char *op, const lk_rope_params *rope, int64_t head_dim,
                        const char *ids_instead);
/* ids NULL, or I32 [S] / [B, S]; with ids NULL, offset + S must stay below the maximum (offset
 * may be any int64: it is compared, never added unchecked). */
lk_status lk_rope_check_positions(lk_context *ctx, const char *op, const char *arg, const lk_tensor *ids,
                                  int64_t B, int64_t S, int64_t offset);
/* The per-pair frequency in turns (hi, lo), 2 * D/2 floats, for these params (host math, fp64). */
void lk_rope_turns(const lk_rope_params *rope, int head_dim, float *out);
/* A device buffer with lk_rope_turns, cached in the context's scratch while params repeat. */
lk_status lk_rope_freq_buffer(lk_context *ctx, const lk_rope_params *rope, int head_dim, lk_buffer **out);

/* Kernel arguments of a position source: ids buffer, offset, [batch stride,] row stride, then
 * the position offset used without ids (rope_math.h's lk_rope_position). */
void lk_rope_args_positions(lk_args *a, const lk_tensor *ids, int64_t offset, int with_batch_stride);

/* Rotate x into out ([B, H, S, D], dtype of x) with positions ids or offset + s. LK_ROPE_INVERSE
 * rotates by minus each angle (the transpose): it takes a gradient w.r.t. rope(x) to one w.r.t. x. */
typedef enum lk_rope_direction { LK_ROPE_FORWARD = 0, LK_ROPE_INVERSE = 1 } lk_rope_direction;
lk_status lk_rope_launch(lk_context *ctx, const lk_tensor *x, const lk_tensor *out, const lk_rope_params *rope,
                         const lk_tensor *ids, int64_t offset, lk_rope_direction direction);
/* table[j][i] = (cos, sin) for j < S (positions ids [S] or offset + j), 2 * S * D/2 floats. */
lk_status lk_rope_table_launch(lk_context *ctx, lk_buffer *table, int64_t S, int head_dim,
                               const lk_rope_params *rope, const lk_tensor *ids, int64_t offset);

#endif
