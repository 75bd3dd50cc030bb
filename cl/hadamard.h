/* hadamard.h: fast Walsh-Hadamard transform of rows held in local memory, shared by the
 * lk_hadamard kernel (hadamard.cl) and the RotateKV key path of the sparse decode.
 *
 *   x [rows][stride] fp32 local, each row holds n = 2^k values at x[r*stride + c], c < n
 *   result: row <- H_n row, H_n in Sylvester order (H_1 = [1], H_2n = [[H, H], [H, -H]]), unscaled
 *   (the caller multiplies by 1/sqrt(n): H_n / sqrt(n) is orthonormal and its own inverse).
 *
 *   log2(n) stages; stage h pairs (i, i + h) inside blocks of 2h: (a, b) -> (a + b, a - b).
 *   Every work-item of the group takes part; a barrier ends each stage (and the transform).
 */
#ifndef LK_HADAMARD_H
#define LK_HADAMARD_H

LK_INLINE void lk_fwht_rows(LK_LOCAL_PTR float *x, int rows, int n, int stride)
{
    const int half_n = n / 2;
    for (int h = 1; h < n; h *= 2) {
        for (int k = (int)get_local_id(0); k < rows * half_n; k += (int)get_local_size(0)) {
            int r = k / half_n, p = k % half_n;
            int i = (p / h) * 2 * h + p % h;
            LK_LOCAL_PTR float *row = x + r * stride;
            float a = row[i], b = row[i + h];
            row[i] = a + b;
            row[i + h] = a - b;
        }
        lk_barrier();
    }
}

#endif
