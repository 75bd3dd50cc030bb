/* The tensor-core KIVI decode (kivi_decode.cl DIRECT 2, cl/kivi_direct_mma.h) against its
 * direct form (DIRECT 1, cl/kivi_direct.h, which test_kivi_attention checks against ref/ on every
 * backend), on host threads (warp_emu.h), so that it is tested without an NVIDIA GPU. The cache
 * holds random words (every word is a valid set of codes), random fp16 (scale, min) pairs and a
 * random fp16 residual; lengths put the end of the quantized keys and values inside a tile.
 * Compared per partial record (cl/decode_split.h): the normalised output acc / l and the
 * log-sum-exp m + log2 l. Tolerance: relative RMS 5e-3 (f16 q, K, V and p in the mma products;
 * the direct form computes in fp32). The configurations, their defines in CMakeLists.txt:
 *   kivi_emu_2bit   D 128, QG 4, 2/2 bits, G 32, R 128, BLOCK_N 64, WG 128 (one m-tile a warp)
 *   kivi_emu_48bit  D 64, QG 8, 4/8 bits (two words per f16x2), G 16, R 32, BLOCK_N 32, WG 128
 *                   (4 warps on 2 m-tiles: 2 partial scores per token)
 *   kivi_emu_qg1    D 128, QG 1, 8/2 bits, G 64, R 64, BLOCK_N 128, WG 64 (8 m-tiles on 2 warps)
 *   kivi_emu_d256   D 256, QG 2, 2/4 bits, G 32, R 96, BLOCK_N 16, WG 64 */
#include <criterion/parameterized.h>

#include <vector>

#include "emu_test.h"
#include "kivi_emu.h"

extern const kivi_emu_config kivi_emu_2bit, kivi_emu_48bit, kivi_emu_qg1, kivi_emu_d256;

/* Criterion runs each test in a new process: a case names its configuration by index. */
static const kivi_emu_config *const configs[] = {&kivi_emu_2bit, &kivi_emu_48bit, &kivi_emu_qg1, &kivi_emu_d256};

struct emu_case {
    int config, B, Hkv, splits;
    long n;
};

ParameterizedTestParameters(kivi_mma_emu, matches_direct)
{
    static emu_case cases[] = {{0, 1, 2, 3, 1000}, {1, 2, 1, 2, 150}, {2, 1, 1, 1, 333},
                               {3, 1, 1, 2, 70},   {3, 1, 2, 1, 200}};
    return cr_make_param_array(emu_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(emu_case *c, kivi_mma_emu, matches_direct)
{
    const kivi_emu_config *f = configs[c->config];
    const int D = f->d, Hq = c->Hkv * f->qg, BH = c->B * c->Hkv;
    const long cap = (c->n + f->r - 1) / f->r * f->r + f->r, n = c->n;
    uint64_t seed = 0x2545f4914f6cdd1dull ^ (uint64_t)(n * 7 + D);
    std::vector<unsigned> k_codes((size_t)BH * D * cap / (32 / f->k_bits)), v_codes((size_t)BH * cap * D / (32 / f->v_bits));
    std::vector<unsigned short> k_params((size_t)BH * D * (cap / f->g) * 2), v_params((size_t)BH * cap * (D / f->g) * 2);
    std::vector<unsigned short> k_res((size_t)BH * f->r * D), v_res(k_res.size()), q((size_t)c->B * Hq * D);
    for (auto &w : k_codes) w = (unsigned)rng_next(&seed);
    for (auto &w : v_codes) w = (unsigned)rng_next(&seed);
    /* (scale, min): values min + code * scale spread over about [-1, 2] at every bit width */
    auto fill_params = [&](std::vector<unsigned short> &params, int bits) {
        for (size_t i = 0; i < params.size(); i += 2) {
            params[i] = to_half((1.0f + 2.0f * uniform(&seed)) / (float)((1 << bits) - 1));
            params[i + 1] = to_half(-uniform(&seed));
        }
    };
    fill_params(k_params, f->k_bits);
    fill_params(v_params, f->v_bits);
    for (auto *v : {&k_res, &v_res, &q})
        for (auto &x : *v)
            x = to_half(2.0f * uniform(&seed) - 1.0f);

    const long nrec = (long)c->B * Hq * c->splits;
    std::vector<float> want((size_t)nrec * (D + 2)), got(want.size());
    kivi_emu_io io = {q.data(), k_codes.data(), v_codes.data(), k_params.data(), v_params.data(), k_res.data(),
                      v_res.data(), cap, n, n - n % f->r, n > f->r ? n - f->r : 0, want.data(), nrec, c->B, Hq,
                      c->Hkv, c->splits, 1.4426950408889634f / std::sqrt((float)D)};
    f->decode(1, &io);
    io.part = got.data();
    f->decode(2, &io);
    cr_log_info("config %s: B %d Hkv %d n %ld (keys quantized %ld, values %ld), splits %d", f->name, c->B, c->Hkv, n,
                io.nk, io.nv, c->splits);

    expect_partials_close(got.data(), want.data(), nrec, D, 5e-3);
}
