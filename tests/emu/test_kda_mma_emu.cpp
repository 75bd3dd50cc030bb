/* The tensor-core KDA kernels against their scalar forms, on host threads (warp_emu.h), so that
 * they are tested without an NVIDIA GPU: kda_chunk_mma.cl against kda_chunk.cl (every scratch
 * array it writes: W, qg, kg, U, Aqk, 2^gc_last), kda_state_mma.cl against kda_state.cl (h_j, Vn
 * and the final state, from the scalar chunk kernel's scratch; with an initial state in two
 * configurations) and kda_out_mma.cl against kda_out.cl (o, from the same scratch). kda_out_mma.cl passed test_kda on the H200, so its case also checks the
 * emulation itself. Tolerances: f16 operands in the mma products (W, U, Aqk, o, h, Vn, the final
 * state: relative RMS 5e-3), fp32 arithmetic in another order (2^gc_last: 1e-5; qg and kg, stored
 * in f16, where the two orders round to neighbouring halves: 1e-3). The configurations, their
 * defines in CMakeLists.txt: CHUNK 64 / K = V = 128 / BV 16 with L2 norm; CHUNK 32 / BV 16 with
 * strong decay (g near -5 per step); CHUNK 16 / BV 8 with K = 100, V = 60 and the gate; CHUNK 64 /
 * BV 8 / K = 64, V = 48, GVA 2:4, two sequences, no L2 norm; CHUNK 32 / BV 8 with odd K = 33, V = 17
 * (f16 pairs that straddle a row's end or sit unaligned; no kda_state_mma there). kda_state_mma
 * keeps two sets of copies in the first and third (16- and 8-byte copies), one in the second and
 * fourth (SBUF). The last two fuse the output into kda_state_mma (FUSEOUT; the first's shape with
 * an initial state and two sequences; the third's): its o against kda_state.cl and
 * kda_out.cl, and its final state. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "emu_test.h"
#include "kda_emu.h"

extern const kda_emu_config emu_c64, emu_c32_strong, emu_c16_gate, emu_c64_gva, emu_c32_odd, emu_c64_fused,
    emu_c16_fused;

/* Criterion runs each test in a new process: a case names its configuration by index. */
static const kda_emu_config *const configs[] = {&emu_c64,     &emu_c32_strong, &emu_c16_gate, &emu_c64_gva,
                                                &emu_c32_odd, &emu_c64_fused,  &emu_c16_fused};

struct emu_case {
    int config;
    int B, T, H, HV, strong;
};

ParameterizedTestParameters(kda_mma_emu, matches_scalar)
{
    static emu_case cases[] = {{0, 1, 200, 1, 1, 0}, {1, 1, 150, 2, 2, 1}, {2, 1, 37, 1, 2, 0}, {3, 2, 100, 2, 4, 0},
                               {4, 1, 45, 1, 1, 0},  {5, 2, 150, 1, 2, 0}, {6, 1, 37, 1, 2, 0}};
    return cr_make_param_array(emu_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(emu_case *c, kda_mma_emu, matches_scalar)
{
    const kda_emu_config *f = configs[c->config];
    const int K = f->dk, V = f->dv, C = f->chunk;
    const long BT = (long)c->B * c->T, NCH = (BT + C - 1) / C + c->B;
    uint64_t seed = 0x9e3779b97f4a7c15ull ^ (uint64_t)(c->T * 131 + K);
    std::vector<unsigned short> q((size_t)BT * c->H * K), k(q.size()), v((size_t)BT * c->HV * V);
    std::vector<float> g((size_t)BT * c->HV * K), beta((size_t)BT * c->HV), a_log(c->HV), dt_bias((size_t)c->HV * K);
    for (auto &x : q) x = to_half(2.0f * uniform(&seed) - 1.0f);
    const float k_scale = f->l2norm ? 1.0f : 1.0f / std::sqrt((float)K); /* |k|^2 ~ 1/3: a stable delta rule */
    for (auto &x : k) x = to_half(k_scale * (2.0f * uniform(&seed) - 1.0f));
    for (auto &x : v) x = to_half(2.0f * uniform(&seed) - 1.0f);
    for (auto &x : g) /* log-decay (gate input with GATE) */
        x = f->gate ? 4.0f * uniform(&seed) - 2.0f : c->strong ? -4.5f - uniform(&seed) : -0.5f * uniform(&seed);
    for (auto &x : beta) x = uniform(&seed);
    for (auto &x : a_log) x = uniform(&seed) - 0.5f;
    for (auto &x : dt_bias) x = 0.5f * uniform(&seed) - 0.25f;

    /* the scratch (cl/kda_common.h): fp32 Aqk and 2^gc_last, then from float f0 on f16 W, qg, kg, U
     * (Vn) and h */
    const size_t plane = (size_t)c->HV * BT, a = 0, gl = plane * C, f0 = gl + (size_t)c->HV * NCH * K;
    const size_t w = 0, qg = plane * K, kg = 2 * plane * K, u = 3 * plane * K, h = plane * (3 * K + V);
    const size_t nh = (size_t)c->HV * NCH * K * V, floats = f0 + (h + nh + 1) / 2;
    std::vector<float> want(floats, 0.0f), got(floats, 0.0f);
    auto f16_array = [&](std::vector<float> &scr, size_t at, size_t n) { /* as floats */
        const unsigned short *p = reinterpret_cast<const unsigned short *>(scr.data() + f0) + at;
        std::vector<float> out(n);
        for (size_t i = 0; i < n; i++)
            out[i] = from_half(p[i]);
        return out;
    };
    auto expect_f16 = [&](const char *what, size_t at, size_t n, double tol) {
        expect_close(what, f16_array(got, at, n).data(), f16_array(want, at, n).data(), n, tol);
    };
    std::vector<float> h0((size_t)c->B * c->HV * K * V), ht_want(h0.size()), ht_got(h0.size());
    for (auto &x : h0)
        x = 0.2f * uniform(&seed) - 0.1f;
    kda_emu_io io = {q.data(), k.data(), v.data(), g.data(), beta.data(), a_log.data(), dt_bias.data(),
                     want.data(), nullptr, h0.data(), nullptr, c->B, c->T, c->H, c->HV, NCH,
                     1.0f / std::sqrt((float)K), false};
    f->chunk_kernel(0, &io);
    io.scr = got.data();
    f->chunk_kernel(1, &io);
    cr_log_info("config %s, B %d T %d H %d HV %d", f->name, c->B, c->T, c->H, c->HV);
    expect_f16("W", w, plane * K, 5e-3);
    expect_f16("qg", qg, plane * K, 1e-3);
    expect_f16("kg", kg, plane * K, 1e-3);
    expect_f16("U", u, plane * V, 5e-3);
    expect_close("Aqk", &got[a], &want[a], plane * C, 5e-3);
    expect_close("2^gc_last", &got[gl], &want[gl], (size_t)c->HV * NCH * K, 1e-5);

    /* the state kernels on the scalar chunk kernel's scratch: h_j, Vn over U, the final state;
     * kda_state_mma twice, its copies landing as late as its waits allow, then at their issue
     * (a set overwritten while another warp still reads it fails then). It needs K and V even
     * (the host runs kda_state.cl elsewhere). */
    const std::vector<float> before_state = want;
    io.scr = want.data();
    io.ht = ht_want.data();
    f->state_kernel(0, &io);
    std::vector<unsigned short> o_want((size_t)BT * c->HV * V), o_got(o_want.size());
    auto expect_o = [&](const char *what) {
        std::vector<float> fw(o_want.size()), fg(o_got.size());
        for (size_t i = 0; i < fw.size(); i++) {
            fw[i] = from_half(o_want[i]);
            fg[i] = from_half(o_got[i]);
        }
        expect_close(what, fg.data(), fw.data(), fw.size(), 5e-3);
    };
    if (f->fuseout) { /* its o from kda_state_mma alone, against kda_state + kda_out */
        io.o = o_want.data();
        f->out_kernel(0, &io);
    }
    for (int early = 0; early < 2 && K % 2 == 0 && V % 2 == 0; early++) {
        got = before_state;
        std::fill(o_got.begin(), o_got.end(), (unsigned short)0x7e00); /* NaN where nothing is written */
        io.scr = got.data();
        io.ht = ht_got.data();
        io.o = o_got.data();
        io.cp_async_early = early != 0;
        f->state_kernel(1, &io);
        io.cp_async_early = false;
        cr_log_info("kda_state_mma%s, copies landing %s", f->fuseout ? " with the output" : "", early ? "early" : "late");
        if (f->fuseout) {
            expect_o("o (kda_state_mma, FUSEOUT)");
        } else {
            expect_f16("h (kda_state_mma)", h, nh, 5e-3);
            expect_f16("Vn (kda_state_mma)", u, plane * V, 5e-3);
        }
        if (f->has_ht)
            expect_close("final state (kda_state_mma)", ht_got.data(), ht_want.data(), ht_got.size(), 5e-3);
    }
    if (f->fuseout)
        return;

    /* the output kernels on the scalar chunk kernel's scratch, with random states and Vn */
    unsigned short *stored = reinterpret_cast<unsigned short *>(want.data() + f0);
    for (size_t i = u; i < u + plane * V; i++)
        stored[i] = to_half(2.0f * uniform(&seed) - 1.0f);
    for (size_t i = h; i < h + nh; i++)
        stored[i] = to_half(0.2f * uniform(&seed) - 0.1f);
    io.scr = want.data();
    io.o = o_want.data();
    f->out_kernel(0, &io);
    io.o = o_got.data();
    f->out_kernel(1, &io);
    expect_o("o (kda_out_mma)");
}
