/* The tensor-core sparse decodes (kv_sparse_decode.cl DIRECT 2, cl/kv_sparse_direct_mma.h, and 3,
 * cl/decode_mma_tiles.h on the tile loaders' fp32 tiles) against the direct form (DIRECT 1,
 * cl/kv_sparse_direct.h, which test_kv_sparse_decode checks against ref/ on every backend), on
 * host threads (warp_emu.h), so that it is tested without an NVIDIA GPU. The cache is built here
 * in the format of cl/kv_sparse_format.h: every token row keeps `keep` random channels of K and of
 * V, codes are random (fp16 values in [-1, 1], or random words with random (min, scale)), sinks
 * and the window ring hold random fp16 tokens. Compared per partial record: acc / l and m + log2
 * l. Tolerance: relative RMS 5e-3 (f16 q, K, V and p in the mma products). The configurations,
 * their defines in CMakeLists.txt:
 *   sp_emu_fp16  D 128, QG 4, fp16 survivors, BLOCK_N 64, WG 128
 *   sp_emu_2bit  D 128, QG 8, 2-bit K and V, BLOCK_N 32, WG 128 (two warps without a token)
 *   sp_emu_d256  D 256, QG 2, 4-bit K, 8-bit V, BLOCK_N 16, WG 64 (four value tiles a row)
 *   sp_emu_d64   D 64, QG 1, fp16 K, 4-bit V, BLOCK_N 64, WG 64 (more m-tiles than warps)
 * DIRECT 3:
 *   sp_emu_tiles_2bit  D 128, QG 4, 2-bit K and V, BLOCK_N 32, WG 64, LOADER 0
 *   sp_emu_tiles_d256  D 256, QG 2, fp16 K, 4-bit V, BLOCK_N 16, WG 32, LOADER 1 */
#include <criterion/parameterized.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "emu_test.h"
#include "kv_sparse_emu.h"

extern const kv_sparse_emu_config sp_emu_fp16, sp_emu_2bit, sp_emu_d256, sp_emu_d64, sp_emu_tiles_2bit,
    sp_emu_tiles_d256;

/* Criterion runs each test in a new process: a case names its configuration by index. */
static const kv_sparse_emu_config *const configs[] = {&sp_emu_fp16,       &sp_emu_2bit, &sp_emu_d256,
                                                      &sp_emu_d64,        &sp_emu_tiles_2bit, &sp_emu_tiles_d256};

struct emu_case {
    int config, B, Hkv, sinks, nb, window, ring, keep, splits;
};

ParameterizedTestParameters(kv_sparse_mma_emu, matches_direct)
{
    static emu_case cases[] = {{0, 1, 2, 4, 5, 37, 64, 39, 3}, {1, 2, 1, 0, 3, 20, 64, 20, 2},
                               {2, 1, 1, 3, 2, 64, 128, 100, 2}, {3, 1, 2, 0, 4, 0, 64, 64, 1},
                               {0, 1, 1, 70, 1, 5, 64, 13, 4},  {4, 1, 2, 4, 5, 37, 64, 39, 3},
                               {5, 1, 1, 3, 2, 64, 128, 100, 2}};
    return cr_make_param_array(emu_case, cases, sizeof cases / sizeof cases[0]);
}

/* One stream's arrays: per block, every row keeps `keep` random channels; key tiles run down
 * the rows of a channel (key = 1), value tiles along 64 channels of a row. */
struct stream_data {
    std::vector<unsigned long> bitmap;
    std::vector<unsigned short> params, dense;
    std::vector<unsigned> words, offsets;
    long head_words;
};

static stream_data make_stream(uint64_t *seed, int key, int heads, int nb_cap, int nb, int D, int keep, int bits,
                               int dense_rows)
{
    stream_data s;
    const long bw = (64L * keep * bits + 31) / 32;
    s.head_words = nb_cap * bw;
    s.bitmap.assign((size_t)heads * nb_cap * D, 0);
    s.params.assign((size_t)heads * nb_cap * D * 2, 0);
    s.words.assign((size_t)heads * s.head_words, 0);
    s.offsets.assign((size_t)heads * (nb_cap + 1), 0);
    s.dense.resize((size_t)heads * dense_rows * D);
    for (auto &x : s.dense)
        x = to_half(2.0f * uniform(seed) - 1.0f);
    std::vector<int> ch(D);
    for (int h = 0; h < heads; h++) {
        for (int i = 0; i <= nb_cap; i++)
            s.offsets[(size_t)h * (nb_cap + 1) + i] = (unsigned)(i * bw);
        for (int i = 0; i < nb; i++) {
            unsigned long *bm = &s.bitmap[((size_t)h * nb_cap + i) * D];
            for (int r = 0; r < 64; r++) {
                std::iota(ch.begin(), ch.end(), 0);
                for (int k = 0; k < keep; k++) { /* partial Fisher-Yates: the row's survivors */
                    int j = k + (int)(rng_next(seed) % (uint64_t)(D - k));
                    std::swap(ch[k], ch[j]);
                    int c = ch[k];
                    if (key)
                        bm[c] |= 1ul << r;
                    else
                        bm[r * (D / 64) + c / 64] |= 1ul << (c % 64);
                }
            }
            unsigned *w = &s.words[(size_t)h * s.head_words + (size_t)i * bw];
            for (long j = 0; j < bw; j++)
                w[j] = bits == 16 ? to_half(2.0f * uniform(seed) - 1.0f) | (unsigned)to_half(2.0f * uniform(seed) - 1.0f) << 16
                                  : (unsigned)rng_next(seed);
            unsigned short *p = &s.params[((size_t)h * nb_cap + i) * D * 2];
            for (int t = 0; t < D; t++) { /* (min, scale): values in about [-1, 2] */
                p[2 * t] = to_half(-uniform(seed));
                p[2 * t + 1] = to_half(bits == 16 ? 0.0f : (1.0f + 2.0f * uniform(seed)) / (float)((1 << bits) - 1));
            }
        }
    }
    return s;
}

static kv_sparse_emu_stream view(const stream_data &s)
{
    return {s.bitmap.data(), s.params.data(), s.dense.data(), s.words.data(), s.offsets.data(), s.head_words};
}

ParameterizedTest(emu_case *c, kv_sparse_mma_emu, matches_direct)
{
    const kv_sparse_emu_config *f = configs[c->config];
    const int D = f->d, Hq = c->Hkv * f->qg, heads = c->B * c->Hkv, nb_cap = c->nb + 1;
    uint64_t seed = 0x9e3779b97f4a7c15ull ^ (uint64_t)(c->nb * 1009 + D + c->keep);
    stream_data k = make_stream(&seed, 1, heads, nb_cap, c->nb, D, c->keep, f->k_bits, c->sinks + c->ring);
    stream_data v = make_stream(&seed, 0, heads, nb_cap, c->nb, D, c->keep, f->v_bits, c->sinks + c->ring);
    std::vector<unsigned short> q((size_t)c->B * Hq * D);
    for (auto &x : q)
        x = to_half(2.0f * uniform(&seed) - 1.0f);
    const long L = c->sinks + 64L * c->nb + c->window, nrec = (long)c->B * Hq * c->splits;
    std::vector<float> want((size_t)nrec * (D + 2)), got(want.size());
    kv_sparse_emu_io io = {q.data(), view(k), view(v), c->B, c->Hkv, Hq, c->sinks, c->ring, c->nb, nb_cap, c->keep,
                           c->splits, L, nrec, want.data(), 1.4426950408889634f / std::sqrt((float)D)};
    f->decode(1, &io);
    io.part = got.data();
    f->decode(f->mma_direct, &io);
    cr_log_info("config %s: B %d Hkv %d, L %ld = %d sinks + %d blocks + %d window, keep %d, splits %d", f->name,
                c->B, c->Hkv, L, c->sinks, c->nb, c->window, c->keep, c->splits);

    expect_partials_close(got.data(), want.data(), nrec, D, 5e-3);
}
