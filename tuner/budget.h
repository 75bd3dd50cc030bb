/* The time plan of lk-tune --strategy budget. Before the search, each key's least cost is
 * predicted: its inputs' setup, two candidates timed (the nearest tuned length's winner and the
 * default, which the seeding puts first) and its final round. One call of the default per
 * compile class (tune_same_class) is timed on the class's key whose work is nearest below a
 * sixteenth of its largest (past the launch-bound short lengths, yet cheap) and scaled to every
 * key of the class by the op's work (tune_op.work); the setup time is scaled by length. Each key then gets its least cost plus an equal share of what
 * the least costs of all the keys leave over, so the long keys at the end of a run still fit;
 * a budget below the sum gets equal shares (each at least its key's least cost) and ends late. */
#ifndef LK_TUNER_BUDGET_H
#define LK_TUNER_BUDGET_H

#include "tune.h"

typedef struct tune_budget {
    int n;
    double least_s[TUNE_MAX_KEYS]; /* each key's least cost */
    double later_s;                /* the least costs of the keys after the current one */
    double end;
} tune_budget;

/* Plans the keys keys[todo[0..n)], in that order, to end by `end` (now_s() clock) into b and
 * prints the plan's summary line. */
void tune_budget_plan(tune_budget *b, lk_context *ctx, const tune_opts *o, const lk_tune_key *keys, const int *todo,
                      int n, double end);
/* The deadline of the plan's key i, asked once per key, in order, as that key starts. */
double tune_budget_deadline(tune_budget *b, int i);

#endif
