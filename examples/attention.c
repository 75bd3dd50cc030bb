/* The README example: causal attention with fused RoPE on the default device. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "longkern.h"

int main(void)
{
    const int64_t B = 1, H = 4, S = 256, D = 64;
    size_t n = (size_t)(B * H * S * D);
    lk_context *ctx;
    if (lk_context_create(&ctx, NULL) != LK_OK) {
        fprintf(stderr, "no device: %s\n", lk_last_error(NULL));
        return 1;
    }
    float *host = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        host[i] = sinf((float)i * 0.37f);

    lk_buffer *bq, *bk, *bv, *bo;
    lk_buffer_alloc(ctx, n * sizeof(float), &bq);
    lk_buffer_alloc(ctx, n * sizeof(float), &bk);
    lk_buffer_alloc(ctx, n * sizeof(float), &bv);
    lk_buffer_alloc(ctx, n * sizeof(float), &bo);
    lk_buffer_write(ctx, bq, 0, host, n * sizeof(float));
    lk_buffer_write(ctx, bk, 0, host, n * sizeof(float));
    lk_buffer_write(ctx, bv, 0, host, n * sizeof(float));

    lk_tensor q = lk_tensor_bhsd(bq, LK_F32, B, H, S, D), k = lk_tensor_bhsd(bk, LK_F32, B, H, S, D);
    lk_tensor v = lk_tensor_bhsd(bv, LK_F32, B, H, S, D), o = lk_tensor_bhsd(bo, LK_F32, B, H, S, D);
    lk_rope_params rope = lk_rope_params_default(); /* theta 10000, half-split (HF Llama) */
    lk_attention_params params = lk_attention_params_default();
    params.causal = 1;
    params.rope = &rope;

    lk_status st = lk_attention_fwd(ctx, &q, &k, &v, &o, NULL, &params);
    if (st == LK_OK)
        st = lk_buffer_read(ctx, bo, 0, host, n * sizeof(float));
    if (st != LK_OK)
        fprintf(stderr, "attention failed: %s: %s\n", lk_status_str(st), lk_last_error(ctx));
    else
        printf("o[0][0][255][0..3] = %.5f %.5f %.5f %.5f  (%s)\n", host[255 * D], host[255 * D + 1],
               host[255 * D + 2], host[255 * D + 3], lk_last_launch(ctx));

    lk_buffer_free(bq);
    lk_buffer_free(bk);
    lk_buffer_free(bv);
    lk_buffer_free(bo);
    lk_context_destroy(ctx);
    free(host);
    return st == LK_OK ? 0 : 1;
}
