/* Reference RoPE: angles in fp64 straight from the definition. */
#include <math.h>
#include <stdlib.h>

#include "ref.h"

double ref_rope_frequency(const lk_rope_params *r, int i, int head_dim)
{
    double inv_freq = 1.0 / pow(r->theta, (2.0 * i) / head_dim);
    switch (r->scaling) {
    case LK_ROPE_SCALING_LINEAR:
        return inv_freq / r->factor;
    case LK_ROPE_SCALING_LLAMA3: {
        double old = (double)r->original_max_position;
        double wavelen = 2.0 * M_PI / inv_freq;
        if (wavelen < old / r->high_freq_factor)
            return inv_freq;
        if (wavelen > old / r->low_freq_factor)
            return inv_freq / r->factor;
        double smooth = (old / wavelen - r->low_freq_factor) / (r->high_freq_factor - r->low_freq_factor);
        return (1.0 - smooth) * inv_freq / r->factor + smooth * inv_freq;
    }
    default:
        return inv_freq;
    }
}

/* Rotates every pair of x [B, H, S, D] in place by sign * angle (sign -1: the transpose). */
static void rotate(double *x, int64_t B, int64_t H, int64_t S, int64_t D, const lk_rope_params *rope,
                   const int32_t *positions, int64_t offset, double sign)
{
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t s = 0; s < S; s++) {
                double *row = x + ((b * H + h) * S + s) * D;
                double pos = positions ? positions[b * S + s] : (double)(offset + s);
                for (int64_t i = 0; i < D / 2; i++) {
                    int64_t d1 = rope->layout == LK_ROPE_INTERLEAVED ? 2 * i : i;
                    int64_t d2 = rope->layout == LK_ROPE_INTERLEAVED ? 2 * i + 1 : i + D / 2;
                    double angle = pos * ref_rope_frequency(rope, (int)i, (int)D);
                    double c = cos(angle), sn = sign * sin(angle);
                    double x1 = row[d1], x2 = row[d2];
                    row[d1] = x1 * c - x2 * sn;
                    row[d2] = x2 * c + x1 * sn;
                }
            }
}

void ref_rope(const float *x, double *out, int64_t B, int64_t H, int64_t S, int64_t D, const lk_rope_params *rope,
              const int32_t *positions, int64_t offset)
{
    for (int64_t i = 0; i < B * H * S * D; i++)
        out[i] = x[i];
    rotate(out, B, H, S, D, rope, positions, offset, 1.0);
}

void ref_rope_inverse(double *x, int64_t B, int64_t H, int64_t S, int64_t D, const lk_rope_params *rope,
                      const int32_t *positions, int64_t offset)
{
    rotate(x, B, H, S, D, rope, positions, offset, -1.0);
}
