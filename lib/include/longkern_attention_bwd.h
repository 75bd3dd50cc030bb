/* longkern: attention backward (included by longkern.h; include that instead). */
#ifndef LONGKERN_ATTENTION_BWD_H
#define LONGKERN_ATTENTION_BWD_H

#ifdef __cplusplus
extern "C" {
#endif

/* Gradients of lk_attention_fwd (FlashAttention-2 backward): given the forward's inputs q, k, v,
 * its output o and logsumexp lse, and dout = dL/do, writes dq = dL/dq, dk = dL/dk, dv = dL/dv.
 * params must be the forward's (causal, scale, rope, position ids). With params->rope the
 * gradients are w.r.t. the un-rotated q and k (the rotation's transpose is applied inside).
 * With GQA, dk and dv sum over the query heads of each kv head.
 *
 * q, o, dout, dq [B, Hq, Sq, D]; k, v, dk, dv [B, Hkv, Sk, D]; all F32 or all F16; D in
 * {64, 128, 256}; any strides. lse F32 [B, Hq, Sq] (natural log, as the forward writes it).
 * dq, dk, dv may not overlap each other or any input. params->rope_variant forces how RoPE runs
 * (LK_ROPE_FUSED: rotated in the kernels; LK_ROPE_K_PREPASS: Q and K rotated once into scratch,
 * gradients rotated back in the kernels; LK_ROPE_UNFUSED: plain backward on rotated copies, then
 * an inverse RoPE pass on dq and dk); AUTO lets the tuning database (op "attention_bwd") pick. */
lk_status lk_attention_bwd(lk_context *ctx, const lk_tensor *q, const lk_tensor *k, const lk_tensor *v,
                           const lk_tensor *o, const lk_tensor *lse, const lk_tensor *dout, lk_tensor *dq,
                           lk_tensor *dk, lk_tensor *dv, const lk_attention_params *params);

#ifdef __cplusplus
}
#endif
#endif
