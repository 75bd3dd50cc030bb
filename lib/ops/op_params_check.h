/* The static check of a tuned op's parameters: the names each tuned op reads from its parameter set
 * and, for each name, the values the op can take on some device for some call. It needs no
 * device and no shape, so a tuning row can be judged where it enters (lk_db_import_csv) and where
 * it is read (lk_tuned_params), not only when a call refuses it (lk_op_params_fall_back).
 *
 * The limits below are shared with the ops' launch-time checks (attention_fwd.c, attention_bwd.c,
 * decode_split.c, kivi_attention.c, kda.c), which add what depends on the device and the call:
 * work-group size and local memory, tensor cores, head_dim, the query group. */
#ifndef LK_OP_PARAMS_CHECK_H
#define LK_OP_PARAMS_CHECK_H

#include <stddef.h>

#include "longkern.h"
#include "../core/params.h"

/* attention_fwd and attention_bwd */
#define LK_ATTN_STAGES_MAX 4             /* STAGES 1..4: K/V ring slots (fwd), Q and dO tiles (bwd) */
#define LK_ATTN_FWD_BLOCK_N_MAX 256      /* BLOCK_N 1..256 (the generic kernel; MMA 1 and 2 ask less) */
#define LK_ATTN_BWD_TILE_MAX 256         /* BLOCK_M1, BLOCK_N1, BLOCK_M2, BLOCK_N2 1..256 (generic kernels) */
#define LK_ATTN_BWD_MMA_BLOCK_M_MIN 16   /* MMA 1: BLOCK_M a power of two in 16..64 */
#define LK_ATTN_BWD_MMA_BLOCK_M_MAX 64
/* split decodes (attention_decode, kv_sparse, kivi_decode, lowrank_decode) */
#define LK_DEC_SPLITS_MAX 4096           /* SPLITS 0..4096, 0: from the grid */
#define LK_DEC_TILE_BLOCK_N_MAX 64       /* BLOCK_N divides 64 where K/V tiles sit in local memory */
#define LK_DEC_DIRECT_BLOCK_N_MAX 256    /* BLOCK_N divides 256 for KIVI's and low rank's other forms */
#define LK_KIVI_KBUF_MAX 2               /* KBUF 1..2: word buffers of DIRECT 3 */
/* kda_fwd */
#define LK_KDA_CHUNK_MAX 64              /* CHUNK (and SUB) a power of two up to 64 */
#define LK_KDA_BV_MAX 256                /* BV 1..256 */
#define LK_KDA_OBV_MAX 256               /* OBV a multiple of LK_KDA_OBV_STEP up to 256 */
#define LK_KDA_OBV_STEP 4
#define LK_KDA_STAGES_ALL 7              /* STAGES: kernels to launch, a bit each; all three in a tuning row */

/* LK_OK when op is a tuned op (lk_tune_op_known) and every name in p is one the op reads, each
 * with a value in its static range (names may be missing: the op's defaults fill them). Else
 * LK_ERR_INVALID_ARGUMENT with the op, the first offending NAME=value and what the op takes in
 * why (n bytes; why may be NULL when n is 0). */
lk_status lk_op_params_check(const char *op, const lk_params *p, char *why, size_t n);

/* The tuned ops in the order of the table: the i-th name, NULL past the last. */
const char *lk_op_params_op(int i);

#endif
