/* lk-bench --op kivi (issue 6), results/<device-slug>/kivi.{md,csv}:
 *   1. memory: bits per element of K, of V and all in (codes, fp16 scale and minimum per group,
 *      fp16 residual buffers counted in full) for 2/4/8 bits, G = 32, R = 128 at 4K..128K tokens,
 *      the quantized part alone (what R = 0 stores), the low-rank latent cache (rank D/2 of D,
 *      2-bit latents), each against fp16, with the 2-bit targets (<= 3.0 bits, >= 5.3x);
 *   2. decode: time of lk_kivi_attention (2/4/8 bits) and lk_lowrank_attention against the dense
 *      lk_attention_decode of the same problem, bytes of the quantized cache read, achieved
 *      bandwidth against the copy bandwidth of the same run, and the relative error of the
 *      output against the dense fp16 decode. Lengths --seq (4K..128K on GPUs, 4K..32K on CPUs),
 *      batch 1 and 8 (--batch; CPUs: 1).
 * Problem: Hkv = --heads (8 on GPUs, 4 on CPUs), Hq = 4 Hkv, D = --head-dim (128), --dtype (f16). */
#ifndef LK_TUNER_BENCH_KIVI_H
#define LK_TUNER_BENCH_KIVI_H

#include "op.h"

int bench_kivi(lk_context *ctx, const bench_opts *o);

#endif
