/* The low-rank latent cache from its definitions, for tests and the tuner. */
#include <stdlib.h>

#include "lowrank_ref.h"
#include "ref.h"

void ref_lowrank_project(const float *x, const float *w, int64_t B, int64_t S, int64_t hidden, int64_t groups,
                         int64_t r, float *latents)
{
    int64_t cols = groups * r;
    for (int64_t b = 0; b < B; b++)
        for (int64_t s = 0; s < S; s++)
            for (int64_t col = 0; col < cols; col++) {
                double sum = 0;
                for (int64_t h = 0; h < hidden; h++)
                    sum += (double)x[(b * S + s) * hidden + h] * w[h * cols + col];
                latents[((b * groups + col / r) * S + s) * r + col % r] = (float)sum;
            }
}

void ref_lowrank_rebuild(const float *latents, const float *up, int64_t B, int64_t Hkv, int64_t hpg, int64_t n,
                         int64_t r, int64_t HD, const lk_rope_params *rope, float *out)
{
    size_t count = (size_t)(B * Hkv * n * HD);
    float *plain = malloc(count * sizeof *plain);
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < Hkv; j++)
            for (int64_t t = 0; t < n; t++)
                for (int64_t d = 0; d < HD; d++) {
                    const float *lat = latents + ((b * (Hkv / hpg) + j / hpg) * n + t) * r;
                    double sum = 0;
                    for (int64_t c = 0; c < r; c++)
                        sum += (double)lat[c] * up[(j * r + c) * HD + d];
                    plain[((b * Hkv + j) * n + t) * HD + d] = (float)sum;
                }
    if (rope) {
        double *rotated = malloc(count * sizeof *rotated);
        ref_rope(plain, rotated, B, Hkv, n, HD, rope, NULL, rope->position_offset);
        for (size_t i = 0; i < count; i++)
            out[i] = (float)rotated[i];
        free(rotated);
    } else {
        for (size_t i = 0; i < count; i++)
            out[i] = plain[i];
    }
    free(plain);
}
