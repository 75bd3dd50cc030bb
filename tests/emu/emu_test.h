/* emu_test.h: what the emulated-kernel tests share: a seeded generator, f16 bits and random f16
 * inputs, RoPE's frequency table, the relative RMS comparison with its Criterion expectation, and
 * that of decode partial records. */
#ifndef LK_EMU_TEST_H
#define LK_EMU_TEST_H

#include <criterion/criterion.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

inline uint64_t rng_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 11;
}
inline float uniform(uint64_t *s) { return (float)((double)rng_next(s) / 9007199254740992.0); }

inline unsigned short to_half(float f)
{
    _Float16 h = (_Float16)f;
    unsigned short b;
    memcpy(&b, &h, 2);
    return b;
}
inline float from_half(unsigned short b)
{
    _Float16 h;
    memcpy(&h, &b, 2);
    return (float)h;
}

/* n f16 values uniform in [-1, 1): the bits, and the same values as floats. */
inline void fill_half(uint64_t *seed, size_t n, std::vector<unsigned short> &bits, std::vector<float> &values)
{
    bits.resize(n);
    values.resize(n);
    for (size_t i = 0; i < n; i++) {
        bits[i] = to_half(2.0f * uniform(seed) - 1.0f);
        values[i] = from_half(bits[i]);
    }
}

/* RoPE's frequency table as the kernels read it (rope_math.h): pair i's turns per position,
 * radians(i) / 2pi, split into two floats (hi, lo), for `pairs` pairs. */
template <class F> std::vector<float> rope_turns(int pairs, F radians)
{
    std::vector<float> t(2 * (size_t)pairs);
    for (int i = 0; i < pairs; i++) {
        double turns = radians(i) / (2.0 * M_PI);
        t[2 * i] = (float)turns;
        t[2 * i + 1] = (float)(turns - (double)t[2 * i]);
    }
    return t;
}

/* sqrt(sum (a - b)^2 / sum b^2) over n values (0 when both are zero). */
inline double rel_rms(const float *a, const float *b, size_t n)
{
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return den > 0.0 ? std::sqrt(num / den) : std::sqrt(num);
}

inline void expect_close(const char *what, const float *got, const float *want, size_t n, double tol)
{
    double e = rel_rms(got, want, n);
    cr_log_info("%s: relative RMS %.2e (tolerance %.0e)", what, e, tol);
    cr_expect(e <= tol, "%s: relative RMS %.3e > %.0e", what, e, tol);
}

/* Two sets of nrec partial records of decode_split.h (acc [nrec][D], then (m, l) pairs): the same
 * splits hold tokens (l > 0), and their normalised outputs acc / l and log-sum-exps m + log2 l
 * agree to tol (relative RMS); records are compared normalised, since m may differ a little. */
inline void expect_partials_close(const float *got, const float *want, long nrec, int D, double tol)
{
    std::vector<float> o_want, o_got, lse_want, lse_got;
    for (long r = 0; r < nrec; r++) {
        float mw = want[nrec * D + 2 * r], lw = want[nrec * D + 2 * r + 1];
        float mg = got[nrec * D + 2 * r], lg = got[nrec * D + 2 * r + 1];
        cr_expect((lw > 0.0f) == (lg > 0.0f), "record %ld: l %g against %g", r, lg, lw);
        if (!(lw > 0.0f) || !(lg > 0.0f))
            continue;
        for (int d = 0; d < D; d++) {
            o_want.push_back(want[r * D + d] / lw);
            o_got.push_back(got[r * D + d] / lg);
        }
        lse_want.push_back(mw + std::log2(lw));
        lse_got.push_back(mg + std::log2(lg));
    }
    cr_expect(!o_want.empty(), "no split held a token");
    expect_close("o (acc / l)", o_got.data(), o_want.data(), o_want.size(), tol);
    expect_close("lse (m + log2 l)", lse_got.data(), lse_want.data(), lse_want.size(), tol);
}

#endif
