/* The budget strategy's time plan (see budget.h). */
#include <math.h>
#include <stdio.h>

#include "budget.h"
#include "internal.h"
#include "progress.h"
#include "timing.h"

double tune_work_attention(const lk_tune_key *key)
{
    return (double)key->length * (double)key->length * (key->flag ? 0.5 : 1.0);
}

static double key_work(const tune_op *op, const lk_tune_key *key)
{
    return op->work ? op->work(key) : (double)key->length;
}

/* The time (ms) of one call of the op's default (on the space, as the search measures it) on
 * key, or -1 when it cannot run; *setup_s gets the time its inputs took to set up. */
static double default_call_ms(lk_context *ctx, const tune_opts *o, const lk_tune_key *key, double *setup_s)
{
    lk_params def;
    timing tm;
    void *state = NULL;
    tune_space_user u;
    space s;
    tune_space(ctx, o, key, &u, &s);
    double start = now_s();
    if (o->op->setup(ctx, key, &o->shape, &state) != LK_OK)
        return -1.0;
    *setup_s = now_s() - start;
    tune_default_on_space(ctx, o->op, &s, key, &def); /* a candidate: compiled ahead on a GPU */
    tune_call call = {o->op, state, &def};
    /* a limit below any call: the warm-up (which builds) and one timed call */
    lk_status st = time_op(ctx, tune_call_run, &call, 1e-9, &tm);
    o->op->teardown(state);
    return st == LK_OK ? tm.median_ms : -1.0;
}

/* The key of todo[from..n) in the class of keys[todo[from]] to time: the one whose work is
 * largest at most a sixteenth of the class's largest, else the smallest; its work in *work. */
static int class_probe(const tune_op *op, const lk_tune_key *keys, const int *todo, int from, int n, double *work)
{
    const lk_tune_key *first = &keys[todo[from]];
    double top = 0.0;
    int probe = -1;
    for (int j = from; j < n; j++)
        if (tune_same_class(&keys[todo[j]], first))
            top = fmax(top, key_work(op, &keys[todo[j]]));
    for (int pass = 0; pass < 2 && probe < 0; pass++)
        for (int j = from; j < n; j++) {
            double w = key_work(op, &keys[todo[j]]);
            if (!tune_same_class(&keys[todo[j]], first) || (pass == 0 && w > top / 16.0))
                continue;
            if (probe < 0 || (pass == 0 ? w > *work : w < *work)) {
                probe = j;
                *work = w;
            }
        }
    return probe;
}

/* Fills b->least_s[0..n): per class, the probe's default call scaled by work and its inputs'
 * setup scaled by length (0 for a class whose default cannot run). */
static void least_costs(tune_budget *b, lk_context *ctx, const tune_opts *o, const lk_tune_key *keys,
                        const int *todo)
{
    for (int i = 0; i < b->n; i++)
        b->least_s[i] = -1.0;
    for (int i = 0; i < b->n; i++) {
        if (b->least_s[i] >= 0.0)
            continue;
        double probe_work = 0.0, setup_s = 0.0;
        int probe = class_probe(o->op, keys, todo, i, b->n, &probe_work);
        const lk_tune_key *pk = &keys[todo[probe]];
        double ms = default_call_ms(ctx, o, pk, &setup_s);
        for (int j = i; j < b->n; j++) {
            const lk_tune_key *k = &keys[todo[j]];
            if (!tune_same_class(k, &keys[todo[i]]))
                continue;
            double call_ms = ms > 0.0 ? ms * key_work(o->op, k) / probe_work : 0.0;
            tune_space_user u;
            space s;
            tune_space(ctx, o, k, &u, &s);
            double setup = setup_s * (double)k->length / (double)pk->length;
            b->least_s[j] = ms > 0.0 ? setup + 2.0 * time_op_cost_s(call_ms) + tune_final_round_cost_s(o->op, &s, call_ms)
                                     : 0.0;
        }
    }
}

void tune_budget_plan(tune_budget *b, lk_context *ctx, const tune_opts *o, const lk_tune_key *keys, const int *todo,
                      int n, double end)
{
    double start = now_s(), least = 0.0;
    b->n = n < TUNE_MAX_KEYS ? n : TUNE_MAX_KEYS;
    b->end = end;
    least_costs(b, ctx, o, keys, todo);
    for (int i = 0; i < b->n; i++)
        least += b->least_s[i];
    b->later_s = b->n ? least - b->least_s[0] : 0.0;
    double left = end - now_s();
    printf("budget: the %d keys take at least %.0f s of the %.0f s left (predicted from one call per class, "
           "measured in %.1f s)%s\n", b->n, least, left, now_s() - start,
           least > left ? "; the budget is too small: equal shares, and the run ends late" : "");
}

double tune_budget_deadline(tune_budget *b, int i)
{
    if (i >= b->n)
        return b->end;
    double now = now_s(), left = b->end - now, spare = left - b->later_s - b->least_s[i];
    double share = spare > 0.0 ? b->least_s[i] + spare / (double)(b->n - i) : left / (double)(b->n - i);
    b->later_s -= i + 1 < b->n ? b->least_s[i + 1] : 0.0;
    return now + fmax(share, b->least_s[i]);
}
