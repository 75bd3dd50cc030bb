/* The static check of a tuned op's parameters (see op_params_check.h): one table per op of the
 * names its launch reads from the tuned set (its defaults function, its launch code, the tuner's
 * space in tuner/) and each name's values on some device for some call. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "op_params_check.h"
#include "kv_sparse_decode.h"

typedef enum {
    IN_RANGE, /* lo..hi */
    POW2,     /* a power of two in lo..hi */
    MULTIPLE, /* a multiple of arg in lo..hi */
    ONE_OF,   /* v in 0..30 with bit v of arg set */
} rule_kind;

typedef struct rule {
    const char *name;
    rule_kind kind;
    int lo, hi, arg;
} rule;

#define BITS3(a, b, c) ((1 << (a)) | (1 << (b)) | (1 << (c)))
#define ANY_POSITIVE 1, INT_MAX /* bounded by the device's work-group size, checked at call time */

/* lk_attention_fwd_check_params; MMA 0 generic, 1 mma.sync (WARPS 4 or 8), 2 Hopper's wgmma (WARPS
 * 4, 8 or 12, BLOCK_M 16 WARPS); QSMEM is MMA 1's, OVERLAP and PRODUCER are MMA 2's; ROPE_TABLE is
 * read as a flag by the fused RoPE path. */
static const rule attention_fwd[] = {
    {"VARIANT", IN_RANGE, LK_ROPE_FUSED, LK_ROPE_UNFUSED, 0},
    {"ROPE_TABLE", IN_RANGE, 0, 1, 0},
    {"MMA", IN_RANGE, 0, 2, 0},
    {"WARPS", ONE_OF, 4, 12, BITS3(4, 8, 12)},
    {"BLOCK_M", IN_RANGE, ANY_POSITIVE, 0},
    {"BLOCK_N", IN_RANGE, 1, LK_ATTN_FWD_BLOCK_N_MAX, 0},
    {"STAGES", IN_RANGE, 1, LK_ATTN_STAGES_MAX, 0},
    {"QSMEM", IN_RANGE, 0, 1, 0},
    {"OVERLAP", IN_RANGE, 0, 1, 0},
    {"PRODUCER", IN_RANGE, 0, 1, 0},
};

/* lk_attention_bwd_check_params: the generic kernels' four tiles, or with MMA 1 the tensor-core
 * tiles (BLOCK_N 16 or 32 WARPS: 64, 128 or 256). */
static const rule attention_bwd[] = {
    {"VARIANT", IN_RANGE, LK_ROPE_FUSED, LK_ROPE_UNFUSED, 0},
    {"MMA", IN_RANGE, 0, 1, 0},
    {"WARPS", ONE_OF, 4, 8, (1 << 4) | (1 << 8)},
    {"BLOCK_N", POW2, 64, 256, 0},
    {"BLOCK_M", POW2, LK_ATTN_BWD_MMA_BLOCK_M_MIN, LK_ATTN_BWD_MMA_BLOCK_M_MAX, 0},
    {"STAGES", IN_RANGE, 1, LK_ATTN_STAGES_MAX, 0},
    {"BLOCK_M1", IN_RANGE, 1, LK_ATTN_BWD_TILE_MAX, 0},
    {"BLOCK_N1", IN_RANGE, 1, LK_ATTN_BWD_TILE_MAX, 0},
    {"BLOCK_M2", IN_RANGE, 1, LK_ATTN_BWD_TILE_MAX, 0},
    {"BLOCK_N2", IN_RANGE, 1, LK_ATTN_BWD_TILE_MAX, 0},
};

/* lk_decode_check_tunables with the op's largest BLOCK_N (a power of two, which BLOCK_N divides). */
static const rule attention_decode[] = {
    {"SPLITS", IN_RANGE, 0, LK_DEC_SPLITS_MAX, 0},
    {"BLOCK_N", POW2, 1, LK_DEC_TILE_BLOCK_N_MAX, 0},
    {"WG", IN_RANGE, ANY_POSITIVE, 0},
};

/* lk_kv_sparse_decode_check_params and the launch: DIRECT as lk_decode_check_direct with direct
 * reads, every form's tiles dividing 64. */
static const rule kv_sparse[] = {
    {"VARIANT", IN_RANGE, LK_SPARSE_FUSED, LK_SPARSE_TWO_STAGE, 0},
    {"DIRECT", IN_RANGE, 0, 3, 0},
    {"LOADER", IN_RANGE, 0, 1, 0},
    {"SPLITS", IN_RANGE, 0, LK_DEC_SPLITS_MAX, 0},
    {"BLOCK_N", POW2, 1, LK_DEC_TILE_BLOCK_N_MAX, 0},
    {"WG", IN_RANGE, ANY_POSITIVE, 0},
};

/* lk_kivi_attention_check_tunables: BLOCK_N dividing 64 with DIRECT 0, 256 with the others. */
static const rule kivi_decode[] = {
    {"DIRECT", IN_RANGE, 0, 3, 0},
    {"KBUF", IN_RANGE, 1, LK_KIVI_KBUF_MAX, 0},
    {"SPLITS", IN_RANGE, 0, LK_DEC_SPLITS_MAX, 0},
    {"BLOCK_N", POW2, 1, LK_DEC_DIRECT_BLOCK_N_MAX, 0},
    {"WG", IN_RANGE, ANY_POSITIVE, 0},
};

/* lk_lowrank_attention_check_tunables: no direct reads (DIRECT 1). */
static const rule lowrank_decode[] = {
    {"DIRECT", ONE_OF, 0, 3, BITS3(0, 2, 3)},
    {"KBUF", IN_RANGE, 1, LK_KIVI_KBUF_MAX, 0},
    {"SPLITS", IN_RANGE, 0, LK_DEC_SPLITS_MAX, 0},
    {"BLOCK_N", POW2, 1, LK_DEC_DIRECT_BLOCK_N_MAX, 0},
    {"WG", IN_RANGE, ANY_POSITIVE, 0},
};

/* lk_kda_check_params, whose values a call caps first (lk_kda_effective: CHUNK at the sequence,
 * SUB at CHUNK, BV and OBV at V; the flags read as != 0): the table holds the uncapped ranges. KT
 * and KS are derived, never read from a row. STAGES (not tuned) is lk-bench's per-kernel mask:
 * a row leaving a kernel out would leave the output unwritten. */
static const rule kda_fwd[] = {
    {"CHUNK", POW2, 1, LK_KDA_CHUNK_MAX, 0},
    {"SUB", POW2, 1, LK_KDA_CHUNK_MAX, 0},
    {"BV", IN_RANGE, 1, LK_KDA_BV_MAX, 0},
    {"WG", IN_RANGE, ANY_POSITIVE, 0},
    {"OBV", MULTIPLE, LK_KDA_OBV_STEP, LK_KDA_OBV_MAX, LK_KDA_OBV_STEP},
    {"MMA", IN_RANGE, 0, 1, 0},
    {"SMMA", IN_RANGE, 0, 1, 0},
    {"CMMA", IN_RANGE, 0, 1, 0},
    {"SCR16", IN_RANGE, 0, 1, 0},
    {"FUSEOUT", IN_RANGE, 0, 1, 0},
    {"STAGES", IN_RANGE, LK_KDA_STAGES_ALL, LK_KDA_STAGES_ALL, 0},
};

#define OP(name) {#name, name, (int)(sizeof name / sizeof name[0])}
static const struct {
    const char *op;
    const rule *rules;
    int n;
} ops[] = {OP(attention_fwd), OP(attention_bwd),  OP(attention_decode), OP(kda_fwd),
           OP(kv_sparse),     OP(kivi_decode),    OP(lowrank_decode)};
#define N_OPS (int)(sizeof ops / sizeof ops[0])

const char *lk_op_params_op(int i)
{
    return i >= 0 && i < N_OPS ? ops[i].op : NULL;
}

static int allowed(const rule *r, int v)
{
    if (v < r->lo || v > r->hi)
        return 0;
    switch (r->kind) {
    case POW2:
        return v > 0 && (v & (v - 1)) == 0;
    case MULTIPLE:
        return v % r->arg == 0;
    case ONE_OF:
        return v >= 0 && v <= 30 && (r->arg >> v & 1);
    default:
        return 1;
    }
}

/* "1..256", "a power of two in 16..64", "one of 4, 8, 12", ">= 1". */
static void describe(const rule *r, char *buf, size_t n)
{
    if (r->kind == ONE_OF) {
        size_t used = (size_t)snprintf(buf, n, "one of");
        const char *sep = " ";
        for (int v = 0; v <= 30 && used < n; v++)
            if (r->arg >> v & 1) {
                used += (size_t)snprintf(buf + used, n - used, "%s%d", sep, v);
                sep = ", ";
            }
        return;
    }
    char range[40];
    if (r->hi == INT_MAX)
        snprintf(range, sizeof range, ">= %d", r->lo);
    else if (r->lo == r->hi)
        snprintf(range, sizeof range, "%d", r->lo);
    else
        snprintf(range, sizeof range, "%d..%d", r->lo, r->hi);
    if (r->kind == POW2)
        snprintf(buf, n, "a power of two %s%s", r->hi == INT_MAX ? "" : "in ", range);
    else if (r->kind == MULTIPLE)
        snprintf(buf, n, "a multiple of %d %s%s", r->arg, r->hi == INT_MAX ? "" : "in ", range);
    else
        snprintf(buf, n, "%s", range);
}

__attribute__((format(printf, 3, 4))) static lk_status refuse(char *why, size_t n, const char *fmt, ...)
{
    if (why && n) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, n, fmt, ap);
        va_end(ap);
    }
    return LK_ERR_INVALID_ARGUMENT;
}

lk_status lk_op_params_check(const char *op, const lk_params *p, char *why, size_t n)
{
    int o = 0;
    while (o < N_OPS && (!op || strcmp(op, ops[o].op)))
        o++;
    if (o == N_OPS)
        return refuse(why, n, "'%s' is not a tuned op", op ? op : "(null)");
    for (int i = 0; p && i < p->n; i++) {
        const char *name = p->v[i].name;
        int v = p->v[i].value, j = 0;
        while (j < ops[o].n && strcmp(name, ops[o].rules[j].name))
            j++;
        if (j == ops[o].n) {
            char names[256];
            size_t used = 0;
            names[0] = '\0';
            for (int k = 0; k < ops[o].n && used < sizeof names; k++)
                used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", k ? ", " : "",
                                         ops[o].rules[k].name);
            return refuse(why, n, "%s has no parameter %s (=%d); its parameters are %s", ops[o].op, name, v, names);
        }
        if (!allowed(&ops[o].rules[j], v)) {
            char range[64];
            describe(&ops[o].rules[j], range, sizeof range);
            return refuse(why, n, "%s: parameter %s=%d is out of range (%s)", ops[o].op, name, v, range);
        }
    }
    if (p && p->dropped)
        return refuse(why, n, "%s: more than %d parameters", ops[o].op, LK_MAX_PARAMS);
    if (why && n)
        why[0] = '\0';
    return LK_OK;
}
