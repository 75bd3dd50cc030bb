/* The tensor-core attention forwards (cl/attention_fwd_mma.cl, mma.sync, and
 * cl/attention_fwd_wgmma.cl, Hopper's wgmma) against ref_attention_fwd (fp64) on host threads
 * (warp_emu.h), so that the kernels behind the NVIDIA speed targets are tested without an NVIDIA
 * GPU; test_attention_fwd checks them against the same reference on the GPU. Inputs are
 * random f16 (what the kernel reads, handed to the reference exactly); RoPE by the host's turns
 * per position. With ROPE_K 0 and RoPE (the K pre-pass variant) K arrives rotated, by ref_rope
 * rounded to f16, as lk_rope would give it. Cases: causal and not, Sq < Sk, GQA, one query row,
 * lengths off the tiles, both RoPE layouts, positions from 1000. Tolerance: relative RMS 2e-3 for
 * o (f16 P and o; measured 2e-4..3e-4) and 2e-5 for lse (measured up to 4e-6). The
 * configurations, their defines in CMakeLists.txt:
 *   at_emu_fused    D 128, BLOCK_M 128, WARPS 4, BLOCK_N 64, STAGES 2, QSMEM 1, fused RoPE (the
 *                   tuned tile of the H200's 2K-128K keys: two m16 tiles a warp, Q in shared memory)
 *   at_emu_plain64  D 64, BLOCK_M 64, WARPS 4, BLOCK_N 32, STAGES 3, no RoPE (one m16 tile a warp)
 *   at_emu_prepass  D 128, BLOCK_M 128, WARPS 8, BLOCK_N 128, STAGES 1, RoPE on Q only
 *   at_emu_wg_*     the same three RoPE paths on the wgmma kernel: two warpgroups with BLOCK_N 64
 *                   and STAGES 2 (fused), one with BLOCK_N 128 and STAGES 3 (hd64, no RoPE), two
 *                   with BLOCK_N 128 and STAGES 1 (Q only); _overlap and _overlap64 with OVERLAP 1
 *                   (fused, STAGES 3; hd64, two warpgroups, STAGES 2: K one tile ahead of V)
 *   at_emu_wg_producer* PRODUCER 1 (a copying warpgroup, named barriers): two computing
 *                   warpgroups, fused RoPE (the producer rotates K), STAGES 2; one, Q only,
 *                   STAGES 1 (nothing ahead); one, hd64, OVERLAP 1, STAGES 3 */
#include <criterion/parameterized.h>

#include <vector>

#include "attention_emu_case.h"

extern const attention_emu_config at_emu_fused, at_emu_plain64, at_emu_prepass, at_emu_wg_fused, at_emu_wg_plain64,
    at_emu_wg_prepass, at_emu_wg_overlap, at_emu_wg_overlap64, at_emu_wg_producer, at_emu_wg_producer1,
    at_emu_wg_producer_overlap;

/* Criterion runs each test in a new process: a case names its configuration by index. */
static const attention_emu_config *const configs[] = {&at_emu_fused,      &at_emu_plain64,    &at_emu_prepass,
                                                      &at_emu_wg_fused,   &at_emu_wg_plain64, &at_emu_wg_prepass,
                                                      &at_emu_wg_overlap, &at_emu_wg_overlap64,
                                                      &at_emu_wg_producer, &at_emu_wg_producer1,
                                                      &at_emu_wg_producer_overlap};

ParameterizedTestParameters(attention_mma_emu, matches_reference)
{
    static attention_emu_case cases[] = {{0, 1, 2, 1, 150, 150, 0, 0, 0},   {0, 1, 2, 2, 77, 200, 1, 1, 5},
                               {1, 2, 4, 2, 130, 130, 1, 0, 0},   {1, 1, 1, 1, 1, 97, 0, 0, 0},
                               {2, 1, 2, 1, 140, 260, 0, 0, 1000}, {2, 1, 1, 1, 129, 129, 1, 1, 0},
                               {3, 1, 2, 1, 150, 150, 0, 0, 0},   {3, 1, 2, 2, 77, 200, 1, 1, 5},
                               {4, 2, 4, 2, 130, 130, 1, 0, 0},   {4, 1, 1, 1, 1, 97, 0, 0, 0},
                               {5, 1, 2, 1, 140, 260, 0, 0, 1000}, {5, 1, 1, 1, 129, 129, 1, 1, 0},
                               {6, 1, 2, 1, 150, 150, 0, 0, 0},   {6, 1, 2, 2, 77, 200, 1, 1, 5},
                               {7, 2, 4, 2, 130, 330, 1, 0, 0},   {7, 1, 1, 1, 1, 97, 0, 0, 0},
                               {8, 1, 2, 1, 150, 300, 0, 0, 0},   {8, 1, 2, 2, 77, 200, 1, 1, 5},
                               {9, 1, 2, 1, 140, 260, 0, 0, 1000}, {9, 1, 1, 1, 129, 129, 1, 1, 0},
                               {10, 2, 4, 2, 130, 330, 1, 0, 0},  {10, 1, 1, 1, 1, 97, 0, 0, 0}};
    return cr_make_param_array(attention_emu_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(attention_emu_case *c, attention_mma_emu, matches_reference)
{
    const attention_emu_config *f = configs[c->config];
    const int D = f->d, rope_on = f->rope_q;
    const size_t nq = (size_t)c->B * c->Hq * c->Sq * D, nk = (size_t)c->B * c->Hkv * c->Sk * D;
    uint64_t seed = 0xd1b54a32d192ed03ull ^ (uint64_t)(c->Sq * 131 + c->Sk);
    std::vector<unsigned short> q, k, v, o(nq);
    std::vector<float> qf, kf, vf;
    fill_half(&seed, nq, q, qf);
    fill_half(&seed, nk, k, kf);
    fill_half(&seed, nk, v, vf);

    attention_emu_rope r(c, D);
    const lk_rope_params *rope = &r.params;
    std::vector<unsigned short> k_in = k;
    if (rope_on && !f->rope_k) { /* the K pre-pass: K rotated and rounded to f16 before the kernel */
        std::vector<double> kr(nk);
        ref_rope(kf.data(), kr.data(), c->B, c->Hkv, c->Sk, D, rope, nullptr, c->pos_offset);
        for (size_t i = 0; i < nk; i++)
            k_in[i] = to_half((float)kr[i]);
    }

    std::vector<double> want(nq), want_lse((size_t)c->B * c->Hq * c->Sq);
    ref_attention_args ra = {c->B, c->Hq, c->Hkv, c->Sq, c->Sk, D, c->causal, 0.0, rope_on ? rope : nullptr,
                             nullptr, nullptr};
    ref_attention_fwd(&ra, qf.data(), kf.data(), vf.data(), want.data(), want_lse.data());
    std::vector<float> want_f(nq), lse_want(want_lse.size());
    for (size_t i = 0; i < nq; i++)
        want_f[i] = (float)want[i];
    for (size_t i = 0; i < want_lse.size(); i++)
        lse_want[i] = (float)want_lse[i];
    /* twice: the copies landing as late as the waits allow, then as early as their issue */
    for (int early = 0; early < 2; early++) {
        std::vector<float> lse(want_lse.size()), got(nq);
        attention_emu_io io = {q.data(), k_in.data(), v.data(), o.data(), lse.data(),
                               (float)(1.4426950408889634 / std::sqrt((double)D)), attention_emu_problem_of(c, r, rope_on),
                               early != 0};
        f->forward(&io);
        cr_log_info("config %s (copies land %s): B %d Hq %d Hkv %d Sq %d Sk %d causal %d, RoPE layout %d from %ld",
                    f->name, early ? "early" : "late", c->B, c->Hq, c->Hkv, c->Sq, c->Sk, c->causal, c->layout,
                    c->pos_offset);
        for (size_t i = 0; i < nq; i++)
            got[i] = from_half(o[i]);
        expect_close("o", got.data(), want_f.data(), nq, 2e-3);
        expect_close("lse", lse.data(), lse_want.data(), lse.size(), 2e-5);
    }
}
