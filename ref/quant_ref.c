/* Host reference of cl/quant.h: asymmetric min/max group quantization with fp16 parameters. */
#include <math.h>

#include "quant_ref.h"
#include "ref.h"

static float round_f16(float v) { return ref_h2f(ref_f2h(v)); }

void ref_quant_group(const float *x, int64_t n, int64_t stride, int bits, uint8_t *codes, float *scale, float *min)
{
    float mn = x[0], mx = x[0];
    for (int64_t i = 1; i < n; i++) {
        mn = fminf(mn, x[i * stride]);
        mx = fmaxf(mx, x[i * stride]);
    }
    int levels = (1 << bits) - 1;
    float range = mx - mn;
    *scale = round_f16(range / (float)levels);
    *min = round_f16(mn);
    for (int64_t i = 0; i < n; i++) {
        if (!(*scale > 0.0f)) {
            codes[i] = 0;
            continue;
        }
        float diff = x[i * stride] - *min;
        float t = rintf(diff / *scale);
        codes[i] = (uint8_t)fminf(fmaxf(t, 0.0f), (float)levels);
    }
}

float ref_quant_dequant(uint8_t code, float scale, float min) { return fmaf((float)code, scale, min); }

void ref_quant_pack(const uint8_t *codes, int64_t n, int bits, uint32_t *words)
{
    int per_word = 32 / bits;
    for (int64_t w = 0; w < (n + per_word - 1) / per_word; w++)
        words[w] = 0;
    for (int64_t i = 0; i < n; i++)
        words[i / per_word] |= (uint32_t)codes[i] << ((i % per_word) * bits);
}

uint8_t ref_quant_unpack(const uint32_t *words, int64_t i, int bits)
{
    int per_word = 32 / bits;
    return (uint8_t)((words[i / per_word] >> ((i % per_word) * bits)) & ((1u << bits) - 1));
}
