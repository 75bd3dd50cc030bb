/* Host reference of the sparse KV cache format and of the Hadamard rotation (kv_sparse_ref.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kv_sparse_ref.h"
#include "quant_ref.h"
#include "ref.h"

void ref_sparse_prune_row(const float *x, int D, int keep, uint8_t *mask)
{
    for (int d = 0; d < D; d++) {
        int beaten = 0;
        for (int j = 0; j < D; j++)
            beaten += fabsf(x[j]) > fabsf(x[d]) || (fabsf(x[j]) == fabsf(x[d]) && j < d);
        mask[d] = beaten < keep;
    }
}

int64_t ref_sparse_block_words(int keep, int bits) { return ((int64_t)64 * keep * bits + 31) / 32; }

/* Element e of tile t as an index into the block [64][D]. */
static int element(int D, int is_key, int t, int e) { return is_key ? e * D + t : (t / (D / 64)) * D + (t % (D / 64)) * 64 + e; }

void ref_sparse_block(const float *blk, int D, int keep, int bits, int is_key, uint64_t *bitmap, uint16_t *params,
                      uint32_t *words, float *restored)
{
    uint8_t *mask = malloc((size_t)64 * D), *codes = malloc((size_t)64 * D);
    float *vals = malloc(sizeof(float) * 64 * (size_t)D);
    for (int r = 0; r < 64; r++)
        ref_sparse_prune_row(blk + r * D, D, keep, mask + r * D);
    memset(words, 0, sizeof(uint32_t) * (size_t)ref_sparse_block_words(keep, bits));
    memset(restored, 0, sizeof(float) * 64 * (size_t)D);
    int per = 32 / bits;
    int64_t j = 0; /* stream position */
    for (int t = 0; t < D; t++) {
        uint64_t bm = 0;
        int n = 0;
        for (int e = 0; e < 64; e++)
            if (mask[element(D, is_key, t, e)]) {
                bm |= 1ull << e;
                vals[n++] = blk[element(D, is_key, t, e)];
            }
        bitmap[t] = bm;
        float scale = 0.0f, min = 0.0f;
        if (bits < 16 && n > 0)
            ref_quant_group(vals, n, 1, bits, codes, &scale, &min);
        params[2 * t] = bits < 16 ? ref_f2h(min) : 0;
        params[2 * t + 1] = bits < 16 ? ref_f2h(scale) : 0;
        for (int e = 0, i = 0; e < 64; e++) {
            if (!((bm >> e) & 1))
                continue;
            uint32_t code = bits == 16 ? ref_f2h(vals[i]) : codes[i];
            restored[element(D, is_key, t, e)] = bits == 16 ? ref_h2f((uint16_t)code) : ref_quant_dequant(codes[i], scale, min);
            words[j / per] |= code << ((j % per) * bits);
            i++;
            j++;
        }
    }
    free(mask);
    free(codes);
    free(vals);
}

void ref_hadamard(const double *x, double *out, int64_t B, int64_t H, int64_t S, int64_t D, int G, const int32_t *perm,
                  int inverse)
{
    int64_t n = G * D;
    double norm = 1.0 / sqrt((double)n);
    double *v = malloc(sizeof(double) * (size_t)n), *w = malloc(sizeof(double) * (size_t)n);
    for (int64_t b = 0; b < B; b++)
        for (int64_t g = 0; g < H / G; g++)
            for (int64_t s = 0; s < S; s++) {
                for (int64_t c = 0; c < n; c++) {
                    double xc = x[((b * H + g * G + c / D) * S + s) * D + c % D];
                    if (inverse)
                        v[perm ? perm[c] : c] = xc;
                    else
                        v[c] = xc;
                }
                for (int64_t i = 0; i < n; i++) {
                    double acc = 0;
                    for (int64_t k = 0; k < n; k++)
                        acc += (__builtin_popcountll((unsigned long long)(i & k)) & 1 ? -v[k] : v[k]);
                    w[i] = acc * norm;
                }
                for (int64_t c = 0; c < n; c++)
                    out[((b * H + g * G + c / D) * S + s) * D + c % D] = !inverse && perm ? w[perm[c]] : w[c];
            }
    free(v);
    free(w);
}
