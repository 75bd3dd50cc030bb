/* Host model of the KIVI cache, written from the definitions with ref/quant_ref.c. */
#include <stdlib.h>

#include "kivi_ref.h"
#include "quant_ref.h"
#include "ref.h"

int64_t ref_kivi_quantized_keys(const ref_kivi_shape *s, int64_t n) { return n - n % s->R; }
int64_t ref_kivi_quantized_values(const ref_kivi_shape *s, int64_t n) { return n > s->R ? n - s->R : 0; }

/* Quantizes one group of G values (stride apart) and writes its codes at code positions
 * first, first + code_step, ... of the packed row `words`, its parameters at params[2*p], and
 * the dequantized values back over x. */
static void group(float *x, int64_t stride, int G, int bits, uint32_t *words, int64_t first, float *params,
                  int64_t p)
{
    uint8_t codes[1024];
    float scale, min;
    ref_quant_group(x, G, stride, bits, codes, &scale, &min);
    int per_word = 32 / bits;
    for (int i = 0; i < G; i++) {
        int64_t c = first + i;
        if (words) {
            uint32_t *w = &words[c / per_word];
            if (c % per_word == 0)
                *w = 0;
            *w |= (uint32_t)codes[i] << ((c % per_word) * bits);
        }
        x[i * stride] = ref_quant_dequant(codes[i], scale, min);
    }
    if (params) {
        params[2 * p] = scale;
        params[2 * p + 1] = min;
    }
}

void ref_kivi_quantize(const ref_kivi_shape *s, int64_t n, const float *k, const float *v, uint32_t *k_codes,
                       float *k_params, uint32_t *v_codes, float *v_params, float *k_hat, float *v_hat)
{
    int64_t D = s->D, G = s->G, nk = ref_kivi_quantized_keys(s, n), nv = ref_kivi_quantized_values(s, n);
    size_t count = (size_t)(s->BH * n * D);
    float *kh = malloc(count * sizeof *kh), *vh = malloc(count * sizeof *vh);
    for (size_t i = 0; i < count; i++) {
        kh[i] = ref_h2f(ref_f2h(k[i]));
        vh[i] = ref_h2f(ref_f2h(v[i]));
    }
    int64_t kw = s->cap / (32 / s->k_bits), vw = D / (32 / s->v_bits);
    for (int64_t bh = 0; bh < s->BH; bh++) {
        for (int64_t d = 0; d < D; d++)
            for (int64_t g = 0; g < nk / G; g++)
                group(kh + (bh * n + g * G) * D + d, D, (int)G, s->k_bits,
                      k_codes ? k_codes + (bh * D + d) * kw : NULL, g * G,
                      k_params ? k_params + (bh * D + d) * (s->cap / G) * 2 : NULL, g);
        for (int64_t t = 0; t < nv; t++)
            for (int64_t c = 0; c < D / G; c++)
                group(vh + (bh * n + t) * D + c * G, 1, (int)G, s->v_bits,
                      v_codes ? v_codes + (bh * s->cap + t) * vw : NULL, c * G,
                      v_params ? v_params + (bh * s->cap + t) * (D / G) * 2 : NULL, c);
    }
    for (size_t i = 0; i < count; i++) {
        if (k_hat)
            k_hat[i] = kh[i];
        if (v_hat)
            v_hat[i] = vh[i];
    }
    free(kh);
    free(vh);
}
