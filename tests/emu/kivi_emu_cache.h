/* kivi_emu_cache.h: a random KIVI cache in cl/kivi_quant.cl's layout for the emulated decode
 * tests (the KIVI decode's and the low-rank decode's latents): random words (every word is a
 * valid set of codes), (scale, min) pairs that spread the values over about [-1, 2] at every bit
 * width, and an fp16 residual in [-1, 1). */
#ifndef LK_KIVI_EMU_CACHE_H
#define LK_KIVI_EMU_CACHE_H

#include "emu_test.h"

struct kivi_emu_cache {
    std::vector<unsigned> k_codes, v_codes;
    std::vector<unsigned short> k_params, v_params, k_res, v_res;

    /* bh sequence-heads of `channels` channels and capacity cap (a multiple of r and g). */
    kivi_emu_cache(long bh, int channels, long cap, int k_bits, int v_bits, int g, int r, uint64_t *seed)
        : k_codes((size_t)(bh * channels * cap / (32 / k_bits))), v_codes((size_t)(bh * cap * channels / (32 / v_bits))),
          k_params((size_t)(bh * channels * (cap / g) * 2)), v_params((size_t)(bh * cap * (channels / g) * 2)),
          k_res((size_t)(bh * r * channels)), v_res(k_res.size())
    {
        for (auto *w : {&k_codes, &v_codes})
            for (auto &x : *w)
                x = (unsigned)rng_next(seed);
        fill_params(k_params, k_bits, seed);
        fill_params(v_params, v_bits, seed);
        for (auto *v : {&k_res, &v_res})
            for (auto &x : *v)
                x = to_half(2.0f * uniform(seed) - 1.0f);
    }

  private:
    static void fill_params(std::vector<unsigned short> &params, int bits, uint64_t *seed)
    {
        for (size_t i = 0; i < params.size(); i += 2) {
            params[i] = to_half((1.0f + 2.0f * uniform(seed)) / (float)((1 << bits) - 1));
            params[i + 1] = to_half(-uniform(seed));
        }
    }
};

#endif
