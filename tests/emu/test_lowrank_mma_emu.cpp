/* The tensor-core low-rank decodes (lowrank_decode.cl DIRECT 2 and 3, cl/lowrank_mma.h) against
 * the tile form (DIRECT 0, which test_lowrank checks against ref/ on every backend), on host threads
 * (warp_emu.h), so that it is tested without an NVIDIA GPU. The latent cache is random
 * (kivi_emu_cache.h), up_k and q are random fp16; lengths put the end of the quantized latents
 * inside a tile, positions start past 2^16 in one case, and both RoPE layouts run. Compared per
 * partial record (cl/decode_split.h, D = max(HD, RK) channels, those past RK 0 in both forms):
 * the normalised output acc / l and the log-sum-exp m + log2 l. Tolerance: relative RMS 5e-3
 * (f16 keys, q, latents and p in the mma products; the tiles compute in fp32). The
 * configurations, their defines in CMakeLists.txt:
 *   lr_emu_r64     HD 128, RK 64, QG 4, 2/2 bits, G 32, R 128, RoPE, BLOCK_N 64, WG 128
 *   lr_emu_r128    HD 64, RK 128 (D 128 > HD), QG 8, 4/8 bits, G 16, R 32, RoPE, BLOCK_N 32,
 *                  WG 128 (two warps without a token)
 *   lr_emu_norope  HD 128, RK 32, QG 1, 8/2 bits, G 32, R 64, no RoPE, BLOCK_N 128, WG 64
 *   lr_emu_r48     HD 64, RK 48 (3 k-steps), QG 2, 2/4 bits, G 16, R 48, RoPE, BLOCK_N 16, WG 128
 *                  (three warps without a token)
 * DIRECT 3 (f16 tiles, cl/kivi_tiles_mma.h):
 *   lr_emu_tiles_r64   HD 128, RK 64, QG 4, 2/2 bits, G 32, R 128, RoPE, BLOCK_N 64, WG 128
 *   lr_emu_tiles_r48   HD 64, RK 48, QG 2, 4/8 bits, G 16, R 48, RoPE, BLOCK_N 32, WG 64, KBUF 2 */
#include <criterion/parameterized.h>

#include <vector>

#include "kivi_emu_cache.h"
#include "lowrank_emu.h"

extern const lowrank_emu_config lr_emu_r64, lr_emu_r128, lr_emu_norope, lr_emu_r48, lr_emu_tiles_r64, lr_emu_tiles_r48;

/* Criterion runs each test in a new process: a case names its configuration by index. */
static const lowrank_emu_config *const configs[] = {&lr_emu_r64, &lr_emu_r128,      &lr_emu_norope,
                                                    &lr_emu_r48, &lr_emu_tiles_r64, &lr_emu_tiles_r48};

struct emu_case {
    int config, B, Hkv, hpg, splits;
    long n;
    int layout;
    long pos_offset;
};

ParameterizedTestParameters(lowrank_mma_emu, matches_tiles)
{
    static emu_case cases[] = {{0, 1, 2, 1, 3, 1000, 0, 5},  {0, 1, 2, 2, 2, 777, 1, 70000}, {1, 2, 2, 2, 2, 150, 0, 0},
                               {1, 1, 1, 1, 1, 333, 1, 12},  {2, 1, 2, 1, 2, 300, 0, 0},     {3, 1, 2, 2, 3, 200, 1, 100},
                               {3, 2, 1, 1, 1, 61, 0, 3},    {4, 1, 2, 2, 2, 777, 1, 70000}, {5, 1, 2, 1, 3, 200, 0, 100}};
    return cr_make_param_array(emu_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(emu_case *c, lowrank_mma_emu, matches_tiles)
{
    const lowrank_emu_config *f = configs[c->config];
    const int HD = f->hd, RK = f->rk, D = HD > RK ? HD : RK, Hq = c->Hkv * f->qg;
    const long cap = (c->n + f->r - 1) / f->r * f->r + f->r, n = c->n, BH = (long)c->B * c->Hkv / c->hpg;
    uint64_t seed = 0x9e3779b97f4a7c15ull ^ (uint64_t)(n * 5 + RK);
    kivi_emu_cache kv(BH, RK, cap, f->k_bits, f->v_bits, f->g, f->r, &seed);
    std::vector<unsigned short> q((size_t)c->B * Hq * HD), up_k((size_t)c->Hkv * RK * HD);
    for (auto &x : q)
        x = to_half(2.0f * uniform(&seed) - 1.0f);
    for (auto &x : up_k) /* rebuilt keys near unit scale */
        x = to_half(0.25f * (2.0f * uniform(&seed) - 1.0f));
    std::vector<float> freq = rope_turns(HD / 2, [&](int i) { return std::pow(10000.0, -2.0 * i / HD); });

    const long nrec = (long)c->B * Hq * c->splits;
    std::vector<float> want((size_t)nrec * (D + 2), NAN), got(want.size(), NAN); /* every record is written */
    lowrank_emu_io io = {q.data(), up_k.data(), kv.k_codes.data(), kv.v_codes.data(), kv.k_params.data(),
                         kv.v_params.data(), kv.k_res.data(), kv.v_res.data(), cap, n, n - n % f->r,
                         n > f->r ? n - f->r : 0, freq.data(), c->layout, c->pos_offset, want.data(), nrec, c->B, Hq,
                         c->Hkv, c->hpg, c->splits, 1.4426950408889634f / std::sqrt((float)HD)};
    f->decode(0, &io);
    io.part = got.data();
    f->decode(f->mma_direct, &io);
    cr_log_info("config %s: B %d Hkv %d (%d per latent) n %ld (keys quantized %ld, values %ld), splits %d, "
                "RoPE layout %d from position %ld",
                f->name, c->B, c->Hkv, c->hpg, n, io.nk, io.nv, c->splits, c->layout, c->pos_offset);

    expect_partials_close(got.data(), want.data(), nrec, D, 5e-3);
}
