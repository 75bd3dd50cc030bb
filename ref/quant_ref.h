/* quant_ref.h: host reference of the group quantization in cl/quant.h (same definitions, same
 * fp32 operations in the same order, so codes and parameters match the device bit for bit).
 *
 *   scale_s = f16((mx - mn) / (2^bits - 1)),  min_s = f16(mn)      (fp32 arithmetic, RNE to fp16)
 *   code    = scale_s > 0 ? clamp(rint((x - min_s) / scale_s), 0, 2^bits - 1) : 0
 *   x^      = fmaf(code, scale_s, min_s)
 *   packing: 32/bits codes per uint32, code j of a word at bits [j*bits, (j+1)*bits) (LSB first).
 */
#ifndef LK_QUANT_REF_H
#define LK_QUANT_REF_H

#include <stdint.h>

/* Parameters and codes of one group of n values x[i*stride], i < n. codes gets n entries
 * (one per element, unpacked); scale and min are the stored fp16 values as floats. */
void ref_quant_group(const float *x, int64_t n, int64_t stride, int bits, uint8_t *codes, float *scale, float *min);

float ref_quant_dequant(uint8_t code, float scale, float min);

/* Packs n codes into ceil(n*bits/32) words (a trailing partial word is zero-filled). */
void ref_quant_pack(const uint8_t *codes, int64_t n, int bits, uint32_t *words);

/* Code i of a packed run of words. */
uint8_t ref_quant_unpack(const uint32_t *words, int64_t i, int bits);

#endif
