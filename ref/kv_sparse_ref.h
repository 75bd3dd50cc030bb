/* kv_sparse_ref.h: host reference of the sparse KV cache format (cl/kv_sparse_format.h) and of
 * the grouped-head Hadamard rotation, written from the definitions:
 *
 *   pruning   each token row of D keeps exactly `keep` elements: element d survives when fewer
 *             than keep elements j have |x_j| > |x_d| or (|x_j| == |x_d| and j < d)
 *   tiles     key tile d = channel d of the block's 64 tokens; value tile r*(D/64)+c = token r,
 *             channels [64c, 64c+64); bitmap bit e (LSB first) = element e survives
 *   stream    survivors tile after tile, in element order; code j at word j/(32/bits), bits
 *             (j%(32/bits))*bits; bits 16 = the fp16 value, else quant_ref.h per tile
 *   hadamard  H_n[i][j] = (-1)^popcount(i & j) / sqrt(n) (Sylvester), applied as a dense matrix */
#ifndef LK_KV_SPARSE_REF_H
#define LK_KV_SPARSE_REF_H

#include <stdint.h>

/* mask[d] = 1 for the keep survivors of row x[0..D). */
void ref_sparse_prune_row(const float *x, int D, int keep, uint8_t *mask);

/* Words one compressed block holds: ceil(64 * keep * bits / 32). */
int64_t ref_sparse_block_words(int keep, int bits);

/* Compresses one block blk [64][D] (values already fp16) of a key (is_key) or value stream:
 * bitmap[D], params[2*D] fp16 (min, scale; zero for bits 16), words[block words], and the
 * block as decompression restores it, restored [64][D] (pruned, dequantized). */
void ref_sparse_block(const float *blk, int D, int keep, int bits, int is_key, uint64_t *bitmap, uint16_t *params,
                      uint32_t *words, float *restored);

/* out = rotation of x [B, H, S, D] by groups of G heads (lk_hadamard's definition), in doubles. */
void ref_hadamard(const double *x, double *out, int64_t B, int64_t H, int64_t S, int64_t D, int G, const int32_t *perm,
                  int inverse);

#endif
