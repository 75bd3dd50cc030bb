/* emu_test.h: what the emulated-kernel tests share: a seeded generator, f16 bits, and the
 * relative RMS comparison with its Criterion expectation. */
#ifndef LK_EMU_TEST_H
#define LK_EMU_TEST_H

#include <criterion/criterion.h>

#include <cmath>
#include <cstdint>
#include <cstring>

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

#endif
