/* The tensor-core KIVI decodes (kivi_decode.cl DIRECT 2, cl/kivi_direct_mma.h, and DIRECT 3,
 * cl/kivi_tiles_mma.h) against the direct form (DIRECT 1, cl/kivi_direct.h, which test_kivi_attention checks against ref/ on every
 * backend), on host threads (warp_emu.h), so that it is tested without an NVIDIA GPU. The cache
 * is random (kivi_emu_cache.h); lengths put the end of the quantized keys and values inside a tile.
 * Compared per partial record (cl/decode_split.h): the normalised output acc / l and the
 * log-sum-exp m + log2 l. Tolerance: relative RMS 5e-3 (f16 q, K, V and p in the mma products;
 * the direct form computes in fp32). The configurations, their defines in CMakeLists.txt:
 *   kivi_emu_2bit   D 128, QG 4, 2/2 bits, G 32, R 128, BLOCK_N 64, WG 128 (one m-tile a warp)
 *   kivi_emu_48bit  D 64, QG 8, 4/8 bits (two words per f16x2), G 16, R 32, BLOCK_N 32, WG 128
 *                   (4 warps on 2 m-tiles: two warps see no token, their merge weight is 0)
 *   kivi_emu_qg1    D 128, QG 1, 8/2 bits, G 64, R 64, BLOCK_N 128, WG 64 (8 m-tiles on 2 warps)
 *   kivi_emu_d256   D 256, QG 2, 2/4 bits, G 32, R 96, BLOCK_N 16, WG 64
 * DIRECT 3 (f16 tiles):
 *   kivi_emu_tiles_2bit   D 128, QG 4, 2/2 bits, G 32, R 128, BLOCK_N 64, WG 128
 *   kivi_emu_tiles_48bit  D 64, QG 8, 4/8 bits, G 16, R 32, BLOCK_N 32, WG 64, KBUF 2 (two word buffers)
 *   kivi_emu_tiles_d256   D 256, QG 1, 8/2 bits, G 16, R 48, BLOCK_N 16, WG 32 */
#include <criterion/parameterized.h>

#include <vector>

#include "kivi_emu.h"
#include "kivi_emu_cache.h"

extern const kivi_emu_config kivi_emu_2bit, kivi_emu_48bit, kivi_emu_qg1, kivi_emu_d256, kivi_emu_tiles_2bit,
    kivi_emu_tiles_48bit, kivi_emu_tiles_d256;

/* Criterion runs each test in a new process: a case names its configuration by index. */
static const kivi_emu_config *const configs[] = {&kivi_emu_2bit,       &kivi_emu_48bit,       &kivi_emu_qg1,
                                                 &kivi_emu_d256,       &kivi_emu_tiles_2bit, &kivi_emu_tiles_48bit,
                                                 &kivi_emu_tiles_d256};

struct emu_case {
    int config, B, Hkv, splits;
    long n;
};

ParameterizedTestParameters(kivi_mma_emu, matches_direct)
{
    static emu_case cases[] = {{0, 1, 2, 3, 1000}, {1, 2, 1, 2, 150}, {2, 1, 1, 1, 333}, {3, 1, 1, 2, 70},
                               {3, 1, 2, 1, 200},  {4, 1, 2, 3, 1000}, {5, 2, 1, 2, 150}, {6, 1, 1, 2, 101}};
    return cr_make_param_array(emu_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(emu_case *c, kivi_mma_emu, matches_direct)
{
    const kivi_emu_config *f = configs[c->config];
    const int D = f->d, Hq = c->Hkv * f->qg, BH = c->B * c->Hkv;
    const long cap = (c->n + f->r - 1) / f->r * f->r + f->r, n = c->n;
    uint64_t seed = 0x2545f4914f6cdd1dull ^ (uint64_t)(n * 7 + D);
    kivi_emu_cache kv(BH, D, cap, f->k_bits, f->v_bits, f->g, f->r, &seed);
    std::vector<unsigned short> q((size_t)c->B * Hq * D);
    for (auto &x : q)
        x = to_half(2.0f * uniform(&seed) - 1.0f);

    const long nrec = (long)c->B * Hq * c->splits;
    std::vector<float> want((size_t)nrec * (D + 2)), got(want.size());
    kivi_emu_io io = {q.data(), kv.k_codes.data(), kv.v_codes.data(), kv.k_params.data(), kv.v_params.data(),
                      kv.k_res.data(), kv.v_res.data(), cap, n, n - n % f->r, n > f->r ? n - f->r : 0, want.data(),
                      nrec, c->B, Hq, c->Hkv, c->splits, 1.4426950408889634f / std::sqrt((float)D), false};
    f->decode(1, &io);
    io.part = got.data();
    /* twice: the staging copies landing as late as the waits allow, then as early as their issue
     * (a buffer refilled while a warp still reads it fails then) */
    for (int early = 0; early < 2; early++) {
        io.cp_async_early = early != 0;
        f->decode(f->mma_direct, &io);
        cr_log_info("config %s (DIRECT %d, %s copies): B %d Hkv %d n %ld (keys quantized %ld, values %ld), "
                    "splits %d",
                    f->name, f->mma_direct, early ? "early" : "late", c->B, c->Hkv, n, io.nk, io.nv, c->splits);
        expect_partials_close(got.data(), want.data(), nrec, D, 5e-3);
    }
}
