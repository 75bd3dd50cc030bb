/* attention_rows.h: the row arithmetic of the generic attention kernels (attention_fwd.cl,
 * attention_bwd.cl), written so that a CPU compiler turns one work-item's loops into vector FMAs.
 *
 *   a work-item holds fp32 vectors of D elements in private memory (q, k, v, dO rows and
 *   accumulators); tiles of rows sit in local memory, row r at tile[r * D .. r * D + D).
 *
 *   lk_row_dot(row, x)         row . x over eight partial sums (lane u takes d = u mod 8), so the
 *                              D products vectorize without reassociation by the compiler and the
 *                              dependent chain is D/8 FMAs; the partials add as a tree.
 *   lk_sum8(w, x, stride)      sum over u < 8 of w[u] x[u * stride], added as a tree (a
 *                              dependent chain of four operations, not eight)
 *   lk_add_rows8(acc, w, rows) acc[d] += lk_sum8(w, rows + d, D): d innermost (contiguous), so
 *                              acc is read and written once per eight rows.
 *   lk_add_row(acc, w, row)    acc[d] += w row[d], for the rows left over.
 *
 * Loading rows of a global tensor, whose rows are contiguous and 16-byte aligned when
 * lk_rows_vectors(...) holds (channel stride 1, offset and strides multiples of LK_VEC):
 *   lk_load_chunk(x, base, ss, j, limit, c, out)    the LK_VEC floats of chunk c of row j
 *                                                    (zeros from row `limit` on)
 *   lk_load_rows(dst, rows, x, base, ss, sd, vectors, r0, limit, tid, nthreads)
 *                                                    dst[rows][D] = rows r0 .. r0+rows: with
 *                                                    `vectors` one 16-byte load per chunk,
 *                                                    consecutive work-items on consecutive
 *                                                    chunks of a row; else element by element
 *
 * D must be a multiple of 8.
 */
#ifndef LK_ATTENTION_ROWS_H
#define LK_ATTENTION_ROWS_H

#if D % 8
#error "attention_rows.h: D must be a multiple of 8"
#endif

LK_INLINE float lk_row_dot(const LK_LOCAL_PTR float *row, const float *x)
{
    float part[8];
    for (int u = 0; u < 8; u++)
        part[u] = row[u] * x[u];
    for (int d = 8; d < D; d += 8)
        for (int u = 0; u < 8; u++)
            part[u] = lk_fma(row[d + u], x[d + u], part[u]);
    return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}

LK_INLINE float lk_sum8(const float *w, const LK_LOCAL_PTR float *x, int stride)
{
    return (lk_fma(w[1], x[stride], w[0] * x[0]) + lk_fma(w[3], x[3 * stride], w[2] * x[2 * stride])) +
           (lk_fma(w[5], x[5 * stride], w[4] * x[4 * stride]) + lk_fma(w[7], x[7 * stride], w[6] * x[6 * stride]));
}

LK_INLINE void lk_add_rows8(float *acc, const float *w, const LK_LOCAL_PTR float *rows)
{
    for (int d = 0; d < D; d++)
        acc[d] += lk_sum8(w, rows + d, D);
}

LK_INLINE void lk_add_row(float *acc, float w, const LK_LOCAL_PTR float *row)
{
    for (int d = 0; d < D; d++)
        acc[d] = lk_fma(w, row[d], acc[d]);
}

#define LK_ROW_CHUNKS (D / LK_VEC) /* 16-byte chunks of a row */

#define lk_rows_vectors(sd, off, sb, sh, ss) lk_rows_vectors_of(LK_VEC, (sd), (off), (sb), (sh), (ss))

LK_INLINE void lk_load_chunk(const LK_GLOBAL lk_t *x, long base, long ss, int j, int limit, int c, float *out)
{
    if (j < limit) {
        lk_unpack16(lk_ld16(x + base + j * ss + c * LK_VEC), out);
    } else {
        for (int u = 0; u < LK_VEC; u++)
            out[u] = 0.0f;
    }
}

LK_INLINE void lk_load_rows(LK_LOCAL_PTR float *dst, int rows, const LK_GLOBAL lk_t *x, long base, long ss, long sd,
                            int vectors, int r0, int limit, int tid, int nthreads)
{
    if (!vectors) {
        for (int idx = tid; idx < rows * D; idx += nthreads) {
            int n = idx / D, d = idx % D, r = r0 + n;
            dst[idx] = r < limit ? lk_ld(x, base + r * ss + d * sd) : 0.0f;
        }
        return;
    }
    float v[LK_VEC];
    for (int idx = tid; idx < rows * LK_ROW_CHUNKS; idx += nthreads) {
        int n = idx / LK_ROW_CHUNKS, c = idx % LK_ROW_CHUNKS;
        lk_load_chunk(x, base, ss, r0 + n, limit, c, v);
        for (int u = 0; u < LK_VEC; u++)
            dst[n * D + c * LK_VEC + u] = v[u];
    }
}

#endif
