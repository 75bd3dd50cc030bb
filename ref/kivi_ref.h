/* kivi_ref.h: host model of the KIVI cache (lib/include/longkern_kivi.h): what the cache holds
 * after n tokens, in the device layout of cl/kivi_quant.cl, and the K and V it stands for. */
#ifndef LK_KIVI_REF_H
#define LK_KIVI_REF_H

#include <stdint.h>

typedef struct ref_kivi_shape {
    int64_t BH, D;     /* sequence-heads (batch * kv_heads), head_dim */
    int64_t cap;       /* token slots (capacity rounded up to a multiple of R) */
    int G, R, k_bits, v_bits;
} ref_kivi_shape;

/* Keys quantized: whole R blocks; values quantized: all but the last R tokens. */
int64_t ref_kivi_quantized_keys(const ref_kivi_shape *s, int64_t n);
int64_t ref_kivi_quantized_values(const ref_kivi_shape *s, int64_t n);

/* k, v: [BH, n, D] as appended (rounded to fp16 here, as the cache does). Outputs (any may be
 * NULL): packed codes and (scale, min) pairs in the device layout, entries of the quantized
 * tokens only (the rest untouched); k_hat, v_hat [BH, n, D]: dequantized keys and values for
 * quantized tokens, the fp16 values for the residual ones. */
void ref_kivi_quantize(const ref_kivi_shape *s, int64_t n, const float *k, const float *v, uint32_t *k_codes,
                       float *k_params, uint32_t *v_codes, float *v_params, float *k_hat, float *v_hat);

#endif
