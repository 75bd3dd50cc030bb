/* kivi_quant.cl: streaming appends into a KIVI cache (lib/ops/kivi_cache.c). Quantization
 * follows cl/quant.h (fp16 scale/min, RNE codes, LSB-first packing).
 *
 * Cache of one sequence-head bh (BH = batch * heads), capacity CAP tokens (a multiple of R),
 * CPW_K = 32 / BITS_K and CPW_V = 32 / BITS_V codes per word:
 *
 *   k_codes  [BH][D][CAP / CPW_K]   u32   key t of channel d: word t / CPW_K, slot t % CPW_K
 *   k_params [BH][D][CAP / G][2]    half  (scale, min) of tokens [g*G, (g+1)*G) of channel d
 *   v_codes  [BH][CAP][D / CPW_V]   u32   value t, channel c: word c / CPW_V, slot c % CPW_V
 *   v_params [BH][CAP][D / G][2]    half  (scale, min) of channels [g*G, (g+1)*G) of token t
 *   k_res    [BH][R][D]             half  key tail: token t in slot t % R
 *   v_res    [BH][R][D]             half  value window: token t in slot t % R
 *
 * An append of S tokens to a cache of n tokens reads each token t from the residual (t < n)
 * or from the new input x [B, H, S, D] (row t - n, any strides, rounded to fp16 on load), so
 * three launches in order are enough: quantize keys, quantize values (both may read residual
 * slots that the new tokens will reuse), then store the new residual tokens.
 */
#include "portable.h"

#ifndef D
#define D 128
#endif
#define KD D
#include "kivi_cache.h" /* G, R, BITS_K, BITS_V, codes per word, quant.h */

/* An input tensor [B, H, S, D] as kernel arguments. */
typedef struct input_view {
    const LK_GLOBAL lk_t *x;
    long off, sb, sh, ss, sd;
} input_view;

/* Element (bh, channel d) of token t: the fp16 residual slot when t < n, else input row t - n. */
LK_INLINE float token_value(input_view in, const LK_GLOBAL half *res, int bh, int H, long n, long t, int d)
{
    if (t < n)
        return lk_half_to_float(res, ((long)bh * R + t % R) * D + d);
    long i = in.off + (bh / H) * in.sb + (bh % H) * in.sh + (t - n) * in.ss + d * in.sd;
    return lk_quant_round_f16(lk_ld(in.x, i));
}

LK_INLINE void store_params(LK_GLOBAL half *params, long i, float scale, float min)
{
    lk_float_to_half(params, 2 * i, scale);
    lk_float_to_half(params, 2 * i + 1, min);
}

/* One work-item per (bh, key group g, channel d): tokens [t0 + g*G, t0 + (g+1)*G), t0 a multiple
 * of G, quantized along the token axis. */
LK_KERNEL void kivi_quant_keys(const LK_GLOBAL lk_t *x, long x_off, long x_sb, long x_sh, long x_ss, long x_sd,
                               const LK_GLOBAL half *k_res, LK_GLOBAL uint *k_codes, LK_GLOBAL half *k_params,
                               int BH, int H, long cap, long n, long t0, int groups)
{
    long gid = get_global_id(0);
    if (gid >= (long)BH * groups * D)
        return;
    int d = (int)(gid % D), g = (int)((gid / D) % groups), bh = (int)(gid / ((long)D * groups));
    input_view in = {x, x_off, x_sb, x_sh, x_ss, x_sd};
    long first = t0 + (long)g * G;
    float mn = token_value(in, k_res, bh, H, n, first, d), mx = mn;
    for (int i = 1; i < G; i++) {
        float v = token_value(in, k_res, bh, H, n, first + i, d);
        mn = lk_fmin(mn, v);
        mx = lk_fmax(mx, v);
    }
    float scale, min;
    lk_quant_params_f16(mn, mx, BITS_K, &scale, &min);
    long row = (long)bh * D + d;
    store_params(k_params, row * (cap / G) + first / G, scale, min);
    for (int w = 0; w < G / CPW_K; w++) {
        uint word = 0u;
        for (int j = 0; j < CPW_K; j++) {
            float v = token_value(in, k_res, bh, H, n, first + w * CPW_K + j, d);
            word = lk_quant_pack(word, j, BITS_K, lk_quant_code(v, scale, min, BITS_K));
        }
        k_codes[row * (cap / CPW_K) + first / CPW_K + w] = word;
    }
}

/* One work-item per (bh, token t0 + s, value group c): channels [c*G, (c+1)*G) of that token. */
LK_KERNEL void kivi_quant_values(const LK_GLOBAL lk_t *x, long x_off, long x_sb, long x_sh, long x_ss, long x_sd,
                                 const LK_GLOBAL half *v_res, LK_GLOBAL uint *v_codes, LK_GLOBAL half *v_params,
                                 int BH, int H, long cap, long n, long t0, int tokens)
{
    long gid = get_global_id(0);
    if (gid >= (long)BH * tokens * (D / G))
        return;
    int c = (int)(gid % (D / G)), bh = (int)(gid / ((long)(D / G) * tokens));
    long t = t0 + (gid / (D / G)) % tokens;
    input_view in = {x, x_off, x_sb, x_sh, x_ss, x_sd};
    float mn = token_value(in, v_res, bh, H, n, t, c * G), mx = mn;
    for (int i = 1; i < G; i++) {
        float v = token_value(in, v_res, bh, H, n, t, c * G + i);
        mn = lk_fmin(mn, v);
        mx = lk_fmax(mx, v);
    }
    float scale, min;
    lk_quant_params_f16(mn, mx, BITS_V, &scale, &min);
    long row = (long)bh * cap + t;
    store_params(v_params, row * (D / G) + c, scale, min);
    for (int w = 0; w < G / CPW_V; w++) {
        uint word = 0u;
        for (int j = 0; j < CPW_V; j++) {
            float v = token_value(in, v_res, bh, H, n, t, c * G + w * CPW_V + j);
            word = lk_quant_pack(word, j, BITS_V, lk_quant_code(v, scale, min, BITS_V));
        }
        v_codes[row * (D / CPW_V) + (c * G) / CPW_V + w] = word;
    }
}

/* One work-item per (bh, new token s, channel d): token n + s enters the key tail when it is at
 * or past k_keep (the new quantized-key boundary) and the value window when at or past v_keep. */
LK_KERNEL void kivi_store_residual(const LK_GLOBAL lk_t *k, long k_off, long k_sb, long k_sh, long k_ss, long k_sd,
                                   const LK_GLOBAL lk_t *v, long v_off, long v_sb, long v_sh, long v_ss, long v_sd,
                                   LK_GLOBAL half *k_res, LK_GLOBAL half *v_res, int BH, int H, int S, long n,
                                   long k_keep, long v_keep)
{
    long gid = get_global_id(0);
    if (gid >= (long)BH * S * D)
        return;
    int d = (int)(gid % D), s = (int)((gid / D) % S), bh = (int)(gid / ((long)D * S));
    int b = bh / H, h = bh % H;
    long t = n + s, slot = ((long)bh * R + t % R) * D + d;
    if (t >= k_keep)
        lk_float_to_half(k_res, slot, lk_ld(k, k_off + b * k_sb + h * k_sh + s * k_ss + d * k_sd));
    if (t >= v_keep)
        lk_float_to_half(v_res, slot, lk_ld(v, v_off + b * v_sb + h * v_sh + s * v_ss + d * v_sd));
}
