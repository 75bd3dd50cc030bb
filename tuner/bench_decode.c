/* Decode-attention benchmark tables (see bench_decode.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_decode.h"
#include "decode_table.h"
#include "ops/attention_decode.h"
#include "ops/kv_sparse_decode.h"

/* ---- dense decode ------------------------------------------------------------------------- */

int bench_attention_decode(lk_context *ctx, const bench_opts *o)
{
    dec_table b;
    if (dec_table_setup(ctx, o, "1024:8192", "4096:131072", 0, &b))
        return 1;
    char intro[256];
    snprintf(intro, sizeof intro, "\"ms\" is the tuned dispatch, \"dense ms\" the built-in defaults; bytes = K and V "
             "read once. Medians of %d interleaved rounds.\n\n", DEC_ROUNDS);
    dec_doc doc = {.name = "attention_decode", .title = "attention_decode: dense decode attention (split over "
                   "tokens + combine)", .intro = intro};
    dec_row *rows;
    if (dec_table_begin(&b, &doc, NULL, &rows))
        return 1;
    int n = 0, fails = 0;
    for (int l = 0; l < b.nlen; l++)
        for (int bi = 0; bi < b.nb; bi++) {
            int B = b.batches[bi];
            decode_problem pb;
            if (!decode_problem_fits(ctx, o->dtype, B, b.Hkv, b.lengths[l], b.D) ||
                decode_problem_create(ctx, o->dtype, B, 4 * b.Hkv, b.Hkv, b.lengths[l], b.D, 1, &pb) != LK_OK) {
                fails++;
                continue;
            }
            lk_params defaults, tuned;
            lk_tune_key key;
            lk_lookup_result where;
            lk_attention_decode_defaults(lk_context_device(ctx), b.D, &defaults);
            lk_attention_decode_key(&pb.q, &pb.k, &key);
            lk_tuned_params(ctx, &key, &defaults, &tuned, &where);
            decode_call calls[2] = {{.pb = &pb}, {.pb = &pb, .tuned = &defaults}};
            double ms[2];
            if (dec_table_time(&b, calls, 2, ms) == 0) {
                double bytes = 2.0 * B * b.Hkv * (double)b.lengths[l] * b.D * lk_dtype_size(o->dtype);
                dec_row *r = &rows[n++];
                *r = (dec_row){.L = b.lengths[l], .B = B, .ms = ms[0], .dense_ms = ms[1], .bytes = bytes,
                               .dense_bytes = bytes, .rel_err = NAN};
                snprintf(r->config, sizeof r->config, "dense (vs defaults)");
                lk_params_format(&tuned, "", ",", r->params, sizeof r->params);
                fprintf(stderr, "L %lld B %d: dispatch %.4f ms, defaults %.4f ms, %.1f GB/s\n", (long long)b.lengths[l],
                        B, ms[0], ms[1], bytes / (ms[0] * 1e6));
            } else {
                fails++;
            }
            decode_problem_free(&pb);
            dec_table_write(&b, &doc, rows, n, l * b.nb + bi + 1, b.nlen * b.nb);
        }
    return dec_table_end(&b, &doc, rows, n) || fails != 0;
}

/* ---- sparse cache ----------------------------------------------------------------------------- */

/* Bytes of a cache at each sparsity and bit width, measured on a 1088-token cache (16 blocks
 * compressed), against dense fp16 of the compressed tokens. */
static void bytes_table(dec_table *b, FILE *md, FILE *csv)
{
    static const double sparsity[] = {0.5, 0.7, 0.9};
    static const int bits[] = {16, 4, 2};
    fprintf(md, "## Bytes against dense fp16 (compressed blocks; K and V; D = %d)\n\n"
                "| sparsity | keep / D | bits | bytes per token per head | %% of dense fp16 | target |\n"
                "|---:|---:|---:|---:|---:|---|\n", b->D);
    fprintf(csv, "# bytes\nsparsity,keep,bits,bytes_per_token_head,fraction_of_fp16\n");
    decode_problem pb;
    if (decode_problem_create(b->ctx, LK_F16, 1, 1, 1, 16 * 64 + 64, b->D, 7, &pb) != LK_OK)
        return;
    for (int s = 0; s < 3; s++)
        for (int i = 0; i < 3; i++) {
            lk_kv_sparse_config cfg = sparse_config(SPARSE_PLAIN, 1, 1, b->D, pb.L, sparsity[s], NULL);
            cfg.key_bits = cfg.value_bits = bits[i];
            lk_kv_sparse_cache *c;
            lk_kv_sparse_bytes m;
            if (lk_kv_sparse_create(b->ctx, &cfg, &c) != LK_OK || lk_kv_sparse_append(b->ctx, c, &pb.k, &pb.v) != LK_OK)
                continue;
            lk_kv_sparse_memory(c, &m);
            double fp16 = 2.0 * m.compressed_tokens * b->D * 2, frac = m.sparse_bytes / fp16;
            const char *target = sparsity[s] == 0.7 && bits[i] == 16 ? (frac <= 0.45 ? "<= 45%: met" : "<= 45%: MISSED")
                                 : sparsity[s] == 0.7 && bits[i] == 2 ? (frac <= 0.15 ? "<= 15%: met" : "<= 15%: MISSED")
                                                                      : "";
            fprintf(md, "| %.0f%% | %d / %d | %d | %.1f | %.1f%% | %s |\n", 100 * sparsity[s], cfg.keep, b->D, bits[i],
                    m.sparse_bytes / (double)m.compressed_tokens, 100 * frac, target);
            fprintf(csv, "%.2f,%d,%d,%.2f,%.4f\n", sparsity[s], cfg.keep, bits[i],
                    m.sparse_bytes / (double)m.compressed_tokens, frac);
            lk_kv_sparse_destroy(c);
        }
    decode_problem_free(&pb);
    fprintf(md, "\n");
}

/* The tuned parameters of the sparse key with VARIANT forced. */
static void variant_params(lk_context *ctx, const decode_problem *pb, const lk_kv_sparse_cache *c, int variant,
                           lk_params *out)
{
    lk_tune_key key;
    lk_params defaults;
    lk_lookup_result where;
    lk_kv_sparse_decode_key(&pb->q, c, &key);
    lk_kv_sparse_decode_defaults(lk_context_device(ctx), pb->D, pb->Hkv < 4 ? pb->Hkv : 4, 4, &defaults);
    lk_tuned_params(ctx, &key, &defaults, out, &where);
    lk_params_set(out, "VARIANT", variant);
    if (lk_kv_sparse_decode_check_params(ctx, out, pb->D, pb->Hkv < 4 ? pb->Hkv : 4, 4, pb->q.dtype) != LK_OK)
        lk_params_set(out, "BLOCK_N", 2); /* the two-stage tiles may not fit the fused path */
}

int bench_kv_sparse(lk_context *ctx, const bench_opts *o)
{
    dec_table b;
    if (dec_table_setup(ctx, o, "1024:4096", "4096:131072", 0, &b))
        return 1;
    char intro[512];
    snprintf(intro, sizeof intro, "## Decode attention against the dense decode\n\nBytes read: the compressed cache "
             "(bitmaps, parameters, packed words, offsets, dense sinks and window) or dense K and V. Targets: GB/s >= "
             "70%% of copy at L >= 32K, speedup ÷ byte ratio >= 0.8. Medians of %d interleaved rounds.\n\n",
             DEC_ROUNDS);
    dec_doc doc = {.name = "kv_sparse", .title = "kv_sparse: Mustafar sparse KV cache (70% sparsity) and RotateKV, "
                   "decode against dense", .intro = intro};
    dec_row *rows;
    if (dec_table_begin(&b, &doc, bytes_table, &rows))
        return 1;
    int n = 0, fails = 0;
    enum { C_DENSE, C_PLAIN, C_2BIT, C_ROT, C_ROT_FUSED, C_ROT_TWO, NC };
    static const char *names[NC] = {"dense", "mustafar-fp16", "sparse-2bit", "rotatekv-2bit", "rotatekv-2bit fused",
                                    "rotatekv-2bit two-stage"};
    for (int l = 0; l < b.nlen; l++)
        for (int bi = 0; bi < b.nb; bi++) {
            int B = b.batches[bi];
            decode_problem pb;
            lk_kv_sparse_cache *cache[SPARSE_CONFIGS] = {0};
            if (!decode_problem_fits(ctx, o->dtype, B, b.Hkv, b.lengths[l], b.D) ||
                decode_problem_create(ctx, o->dtype, B, 4 * b.Hkv, b.Hkv, b.lengths[l], b.D, 1, &pb) != LK_OK) {
                fails++;
                continue;
            }
            int ok = 1;
            for (int k = 0; k < SPARSE_CONFIGS && ok; k++)
                ok = decode_problem_sparse(&pb, (sparse_kind)k, &cache[k]) == LK_OK;
            lk_params fused, two;
            if (ok) {
                variant_params(ctx, &pb, cache[SPARSE_ROTATE], LK_SPARSE_FUSED, &fused);
                variant_params(ctx, &pb, cache[SPARSE_ROTATE], LK_SPARSE_TWO_STAGE, &two);
            }
            decode_call calls[NC] = {{.pb = &pb},
                                     {.pb = &pb, .cache = cache[SPARSE_PLAIN]},
                                     {.pb = &pb, .cache = cache[SPARSE_2BIT]},
                                     {.pb = &pb, .cache = cache[SPARSE_ROTATE]},
                                     {.pb = &pb, .cache = cache[SPARSE_ROTATE], .tuned = &fused},
                                     {.pb = &pb, .cache = cache[SPARSE_ROTATE], .tuned = &two}};
            double ms[NC];
            if (!ok || dec_table_time(&b, calls, NC, ms) != 0) {
                fprintf(stderr, "L %lld B %d: %s\n", (long long)b.lengths[l], B, lk_last_error(ctx));
                fails++;
            } else {
                double dense_bytes = 2.0 * B * b.Hkv * (double)b.lengths[l] * b.D * lk_dtype_size(o->dtype);
                for (int c = 0; c < NC && n < DEC_MAX_ROWS; c++) {
                    const lk_kv_sparse_cache *cc = calls[c].cache;
                    dec_row *r = &rows[n++];
                    *r = (dec_row){.L = b.lengths[l], .B = B, .ms = ms[c], .dense_ms = ms[C_DENSE],
                                   .bytes = cc ? (double)lk_kv_sparse_read_bytes(cc) : dense_bytes,
                                   .dense_bytes = dense_bytes, .rel_err = NAN};
                    snprintf(r->config, sizeof r->config, "%s", names[c]);
                    if (calls[c].tuned)
                        lk_params_format(calls[c].tuned, "", ",", r->params, sizeof r->params);
                    else
                        snprintf(r->params, sizeof r->params, "dispatch");
                }
                fprintf(stderr, "L %lld B %d: dense %.4f, fp16 %.4f, 2bit %.4f, rotatekv %.4f (fused %.4f, two-stage %.4f) ms\n",
                        (long long)b.lengths[l], B, ms[0], ms[1], ms[2], ms[3], ms[4], ms[5]);
            }
            for (int k = 0; k < SPARSE_CONFIGS; k++)
                lk_kv_sparse_destroy(cache[k]);
            decode_problem_free(&pb);
            dec_table_write(&b, &doc, rows, n, l * b.nb + bi + 1, b.nlen * b.nb);
        }
    return dec_table_end(&b, &doc, rows, n) || fails != 0;
}
