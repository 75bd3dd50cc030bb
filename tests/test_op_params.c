/* lk_op_params_check (lib/ops/op_params_check.c) against what the tuner can write: on made-up
 * devices (CPUs like PoCL's, a GPU without tensor cores, NVIDIA compute capability 8.0 and 9.0
 * through CUDA and OpenCL), every candidate of every tuned op's space that the space's own
 * constraints let through (the ops' launch-time checks among them), and every op's built-in
 * defaults, pass the static check, for each family, dtype, head_dim, flag and a spread of lengths.
 * No device is opened: the spaces read only the context's device info. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "op.h"
#include "ops/op_params_check.h"

static lk_device_info made_up(lk_backend_kind backend, lk_device_type type, int cc_major, int cc_minor,
                              size_t local, size_t optin, size_t max_wg, int cus)
{
    lk_device_info d;
    memset(&d, 0, sizeof d);
    d.backend = backend;
    d.type = type;
    d.cc_major = cc_major;
    d.cc_minor = cc_minor;
    d.local_mem_bytes = local;
    d.local_mem_optin_bytes = optin;
    d.max_work_group = max_wg;
    d.compute_units = cus;
    snprintf(d.name, sizeof d.name, "made-up %s %s cc %d.%d", backend == LK_BACKEND_CUDA ? "CUDA" : "OpenCL",
             type == LK_DEVICE_CPU ? "CPU" : "GPU", cc_major, cc_minor);
    return d;
}

typedef struct walk {
    size_t valid, defaults, failed;
} walk;

static void expect_passes(walk *w, const char *what, const lk_device_info *dev, const lk_tune_key *key,
                          const lk_params *p)
{
    char why[512], text[512];
    if (lk_op_params_check(key->op, p, why, sizeof why) == LK_OK)
        return;
    if (w->failed++ < 8) { /* the first few, then only the count */
        lk_params_format(p, "", ",", text, sizeof text);
        cr_log_error("%s on %s, %s:%s %s head_dim %d flag %d length %lld: %s refused: %s", what, dev->name, key->op,
                     key->family, lk_dtype_name(key->dtype), key->head_dim, key->flag, (long long)key->length, text,
                     why);
    }
}

/* Every key of op on dev: its defaults, and the candidates its space lets through. */
static void walk_op(walk *w, const tune_op *op, const lk_device_info *dev)
{
    static const lk_dtype dtypes[] = {LK_F32, LK_F16};
    static const int head_dims[] = {64, 128, 256};
    static const int64_t lengths[] = {1, 16, 512, 4096, 131072};
    lk_context *ctx = calloc(1, sizeof *ctx);
    cr_assert(ctx);
    ctx->info = *dev;
    int nflags = op->flag_name ? 2 : 1;
    for (int f = 0; f < op->nfamilies; f++)
        for (size_t d = 0; d < sizeof dtypes / sizeof dtypes[0]; d++)
            for (size_t h = 0; h < sizeof head_dims / sizeof head_dims[0]; h++)
                for (int fl = 0; fl < nflags; fl++)
                    for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; l++) {
                        lk_tune_key key;
                        memset(&key, 0, sizeof key);
                        snprintf(key.op, sizeof key.op, "%s", op->name);
                        snprintf(key.family, sizeof key.family, "%s", op->families[f]);
                        key.dtype = dtypes[d];
                        key.head_dim = head_dims[h];
                        key.flag = op->flag_name ? op->flag_choices[fl] : 0;
                        key.length = lengths[l];
                        lk_params p;
                        op->defaults(dev, &key, &p);
                        w->defaults++;
                        expect_passes(w, "default", dev, &key, &p);
                        tune_space_user u = {ctx, &key};
                        space s;
                        op->space(&u, &s);
                        char why[512];
                        for (size_t i = 0; i < space_size(&s); i++) {
                            space_candidate(&s, i, &p);
                            if (space_verdict(&s, &p, why, sizeof why))
                                continue;
                            w->valid++;
                            expect_passes(w, "candidate", dev, &key, &p);
                        }
                    }
    free(ctx);
}

Test(op_params, every_tuner_candidate_and_default_passes_the_static_check, .timeout = 600)
{
    const lk_device_info devices[] = {
        made_up(LK_BACKEND_OPENCL, LK_DEVICE_CPU, 0, 0, 2 << 20, 2 << 20, 4096, 2),     /* PoCL, Skylake */
        made_up(LK_BACKEND_OPENCL, LK_DEVICE_CPU, 0, 0, 512 << 10, 512 << 10, 4096, 2), /* PoCL, Haswell */
        made_up(LK_BACKEND_OPENCL, LK_DEVICE_GPU, 0, 0, 64 << 10, 64 << 10, 1024, 96),  /* no tensor cores */
        made_up(LK_BACKEND_CUDA, LK_DEVICE_GPU, 9, 0, 48 << 10, 227 << 10, 1024, 132),  /* H100, H200 */
        made_up(LK_BACKEND_OPENCL, LK_DEVICE_GPU, 9, 0, 48 << 10, 48 << 10, 1024, 132), /* NVIDIA OpenCL */
        made_up(LK_BACKEND_CUDA, LK_DEVICE_GPU, 8, 0, 48 << 10, 163 << 10, 1024, 108),  /* A100 */
    };
    int o = 0;
    for (; tune_ops[o]; o++) {
        cr_expect_not_null(lk_op_params_op(o), "the tuner's op %s has no table (lk_op_params_op(%d) is NULL)",
                           tune_ops[o]->name, o);
        cr_expect(lk_tune_op_known(tune_ops[o]->name), "the tuner's op %s is not known to the database",
                  tune_ops[o]->name);
        walk w = {0, 0, 0};
        for (size_t d = 0; d < sizeof devices / sizeof devices[0]; d++)
            walk_op(&w, tune_ops[o], &devices[d]);
        cr_log_info("%s: %zu valid candidates and %zu default sets checked", tune_ops[o]->name, w.valid, w.defaults);
        cr_expect(w.valid > 0, "%s: no valid candidate in any space (the walk checked nothing)", tune_ops[o]->name);
        cr_expect_eq(w.failed, 0, "%s: %zu candidates or defaults refused by lk_op_params_check (the first above)",
                     tune_ops[o]->name, w.failed);
    }
    cr_expect_null(lk_op_params_op(o), "lk_op_params_check has a table (%s) for an op the tuner does not tune",
                   lk_op_params_op(o));
}
