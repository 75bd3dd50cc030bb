/* The registry of tunable ops (see op.h): add one line per op. */
#include <stdio.h>
#include <string.h>

#include "op.h"

extern const tune_op tune_op_attention_fwd;
extern const tune_op tune_op_attention_bwd;
extern const tune_op tune_op_kda_fwd;
extern const tune_op tune_op_attention_decode;
extern const tune_op tune_op_kv_sparse;
extern const tune_op tune_op_kivi_decode;
extern const tune_op tune_op_lowrank_decode;

const tune_op *const tune_ops[] = {
    &tune_op_attention_fwd,
    &tune_op_attention_bwd,
    &tune_op_kda_fwd,
    &tune_op_attention_decode,
    &tune_op_kv_sparse,
    &tune_op_kivi_decode,
    &tune_op_lowrank_decode,
    NULL,
};

static int bench_named(const tune_op *op, const char *name) { return op->bench_name && !strcmp(op->bench_name, name); }

const tune_op *tune_op_find(const char *name, int bench)
{
    for (int i = 0; tune_ops[i]; i++)
        if (!strcmp(tune_ops[i]->name, name) || (bench && bench_named(tune_ops[i], name)))
            return tune_ops[i];
    return NULL;
}

void tune_op_names(char *buf, size_t n, int bench)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; tune_ops[i] && k < n; i++) {
        k += (size_t)snprintf(buf + k, n - k, "%s%s", i ? ", " : "", tune_ops[i]->name);
        const char *b = tune_ops[i]->bench_name;
        if (bench && b && k < n && tune_op_find(b, 1) == tune_ops[i]) /* each bench name once */
            k += (size_t)snprintf(buf + k, n - k, ", %s", b);
    }
}

int tune_batch(const tune_shape *shape)
{
    return shape->batch > 0 ? shape->batch : 1;
}

lk_status tune_call_run(lk_context *ctx, void *call)
{
    (void)ctx;
    tune_call *c = call;
    return c->op->run(c->state, c->p);
}
