/* quant.h: asymmetric min/max group quantization shared by the compressed KV caches (KIVI, the
 * low-rank latent cache, Mustafar's quantized tiles). Device side; ref/quant_ref.{h,c} is the
 * host twin and produces bit-identical codes.
 *
 * One group of n values x (any n, any stride: the caller walks it):
 *   mn, mx  = min, max of the group in fp32
 *   levels  = 2^bits - 1                              bits in {2, 4, 8}
 *   scale   = (mx - mn) / levels                      fp32
 *   stored parameters: the library keeps scale and min in fp16, so both are rounded to fp16
 *   (round to nearest even) BEFORE any code is computed, and the codes come from the stored
 *   values; dequantization then uses exactly what is stored:
 *     min_s   = f16(mn)        scale_s = f16(scale)          (lk_quant_params_f16)
 *   code    = scale_s > 0 ? clamp(rint((x - min_s) / scale_s), 0, levels) : 0
 *             rint = round half to even; the fp32 division is correctly rounded on every
 *             backend (OpenCL builds with -cl-fp32-correctly-rounded-divide-sqrt, NVRTC's
 *             default -prec-div=true), so codes match the host bit for bit.
 *             A constant group (mx == mn) has scale 0 and every code 0: no NaN.
 *   x^      = fma(code, scale_s, min_s)               (one rounding, same on host and device)
 * Inputs must be finite and within fp16 range (|x| <= 65504) so the stored parameters are finite.
 *
 * Packing: 32/bits codes per uint32, LSB first: code j of a word sits at bits [j*bits, (j+1)*bits).
 *
 *   word w of a group:  | code 32/b-1 | ... | code 1 | code 0 |     (bit 31 ... bit 0)
 *                       covers group elements [w*32/b, (w+1)*32/b)
 */
#ifndef LK_QUANT_H
#define LK_QUANT_H

LK_INLINE int lk_quant_levels(int bits) { return (1 << bits) - 1; }
LK_INLINE int lk_quant_codes_per_word(int bits) { return 32 / bits; }

/* fp32 -> nearest fp16 -> fp32 (round to nearest even): what storing a parameter as half keeps. */
LK_INLINE float lk_quant_round_f16(float v)
{
    ushort bits16; /* OpenCL C declares no half variables, only pointers to half storage */
    lk_float_to_half((half *)&bits16, 0, v);
    return lk_half_to_float((const half *)&bits16, 0);
}

/* Stored (fp16-rounded) scale and minimum of a group with fp32 extremes mn <= mx. */
LK_INLINE void lk_quant_params_f16(float mn, float mx, int bits, float *scale, float *min)
{
    *scale = lk_quant_round_f16((mx - mn) / (float)lk_quant_levels(bits));
    *min = lk_quant_round_f16(mn);
}

LK_INLINE uint lk_quant_code(float x, float scale, float min, int bits)
{
    if (!(scale > 0.0f))
        return 0u;
    float t = lk_rint((x - min) / scale);
    return (uint)lk_fmin(lk_fmax(t, 0.0f), (float)lk_quant_levels(bits));
}

/* code (< 2^23) as a float without an integer-to-float conversion, which NVIDIA GPUs issue at 16
 * per clock per SM against 128 for the logic op and the add here: the float 2^23 + code has code
 * as its mantissa, so both steps are exact and the result equals (float)code. */
LK_INLINE float lk_quant_code_float(uint code) { return lk_bits_as_float(0x4B000000u | code) - 8388608.0f; }

LK_INLINE float lk_quant_dequant(uint code, float scale, float min) { return lk_fma(lk_quant_code_float(code), scale, min); }

/* Code j of a packed word, and a word with code j or-ed in (the slot must be zero). */
LK_INLINE uint lk_quant_unpack(uint word, int j, int bits) { return (word >> (j * bits)) & (uint)lk_quant_levels(bits); }
LK_INLINE uint lk_quant_pack(uint word, int j, int bits, uint code) { return word | (code << (j * bits)); }

#endif
