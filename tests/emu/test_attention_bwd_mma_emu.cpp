/* The tensor-core attention backward (cl/attention_bwd_mma.cl: prep, main and dq kernels) against
 * ref_attention_bwd (fp64) on host threads (warp_emu.h), so that it is tested without an NVIDIA
 * GPU; test_attention_bwd checks it against the same reference on the GPU. Inputs are random f16;
 * o (rounded to f16) and lse come from ref_attention_fwd. With ROPE_OUT 1 and ROPE_IN 0 (the
 * pre-pass variant) Q and K arrive rotated, by ref_rope rounded to f16, and the kernels rotate dq
 * and dk back. Cases: causal and not, Sq != Sk, GQA (dk and dv summed over the group), lengths
 * off the tiles, both RoPE layouts, positions from 700. Tolerance: relative RMS 2e-3 per gradient
 * (f16 P, dS, operands and outputs; measured 3e-4..5e-4). The configurations, their defines in
 * CMakeLists.txt:
 *   bw_emu_fused    D 128, WARPS 8, BLOCK_N 128, BLOCK_M 64, STAGES 2, fused RoPE (the built-in
 *                   default tile on the H200)
 *   bw_emu_plain64  D 64, WARPS 4, BLOCK_N 64, BLOCK_M 32, STAGES 2, no RoPE
 *   bw_emu_prepass  D 128, WARPS 4, BLOCK_N 64, BLOCK_M 16, STAGES 1, RoPE rotated back only */
#include <criterion/parameterized.h>

#include <vector>

#include "attention_bwd_emu.h"
#include "attention_emu_case.h"
extern "C" {
#include "attention_bwd_ref.h"
}

extern const attention_bwd_emu_config bw_emu_fused, bw_emu_plain64, bw_emu_prepass;

/* Criterion runs each test in a new process: a case names its configuration by index. */
static const attention_bwd_emu_config *const configs[] = {&bw_emu_fused, &bw_emu_plain64, &bw_emu_prepass};

ParameterizedTestParameters(attention_bwd_mma_emu, matches_reference)
{
    static attention_emu_case cases[] = {{0, 1, 2, 1, 150, 150, 1, 0, 0}, {0, 1, 1, 1, 70, 200, 0, 1, 700},
                               {1, 1, 4, 2, 100, 100, 0, 0, 0}, {1, 2, 1, 1, 65, 130, 1, 0, 0},
                               {2, 1, 2, 2, 90, 90, 1, 1, 3},   {2, 1, 2, 1, 40, 100, 0, 0, 0}};
    return cr_make_param_array(attention_emu_case, cases, sizeof cases / sizeof cases[0]);
}

/* The f16 bits of rope(x) (ref_rope), as the host's RoPE pass would hand them to the kernels. */
static std::vector<unsigned short> rotated(const std::vector<float> &x, int B, int H, int S, int D,
                                           const lk_rope_params *rope, long offset)
{
    std::vector<double> r(x.size());
    ref_rope(x.data(), r.data(), B, H, S, D, rope, nullptr, offset);
    std::vector<unsigned short> h(x.size());
    for (size_t i = 0; i < x.size(); i++)
        h[i] = to_half((float)r[i]);
    return h;
}

ParameterizedTest(attention_emu_case *c, attention_bwd_mma_emu, matches_reference)
{
    const attention_bwd_emu_config *f = configs[c->config];
    const int D = f->d, rope_on = f->rope_out;
    const size_t nq = (size_t)c->B * c->Hq * c->Sq * D, nk = (size_t)c->B * c->Hkv * c->Sk * D;
    uint64_t seed = 0x853c49e6748fea9bull ^ (uint64_t)(c->Sq * 7 + c->Sk);
    std::vector<unsigned short> q, k, v, dout;
    std::vector<float> qf, kf, vf, doutf;
    fill_half(&seed, nq, q, qf);
    fill_half(&seed, nk, k, kf);
    fill_half(&seed, nk, v, vf);
    fill_half(&seed, nq, dout, doutf);

    attention_emu_rope r(c, D);
    const lk_rope_params *rope = &r.params;
    ref_attention_args ra = {c->B, c->Hq, c->Hkv, c->Sq, c->Sk, D, c->causal, 0.0, rope_on ? rope : nullptr,
                             nullptr, nullptr};
    std::vector<double> o64(nq), lse64((size_t)c->B * c->Hq * c->Sq);
    ref_attention_fwd(&ra, qf.data(), kf.data(), vf.data(), o64.data(), lse64.data());
    std::vector<unsigned short> o(nq);
    std::vector<float> lse(lse64.size());
    for (size_t i = 0; i < nq; i++)
        o[i] = to_half((float)o64[i]);
    for (size_t i = 0; i < lse.size(); i++)
        lse[i] = (float)lse64[i];
    const long q_offset = c->pos_offset + c->Sk - c->Sq;
    std::vector<unsigned short> q_in = q, k_in = k; /* the pre-pass variant reads rotated copies */
    if (rope_on && !f->rope_in) {
        q_in = rotated(qf, c->B, c->Hq, c->Sq, D, rope, q_offset);
        k_in = rotated(kf, c->B, c->Hkv, c->Sk, D, rope, c->pos_offset);
    }

    std::vector<unsigned short> dq(nq), dk(nk), dv(nk);
    attention_bwd_emu_io io = {q_in.data(), k_in.data(), v.data(), o.data(), dout.data(), lse.data(), dq.data(),
                               dk.data(), dv.data(), (float)(1.0 / std::sqrt((double)D)),
                               attention_emu_problem_of(c, r, rope_on)};
    f->backward(&io);

    std::vector<double> want_dq(nq), want_dk(nk), want_dv(nk);
    ref_attention_bwd(&ra, qf.data(), kf.data(), vf.data(), doutf.data(), want_dq.data(), want_dk.data(),
                      want_dv.data());
    cr_log_info("config %s: B %d Hq %d Hkv %d Sq %d Sk %d causal %d, RoPE layout %d from %ld", f->name, c->B, c->Hq,
                c->Hkv, c->Sq, c->Sk, c->causal, c->layout, c->pos_offset);
    const struct {
        const char *name;
        const std::vector<unsigned short> &got;
        const std::vector<double> &want;
    } grads[] = {{"dq", dq, want_dq}, {"dk", dk, want_dk}, {"dv", dv, want_dv}};
    for (const auto &gr : grads) {
        std::vector<float> got(gr.got.size()), want(gr.want.size());
        for (size_t i = 0; i < got.size(); i++) {
            got[i] = from_half(gr.got[i]);
            want[i] = (float)gr.want[i];
        }
        expect_close(gr.name, got.data(), want.data(), got.size(), 2e-3);
    }
}
