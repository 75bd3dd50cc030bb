/* Host fp16 <-> fp32 conversion (IEEE binary16, round to nearest even): how tests and the tuner
 * produce the half values a device reads, so the reference sees exactly the same inputs. */
#include <math.h>
#include <string.h>

#include "ref.h"

uint16_t ref_f2h(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, mant = x & 0x7fffffu;
    int exp = (int)((x >> 23) & 0xff) - 127 + 15;
    if (((x >> 23) & 0xff) == 0xff)
        return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0));
    if (exp >= 31)
        return (uint16_t)(sign | 0x7c00u);
    if (exp <= 0) {
        if (exp < -10)
            return (uint16_t)sign;
        mant |= 0x800000u;
        int shift = 14 - exp;
        uint32_t half = mant >> shift, rem = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1)))
            half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = ((uint32_t)exp << 10) | (mant >> 13), rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (half & 1)))
        half++; /* may carry into the exponent: still correct, up to inf */
    return (uint16_t)(sign | half);
}

float ref_h2f(uint16_t h)
{
    int exp = (h >> 10) & 0x1f;
    float m = (float)(h & 0x3ff), v;
    if (exp == 0)
        v = ldexpf(m, -24);
    else if (exp == 31)
        v = m != 0.0f ? NAN : INFINITY;
    else
        v = ldexpf(m + 1024.0f, exp - 25);
    return (h & 0x8000) ? -v : v;
}
