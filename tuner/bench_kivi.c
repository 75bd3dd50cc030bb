/* lk-bench --op kivi: quantized KV caches against fp16 (see bench_kivi.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_kivi.h"
#include "check.h"
#include "decode_table.h"
#include "kivi_problem.h"
#include "ops/kivi_attention.h"
#include "ops/lowrank_attention.h"

#define G 32
#define R 128
#define MEM_LO 4096
#define MEM_HI 131072

static const int bit_widths[3] = {2, 4, 8};

/* A low-rank problem of rank D/2 with 2-bit latents in dtype, or in f32 where the device has no
 * fp16 GEMM (PoCL); *used gets the dtype it runs in. */
static lk_status lowrank_make(lk_context *ctx, lk_dtype dtype, int B, int Hq, int Hkv, int D, int64_t L,
                              lowrank_problem *out, lk_dtype *used)
{
    lk_kivi_config kivi = {0, 0, 0, 2, 2, G, R, L};
    *used = dtype;
    lk_status st = lowrank_problem_create(ctx, dtype, B, Hq, Hkv, D, D / 2, L, &kivi, 3, NULL, out);
    if (st == LK_ERR_UNSUPPORTED && dtype == LK_F16) {
        *used = LK_F32;
        st = lowrank_problem_create(ctx, LK_F32, B, Hq, Hkv, D, D / 2, L, &kivi, 3, NULL, out);
    }
    return st;
}

/* ---- memory ---------------------------------------------------------------------------------- */

static const char *target(int met) { return met ? "met" : "MISSED"; }

/* One row: K, V and all-in bits against fp16; 2-bit rows carry the targets. */
static void mem_row(FILE *md, FILE *csv, const char *cache, int bits, const char *residual, int64_t L, double kb,
                    double vb, double all)
{
    char targets[64] = "";
    if (bits == 2)
        snprintf(targets, sizeof targets, "%s / %s", target(all <= 3.0), target(16.0 / all >= 5.3));
    fprintf(md, "| %s | %d | %s | %lld | %.3f | %.3f | %.3f | %.2fx | %s |\n", cache, bits, residual, (long long)L, kb,
            vb, all, 16.0 / all, targets);
    fprintf(csv, "%s,%d,%s,%lld,%.4f,%.4f,%.4f,%.4f\n", cache, bits, residual, (long long)L, kb, vb, all, 16.0 / all);
}

/* Caches of one sequence-head filled with L tokens; measured by lk_kivi_cache_memory and
 * lk_lowrank_cache_memory. Returns the first length at which 2-bit R = 128 is >= 5.3x (0: none). */
static int64_t memory_table(const dec_table *t, FILE *md, FILE *csv)
{
    fprintf(md, "## Memory against fp16 (G = %d; one sequence-head; D = %d)\n\n"
                "Bits per element of K, of V and of both (all in): codes, the fp16 scale and minimum of each group, "
                "and the fp16 residual buffers of R tokens each for K and V, counted in full. \"R = 0\" is the "
                "quantized part alone: codes and parameters of the quantized tokens (the cache itself needs R >= G). "
                "Low rank: rank %d of %d (one kv head per latent group), KIVI latents, bits per element of the "
                "full K and V. Targets of issue 6 for 2-bit: <= 3.0 bits all in / >= 5.3x smaller than fp16.\n\n"
                "| cache | bits | R | L | K bits | V bits | all-in bits | x smaller than fp16 | <= 3.0 / >= 5.3x |\n"
                "|---|---:|---|---:|---:|---:|---:|---:|---|\n", G, t->D, t->D / 2, t->D);
    fprintf(csv, "# memory\ncache,bits,residual,L,key_bits,value_bits,all_bits,x_smaller\n");
    int64_t first = 0;
    for (int i = 0; i < 3; i++) {
        lk_kivi_memory m = {0};
        for (int64_t L = MEM_LO; L <= MEM_HI; L *= 2) {
            decode_problem pb;
            lk_kivi_cache *c = NULL;
            if (decode_problem_create(t->ctx, LK_F16, 1, 1, 1, L, t->D, 5, &pb) != LK_OK ||
                kivi_problem_cache(&pb, bit_widths[i], bit_widths[i], G, R, &c) != LK_OK ||
                lk_kivi_cache_memory(c, &m) != LK_OK) {
                fprintf(stderr, "memory of %d-bit at L %lld: %s\n", bit_widths[i], (long long)L, lk_last_error(t->ctx));
                m.length = 0;
            } else {
                mem_row(md, csv, "kivi", bit_widths[i], "128", L, m.key_bits, m.value_bits, m.bits_per_element);
                if (bit_widths[i] == 2 && !first && 16.0 / m.bits_per_element >= 5.3)
                    first = L;
            }
            lk_kivi_cache_destroy(c);
            decode_problem_free(&pb);
        }
        if (m.length) /* the quantized part does not depend on the length */
            mem_row(md, csv, "kivi", bit_widths[i], "0", m.length, m.quantized_key_bits, m.quantized_value_bits,
                    (m.quantized_key_bits + m.quantized_value_bits) / 2);
    }
    for (int64_t L = MEM_LO; L <= MEM_HI; L *= 4) {
        lowrank_problem lr;
        lk_dtype used;
        lk_kivi_memory m;
        if (lowrank_make(t->ctx, t->o->dtype, 1, 1, 1, t->D, L, &lr, &used) != LK_OK ||
            lk_lowrank_cache_memory(lr.cache, &m) != LK_OK) {
            fprintf(stderr, "low-rank memory at L %lld: %s\n", (long long)L, lk_last_error(t->ctx));
            continue;
        }
        mem_row(md, csv, "low rank", 2, "128", L, m.key_bits, m.value_bits, m.bits_per_element);
        if (L * 4 > MEM_HI)
            mem_row(md, csv, "low rank", 2, "0", L, m.quantized_key_bits, m.quantized_value_bits,
                    (m.quantized_key_bits + m.quantized_value_bits) / 2);
        lowrank_problem_free(&lr);
    }
    fprintf(md, "\n");
    return first;
}

/* ---- decode ---------------------------------------------------------------------------------- */

enum { C_DENSE, C_K2, C_K4, C_K8, C_LOWRANK, NC };

/* Bytes a decode reads from a KIVI cache: codes and parameters of the quantized tokens and the
 * fp16 residual tokens held (keys n - nk, values n - nv). */
static double kivi_read_bytes(const lk_kivi_cache *c, int64_t bh, int64_t d)
{
    lk_kivi_memory m;
    lk_kivi_cache_memory(c, &m);
    return (double)(m.code_bytes + m.param_bytes) +
           (double)(2 * m.length - m.quantized_keys - m.quantized_values) * (double)(bh * d * 2);
}

/* The parameters the dispatch picks for a call, with the layer that served them. */
static void dispatch_params(lk_context *ctx, const lk_tune_key *key, int D, char *buf, size_t n)
{
    lk_params defaults, tuned;
    lk_lookup_result where;
    lk_kivi_attention_defaults(lk_context_device(ctx), D, &defaults);
    lk_tuned_params(ctx, key, &defaults, &tuned, &where);
    char text[80];
    lk_params_format(&tuned, "", ",", text, sizeof text);
    snprintf(buf, n, "%s (%s)", text, lk_param_source_name(where.source));
}

/* Relative error of call c's output against ref (the dense decode's output); NAN on failure. */
static double output_error(lk_context *ctx, decode_call *c, const double *ref, float *got, size_t n)
{
    double err = NAN;
    if (decode_call_run(ctx, c) == LK_OK && decode_read_output(ctx, &c->pb->o, got) == LK_OK)
        err = attn_rel_error(got, ref, n);
    return err;
}

/* The rows of one (L, B): every configuration timed against the dense decode. */
static int decode_rows(const dec_table *t, int64_t L, int B, dec_row *rows, int *n)
{
    lk_context *ctx = t->ctx;
    decode_problem pb;
    lowrank_problem lr = {0};
    lk_kivi_cache *kivi[3] = {0};
    lk_dtype lr_dtype = t->o->dtype;
    if (!decode_problem_fits(ctx, t->o->dtype, B, t->Hkv, L, t->D))
        return 1;
    lk_status st = decode_problem_create(ctx, t->o->dtype, B, 4 * t->Hkv, t->Hkv, L, t->D, 1, &pb);
    for (int i = 0; st == LK_OK && i < 3; i++)
        st = kivi_problem_cache(&pb, bit_widths[i], bit_widths[i], G, R, &kivi[i]);
    int with_lr = st == LK_OK && lowrank_problem_fits(ctx, B, t->Hkv, L, t->D / 2) &&
                  lowrank_make(ctx, t->o->dtype, B, 4 * t->Hkv, t->Hkv, t->D, L, &lr, &lr_dtype) == LK_OK;
    decode_call calls[NC] = {{.pb = &pb}, {.pb = &pb, .kivi = kivi[0]}, {.pb = &pb, .kivi = kivi[1]},
                             {.pb = &pb, .kivi = kivi[2]}, {.pb = &pb, .lowrank = &lr}};
    double ms[NC];
    int fail = st != LK_OK || dec_table_time(t, calls, with_lr ? NC : NC - 1, ms) != 0;
    size_t nq = (size_t)B * 4 * t->Hkv * t->D;
    float *got = malloc(nq * 4);
    double *ref = malloc(nq * sizeof(double));
    fail = fail || !got || !ref || decode_call_run(ctx, &calls[C_DENSE]) != LK_OK ||
           decode_read_output(ctx, &pb.o, got) != LK_OK;
    if (fail) {
        fprintf(stderr, "L %lld B %d: %s\n", (long long)L, B, lk_last_error(ctx));
    } else {
        for (size_t i = 0; i < nq; i++)
            ref[i] = got[i];
        double dense_bytes = 2.0 * B * t->Hkv * (double)L * t->D * lk_dtype_size(t->o->dtype);
        for (int c = 0; c < (with_lr ? NC : NC - 1) && *n < DEC_MAX_ROWS; c++) {
            dec_row *r = &rows[(*n)++];
            *r = (dec_row){.L = L, .B = B, .ms = ms[c], .dense_ms = ms[C_DENSE], .bytes = dense_bytes,
                           .dense_bytes = dense_bytes, .rel_err = NAN};
            lk_tune_key key;
            if (c == C_DENSE) {
                snprintf(r->config, sizeof r->config, "dense fp16");
                snprintf(r->params, sizeof r->params, "dispatch");
            } else if (c == C_LOWRANK) {
                const lk_kivi_cache *lat = lr.cache->latents;
                r->bytes = kivi_read_bytes(lat, lat->cfg.batch * lat->cfg.kv_heads, lr.r) +
                           2.0 * t->Hkv * lr.r * t->D * lk_dtype_size(lr_dtype); /* + up_k, up_v */
                snprintf(r->config, sizeof r->config, "low rank r%d 2-bit%s", lr.r, lr_dtype != t->o->dtype ? " (f32 q/o)" : "");
                lk_lowrank_attention_key(lr.cache, lr_dtype, &key);
                dispatch_params(ctx, &key, t->D, r->params, sizeof r->params);
            } else {
                r->bytes = kivi_read_bytes(calls[c].kivi, (int64_t)B * t->Hkv, t->D);
                r->rel_err = output_error(ctx, &calls[c], ref, got, nq);
                snprintf(r->config, sizeof r->config, "kivi %d-bit", bit_widths[c - C_K2]);
                lk_kivi_attention_key(calls[c].kivi, t->o->dtype, &key);
                dispatch_params(ctx, &key, t->D, r->params, sizeof r->params);
            }
        }
        fprintf(stderr, "L %lld B %d: dense %.4f, 2-bit %.4f, 4-bit %.4f, 8-bit %.4f, low rank %.4f ms\n",
                (long long)L, B, ms[0], ms[1], ms[2], ms[3], with_lr ? ms[4] : NAN);
    }
    free(got);
    free(ref);
    for (int i = 0; i < 3; i++)
        lk_kivi_cache_destroy(kivi[i]);
    lowrank_problem_free(&lr);
    decode_problem_free(&pb);
    return fail;
}

/* The sections above the rows (dec_pre_fn): the memory table and what it says about the target. */
static void memory_sections(dec_table *t, FILE *md, FILE *csv)
{
    int64_t first = memory_table(t, md, csv);
    char when[64];
    if (first)
        snprintf(when, sizeof when, "from L = %lld on", (long long)first);
    else
        snprintf(when, sizeof when, "at none of the measured lengths");
    fprintf(md, "2-bit, G = %d: the quantized part is the R = 0 row; with R = %d the residual adds on top, so "
                "<= 3.0 bits all in is never met with a residual, and >= 5.3x is met %s (lengths measured: "
                "%d..%d, powers of two).\n\n", G, R, when, MEM_LO, MEM_HI);
}

int bench_kivi(lk_context *ctx, const bench_opts *o)
{
    dec_table t;
    if (dec_table_setup(ctx, o, "4096:32768", "4096:131072", 1, &t))
        return 1;
    char intro[1024];
    snprintf(intro, sizeof intro, "## Decode attention against the dense decode\n\n"
             "Configurations: KIVI with G = %d, R = %d (keys per channel, values per token); low rank: rank %d "
             "of %d, 2-bit latents, RoPE in the kernel, then the up projection GEMM. Bytes read: codes, "
             "parameters and the fp16 residual tokens held (low rank: of the latents, plus up_k and up_v); dense: "
             "K and V. rel err: max |o - o_dense| / max |o_dense| against the dense decode of the fp16 cache "
             "(inputs uniform in [-1, 1]). params: what the dispatch picked (tuning layer). Medians of %d "
             "interleaved rounds.\n\n", G, R, t.D / 2, t.D, DEC_ROUNDS);
    dec_doc doc = {.name = "kivi", .title = "kivi: KIVI and low-rank latent KV caches (issue 6) against fp16",
                   .intro = intro, .with_err = 1};
    dec_row *rows;
    if (dec_table_begin(&t, &doc, memory_sections, &rows))
        return 1;
    int n = 0, fails = 0;
    for (int l = 0; l < t.nlen; l++)
        for (int bi = 0; bi < t.nb; bi++) {
            fails += decode_rows(&t, t.lengths[l], t.batches[bi], rows, &n);
            dec_table_write(&t, &doc, rows, n, l * t.nb + bi + 1, t.nlen * t.nb);
        }
    return dec_table_end(&t, &doc, rows, n) || fails != 0;
}
