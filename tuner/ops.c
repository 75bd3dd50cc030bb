/* The registry of tunable ops (see op.h): add one line per op. */
#include <stdio.h>
#include <string.h>

#include "op.h"

extern const tune_op tune_op_attention_fwd;
extern const tune_op tune_op_attention_bwd;
extern const tune_op tune_op_kda_fwd;
extern const tune_op tune_op_attention_decode;
extern const tune_op tune_op_kv_sparse;

const tune_op *const tune_ops[] = {
    &tune_op_attention_fwd,
    &tune_op_attention_bwd,
    &tune_op_kda_fwd,
    &tune_op_attention_decode,
    &tune_op_kv_sparse,
    NULL,
};

const tune_op *tune_op_find(const char *name)
{
    for (int i = 0; tune_ops[i]; i++)
        if (!strcmp(tune_ops[i]->name, name))
            return tune_ops[i];
    return NULL;
}

void tune_op_names(char *buf, size_t n)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; tune_ops[i] && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%s", i ? ", " : "", tune_ops[i]->name);
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
