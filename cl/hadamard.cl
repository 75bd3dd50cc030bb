/* hadamard.cl: grouped-head Hadamard rotation (RotateKV) with an optional channel permutation.
 *
 *   x, out  [B, H, S, D]  storage lk_t, element strides; out may be x (in place)
 *   groups of G consecutive heads: the vector of token s, group g is
 *           v[c] = x[b, g*G + c / D, s, c % D],  c < n = G*D (a power of two)
 *   forward  (INVERSE 0):  out_vec[c] = (H_n v / sqrt(n))[perm[c]]      (rotate, then reorder)
 *   inverse  (INVERSE 1):  z[perm[c]] = v[c], out_vec = H_n z / sqrt(n)  (un-reorder, rotate back)
 *   perm NULL: identity.
 *
 *   grid: dim 0 = S, dim 1 = B * H / G; one work-group per vector, buf[n] in local memory.
 */
#include "portable.h"
#include "hadamard.h"

#ifndef N
#define N 512 /* G * D */
#endif
#ifndef INVERSE
#define INVERSE 0
#endif

LK_KERNEL void hadamard(const LK_GLOBAL lk_t *x, long x_off, long xsb, long xsh, long xss, long xsd,
                        LK_GLOBAL lk_t *out, long o_off, long osb, long osh, long oss, long osd,
                        int H, int D, const LK_GLOBAL int *perm, float scale)
{
    LK_SHARED float buf[N];
    const int s = get_group_id(0), G = N / D, groups = H / G;
    const int b = get_group_id(1) / groups, h0 = (get_group_id(1) % groups) * G;
    for (int c = get_local_id(0); c < N; c += get_local_size(0)) {
        int slot = INVERSE && perm ? perm[c] : c;
        buf[slot] = lk_ld(x, x_off + b * xsb + (long)(h0 + c / D) * xsh + (long)s * xss + (c % D) * xsd);
    }
    lk_barrier();
    lk_fwht_rows(buf, 1, N, N);
    for (int c = get_local_id(0); c < N; c += get_local_size(0)) {
        int src = !INVERSE && perm ? perm[c] : c;
        lk_st(out, o_off + b * osb + (long)(h0 + c / D) * osh + (long)s * oss + (c % D) * osd, buf[src] * scale);
    }
}
