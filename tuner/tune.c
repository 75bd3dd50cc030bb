/* The tuning loop (see tune.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_rounds.h"
#include "budget.h"
#include "internal.h"
#include "progress.h"
#include "timing.h"
#include "tune.h"

#define SHUFFLE_SEED 0x5eedULL
#define TIMEOUT_FACTOR 10.0
#define FINAL_ROUNDS 3 /* interleaved rounds of the final round */
#define FINALIST_FACTOR 1.25 /* a path this much slower than the leader has lost: not in the final round */
#define SEEDS 16 /* candidates taken from the nearest tuned length */

static void key_name(const tune_op *op, const lk_tune_key *k, char *buf, size_t n)
{
    snprintf(buf, n, "%s %s %s hd%d %s=%d len=%lld", k->op, k->family, lk_dtype_name(k->dtype), k->head_dim,
             op->flag_name ? op->flag_name : "flag",
             k->flag, (long long)k->length);
}

int tune_keys(lk_context *ctx, const tune_opts *o, lk_tune_key *keys, int max)
{
    int n = 0;
    for (int d = 0; d < o->ndtypes; d++)
        for (int h = 0; h < o->nhead_dims; h++)
            for (int l = 0; l < o->nlengths; l++) {
                lk_tune_key probe = {.dtype = o->dtypes[d], .head_dim = o->head_dims[h], .length = o->lengths[l]};
                snprintf(probe.op, sizeof probe.op, "%s", o->op->name);
                if (!o->op->fits(ctx, &probe, &o->shape))
                    continue;
                for (int c = 0; c < o->nflags; c++)
                    for (int f = 0; f < o->nfamilies && n < max; f++) {
                        lk_tune_key *k = &keys[n++];
                        *k = probe;
                        snprintf(k->family, sizeof k->family, "%s", o->families[f]);
                        k->flag = o->flags[c];
                    }
            }
    return n;
}

/* A key's candidates that pass every constraint (malloc'ed, *n of them); the space in *s. */
static lk_params *valid_candidates(const space *s, size_t *n)
{
    size_t total = space_size(s);
    lk_params *v = malloc(total * sizeof *v);
    char why[512];
    *n = 0;
    for (size_t i = 0; v && i < total; i++) {
        space_candidate(s, i, &v[*n]);
        if (!space_verdict(s, &v[*n], why, sizeof why))
            (*n)++;
    }
    return v;
}

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static void shuffle(lk_params *v, size_t n)
{
    uint64_t s = SHUFFLE_SEED;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(next_rand(&s) % i);
        lk_params t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

lk_params *tune_search_order(const space *s, tune_strategy strategy, size_t *n)
{
    lk_params *v = valid_candidates(s, n);
    if (v && strategy != TUNE_EXHAUSTIVE)
        shuffle(v, *n);
    return v;
}

void tune_space(lk_context *ctx, const tune_opts *o, const lk_tune_key *key, tune_space_user *u, space *s)
{
    char why[256];
    *u = (tune_space_user){ctx, key};
    o->op->space(u, s);
    space_restrict(s, &o->only, why, sizeof why);
}

int tune_check_only(lk_context *ctx, const tune_opts *o, const lk_tune_key *keys, int nkeys)
{
    char why[256], name[96];
    for (int i = 0; i < nkeys; i++) {
        tune_space_user u = {ctx, &keys[i]};
        space s;
        o->op->space(&u, &s);
        if (space_restrict(&s, &o->only, why, sizeof why) != 0) {
            key_name(o->op, &keys[i], name, sizeof name);
            fprintf(stderr, "--only: %s: %s\n", name, why);
            return -1;
        }
    }
    return 0;
}

void tune_dry_run(lk_context *ctx, const tune_opts *o, const lk_tune_key *keys, int nkeys)
{
    char name[96], text[256], why[512];
    const tune_op *op = o->op;
    for (int i = 0; i < nkeys; i++) {
        tune_space_user u;
        space s;
        tune_space(ctx, o, &keys[i], &u, &s);
        size_t total = space_size(&s), ok = 0;
        key_name(op, &keys[i], name, sizeof name);
        printf("%s: %zu candidates\n", name, total);
        for (size_t c = 0; c < total; c++) {
            lk_params p;
            space_candidate(&s, c, &p);
            lk_params_format(&p, "", ",", text, sizeof text);
            const char *failed = space_verdict(&s, &p, why, sizeof why);
            ok += !failed;
            if (failed)
                printf("  %-50s rejected by %s: %s\n", text, failed, why);
            else
                printf("  %-50s ok\n", text);
        }
        printf("  %zu pass the constraints\n", ok);
    }
}

typedef struct tuner {
    lk_context *ctx;
    lk_db *db;
    const tune_opts *o;
    const tune_op *op;
    progress prog;
    void *state;            /* the op's inputs for the key being tuned */
    int db_errors;          /* database reads and writes that failed: the run then exits 1 */
} tuner;

/* A failed database read or write: said, counted. */
static void db_warning(tuner *t, const char *what)
{
    t->db_errors++;
    progress_line(&t->prog, "warning: %s%s%s", what ? what : "", what ? ": " : "", lk_db_error(t->db));
}

/* Moves candidate p to v[at] when it is among v[at..n); returns the next free position. */
static size_t move_to(lk_params *v, size_t n, size_t at, const lk_params *p)
{
    for (size_t i = at; i < n; i++)
        if (!memcmp(&v[i], p, sizeof *p)) {
            lk_params t = v[at];
            v[at] = v[i];
            v[i] = t;
            return at + 1;
        }
    return at;
}

/* Seeds v[at..n) with the best tiles of the op's other families at key's own length, each on
 * every value of the op's decisive parameter when that family has none (the unfused RoPE path
 * runs the plain kernel and the K pre-pass its loop: plain's winner is rope's likely winner on
 * every path), the value `first` (the path that won the nearest tuned length; -1: none) first,
 * so a long key whose budget allows one candidate does not spend it on a losing path. Returns
 * the next free position. */
static size_t seed_from_siblings(tuner *t, const space *s, const lk_tune_key *key, lk_params *v, size_t n,
                                 size_t at, int first)
{
    const space_list *decisive = space_find_list(s, t->op->decisive);
    for (int f = 0; f < t->op->nfamilies; f++) {
        lk_tune_key sibling = *key;
        lk_params best, none = {0}, proj;
        double ms;
        int found = 0;
        if (!strcmp(t->op->families[f], key->family))
            continue;
        snprintf(sibling.family, sizeof sibling.family, "%s", t->op->families[f]);
        if (lk_db_best_with(t->db, &t->ctx->info, &sibling, &none, &best, &ms, &found) != LK_OK)
            db_warning(t, NULL);
        if (!found)
            continue;
        size_t before = at;
        int paths = decisive && !lk_params_has(&best, decisive->name) ? decisive->n : 0;
        space_project(s, &best, &proj);
        if (!paths)
            at = move_to(v, n, at, &proj);
        for (int pass = 0; pass < 2; pass++) /* the path `first`, then the others */
            for (int i = 0; i < paths; i++)
                if ((decisive->values[i] == first) == (pass == 0)) {
                    lk_params_set(&proj, decisive->name, decisive->values[i]);
                    at = move_to(v, n, at, &proj);
                }
        if (at > before)
            progress_line(&t->prog, "  %zu candidates seeded from family %s's best at length %lld", at - before,
                          sibling.family, (long long)key->length);
    }
    return at;
}

void tune_default_on_space(lk_context *ctx, const tune_op *op, const space *s, const lk_tune_key *key, lk_params *out)
{
    lk_params def;
    op->defaults(&ctx->info, key, &def);
    space_project(s, &def, out);
}

/* Budget order: the key's own earlier winner (a re-tune after a kernel change: its time no
 * longer counts, but it is the likeliest winner again), the sibling families' best at this length
 * (seed_from_siblings), then the ranking of the nearest tuned length (what won at 8K is what to
 * try first at 16K; a deadline then cuts the long keys short after their likely winners) with the
 * built-in default (projected on the space) second, then the rest as shuffled. The default comes
 * that early because a long key's budget may allow two candidates: the pick is then never slower
 * than an untuned call, which a chain of short-budget keys seeding each other could not promise.
 * A seed this tuner has measured already is skipped when timing, so it costs nothing. */
static void seeded_order(tuner *t, const space *s, const lk_tune_key *key, lk_params *v, size_t n)
{
    lk_params seeds[SEEDS], def_proj, proj, earlier;
    int nseeds = 0, nown = 0;
    int64_t from = 0;
    size_t at = 0;
    if (lk_db_ranked_ever(t->db, &t->ctx->info, key, &earlier, 1, &nown) != LK_OK)
        db_warning(t, NULL);
    if (nown) {
        space_project(s, &earlier, &proj);
        at = move_to(v, n, at, &proj);
        if (at)
            progress_line(&t->prog, "  1 candidate seeded from this key's earlier winner");
    }
    if (lk_db_ranked_near(t->db, &t->ctx->info, key, seeds, SEEDS, &nseeds, &from) != LK_OK)
        db_warning(t, NULL);
    const char *path = t->op->decisive;
    int first = nseeds && path ? lk_params_get(&seeds[0], path, -1) : -1;
    at = seed_from_siblings(t, s, key, v, n, at, first);
    size_t siblings = at;
    tune_default_on_space(t->ctx, t->op, s, key, &def_proj);
    for (int i = 0; i < nseeds; i++) {
        space_project(s, &seeds[i], &proj);
        at = move_to(v, n, at, &proj);
        if (i == 0)
            at = move_to(v, n, at, &def_proj);
    }
    if (at > siblings)
        progress_line(&t->prog, "  %zu candidates seeded from the ranking at length %lld and the default",
                      at - siblings, (long long)from);
    else
        move_to(v, n, at, &def_proj);
}

size_t tune_planned(const tune_opts *o, size_t n)
{
    if (o->strategy != TUNE_RANDOM || n == 0)
        return n;
    size_t m = (size_t)ceil(o->fraction * (double)n);
    return m < 1 ? 1 : m > n ? n : m;
}


static void record(tuner *t, const lk_tune_key *key, const lk_params *p, lk_db_outcome outcome,
                   const char *reason, const timing *tm)
{
    char text[256];
    lk_params_format(p, "", ",", text, sizeof text);
    char version[64];
    tune_version(version, sizeof version);
    lk_db_measurement m = {outcome, text, reason, NAN, NAN, NAN, 0, version};
    if (tm) {
        m.median_ms = tm->median_ms;
        m.min_ms = tm->min_ms;
        m.p80_ms = tm->p80_ms;
        m.runs = tm->runs;
    }
    char what[300];
    snprintf(what, sizeof what, "recording %s", text);
    if (lk_db_record(t->db, &t->ctx->info, key, &m) != LK_OK)
        db_warning(t, what);
}

/* Checks, re-checks and times one candidate; records it (a first run longer than limit_ms > 0
 * stops the timing: outcome timeout). Returns the outcome; *ms gets the median (of the runs
 * timed, for a timeout too) or -1. */
static lk_db_outcome measure(tuner *t, const lk_tune_key *key, const lk_params *p, double limit_ms, double *ms)
{
    char reason[1024] = "";
    double err = 0.0, tol = 0.0;
    timing tm = {0};
    lk_status st = t->op->check(t->state, p, &err, &tol);
    lk_db_outcome out = LK_DB_OK;
    if (st != LK_OK) {
        out = st == LK_ERR_BUILD ? LK_DB_BUILD_FAILED : st == LK_ERR_INVALID_ARGUMENT ? LK_DB_REJECTED
                                                                                      : LK_DB_LAUNCH_FAILED;
        snprintf(reason, sizeof reason, "%s: %s", lk_status_str(st), lk_last_error(t->ctx));
    } else if (!(err <= tol)) {
        out = LK_DB_WRONG_RESULT;
        snprintf(reason, sizeof reason, "relative error %.3g > %.1g on the check case", err, tol);
    } else if (t->op->fits_built && !t->op->fits_built(t->ctx, key, p, reason, sizeof reason)) {
        out = LK_DB_REJECTED;
    } else {
        tune_call call = {t->op, t->state, p};
        if ((st = time_op(t->ctx, tune_call_run, &call, limit_ms, &tm)) != LK_OK) {
            out = LK_DB_LAUNCH_FAILED;
            snprintf(reason, sizeof reason, "%s: %s", lk_status_str(st), lk_last_error(t->ctx));
        } else if (tm.timed_out) {
            out = LK_DB_TIMEOUT;
            snprintf(reason, sizeof reason, "first run %.3f ms > the limit %.3f ms", tm.median_ms, limit_ms);
        }
    }
    int timed = out == LK_DB_OK || out == LK_DB_TIMEOUT;
    record(t, key, p, out, out == LK_DB_OK ? NULL : reason, timed ? &tm : NULL);
    *ms = timed ? tm.median_ms : -1.0;
    return out;
}

void tune_version(char *out, size_t n)
{
    snprintf(out, n, "lk-tune 0.1.0 kernels %s", lk_kernels_version());
}

int tune_measured(lk_db *db, const lk_device_info *dev, const lk_tune_key *key, const lk_params *p)
{
    int has = 0;
    char version[64];
    tune_version(version, sizeof version);
    if (lk_db_measured(db, dev, key, p, version, &has) != LK_OK)
        fprintf(stderr, "warning: %s\n", lk_db_error(db));
    return has;
}

/* Resume: removes the candidates that this device already measured for key, unless --force.
 * A key's plan (tune_planned() of its valid candidates) counts those measured before. */
static void drop_measured(const tuner *t, const lk_tune_key *key, lk_params *c, size_t *n)
{
    if (t->o->force)
        return;
    size_t kept = 0;
    for (size_t i = 0; i < *n; i++)
        if (!tune_measured(t->db, &t->ctx->info, key, &c[i]))
            c[kept++] = c[i];
    *n = kept;
}

/* The final round of a key whose op names a decisive parameter (the RoPE path, say): the fastest
 * candidate of each of its values (a value the search did not reach runs with the leader's other
 * parameters, checked and timed first, its timing cut short past FINALIST_FACTOR x the leader)
 * is timed again, the finalists interleaved in FINAL_ROUNDS rounds as lk-bench times them, and
 * recorded; their latest times then decide the best row (LK_DB_CURRENT). A choice between paths
 * within a few per cent of each other thus rests on one side-by-side measurement, not on single
 * runs minutes apart. A path more than FINALIST_FACTOR x slower than the leader has lost already
 * and is left out (at 128K the fully fused path alone would cost a long key's final round 20 s). */
static void final_round(tuner *t, const lk_tune_key *key, const space *s)
{
    const space_list *decisive = space_find_list(s, t->op->decisive);
    if (!decisive || decisive->n < 2)
        return;
    lk_params fin[SPACE_MAX_VALUES], leader, none = {0};
    tune_call calls[SPACE_MAX_VALUES];
    void *args[SPACE_MAX_VALUES];
    int n = 0, has_leader = 0;
    double lead_ms = 0.0, ms = 0.0;
    char why[256], out[256] = "";
    if (lk_db_best_with(t->db, &t->ctx->info, key, &none, &leader, &lead_ms, &has_leader) != LK_OK)
        db_warning(t, NULL);
    for (int v = 0; has_leader && v < decisive->n && n < BENCH_MAX_CALLS; v++) {
        lk_params must = {0};
        int found = 0;
        lk_params_set(&must, decisive->name, decisive->values[v]);
        if (lk_db_best_with(t->db, &t->ctx->info, key, &must, &fin[n], &ms, &found) != LK_OK)
            db_warning(t, NULL);
        if (!found) { /* a path the budget left unmeasured: the leader's tiles on it, checked first */
            fin[n] = leader;
            lk_params_set(&fin[n], decisive->name, decisive->values[v]);
            if (!space_verdict(s, &fin[n], why, sizeof why)) {
                lk_db_outcome o = measure(t, key, &fin[n], FINALIST_FACTOR * lead_ms, &ms);
                found = o == LK_DB_OK || o == LK_DB_TIMEOUT;
            }
        }
        size_t len = strlen(out);
        if (found && ms > FINALIST_FACTOR * lead_ms)
            snprintf(out + len, sizeof out - len, "; %s=%d out at %.2fx the leader", decisive->name,
                     decisive->values[v], ms / lead_ms);
        else if (found) {
            calls[n] = (tune_call){t->op, t->state, &fin[n]};
            args[n] = &calls[n];
            n++;
        }
    }
    char line[512];
    int len = snprintf(line, sizeof line, "final round (%d interleaved rounds):", FINAL_ROUNDS);
    timing tm[BENCH_MAX_CALLS];
    if (n < 2) {
        if (out[0] && n == 1)
            progress_line(&t->prog, "final round: %s=%d alone%s", decisive->name,
                          lk_params_get(&fin[0], decisive->name, -1), out);
        return;
    }
    if (bench_interleaved_timings(t->ctx, tune_call_run, args, n, FINAL_ROUNDS, NULL, tm) >= 0) {
        progress_line(&t->prog, "warning: final round: %s", lk_last_error(t->ctx));
        return;
    }
    for (int i = 0; i < n; i++) {
        record(t, key, &fin[i], LK_DB_OK, NULL, &tm[i]);
        if (len > 0 && (size_t)len < sizeof line)
            len += snprintf(line + len, sizeof line - (size_t)len, " %s=%d %.3f ms%s", decisive->name,
                            lk_params_get(&fin[i], decisive->name, -1), tm[i].median_ms, i + 1 < n ? "," : "");
    }
    progress_line(&t->prog, "%s%s", line, out);
}

double tune_final_round_cost_s(const tune_op *op, const space *s, double best_ms)
{
    const space_list *decisive = space_find_list(s, op->decisive);
    /* per path: a measurement if the search missed it, then the rounds */
    return !decisive || decisive->n < 2 ? 0.0
                                         : decisive->n * (time_op_cost_s(best_ms) + time_rounds_cost_s(best_ms, FINAL_ROUNDS));
}

/* Tunes one key until its candidates or its deadline (> 0) run out; the search stops early
 * enough for the final round to end by the deadline too. Returns 0 or 1 (setup failed). */
static int tune_key(tuner *t, const lk_tune_key *key, double deadline)
{
    char name[96], text[256];
    key_name(t->op, key, name, sizeof name);
    snprintf(t->prog.key, sizeof t->prog.key, "%s", name);
    t->prog.best[0] = '\0';
    t->state = NULL;
    if (t->op->setup(t->ctx, key, &t->o->shape, &t->state) != LK_OK) {
        progress_line(&t->prog, "%s: cannot set up inputs: %s", name, lk_last_error(t->ctx));
        return 1;
    }
    tune_space_user u;
    space s;
    tune_space(t->ctx, t->o, key, &u, &s);
    /* Candidates that fail a constraint before compiling are not recorded: they follow from the
     * space and the device (--dry-run prints each verdict), and a row per candidate per key and
     * kernel version grew a database by ~100 000 rows a re-tune of the attention space. */
    size_t total = space_size(&s), n = 0, ok = 0;
    lk_params *cands = tune_search_order(&s, t->o->strategy, &n);
    size_t valid = n;
    drop_measured(t, key, cands, &n);
    if (t->o->strategy == TUNE_BUDGET)
        seeded_order(t, &s, key, cands, n);
    size_t plan = tune_planned(t->o, valid), before = valid - n;
    size_t todo = plan > before ? plan - before : 0;
    double best = -1.0;
    lk_params best_p = {0};
    for (size_t i = 0; i < todo; i++) {
        if (deadline > 0.0 && i > 0 && now_s() + (best >= 0.0 ? tune_final_round_cost_s(t->op, &s, best) : 0.0) >= deadline)
            break;
        double ms;
        lk_db_outcome o = measure(t, key, &cands[i], best > 0.0 ? TIMEOUT_FACTOR * best : 0.0, &ms);
        t->prog.done++;
        if (o == LK_DB_OK) {
            ok++;
            if (best < 0.0 || ms < best) {
                best = ms;
                best_p = cands[i];
                lk_params_format(&best_p, "", ",", text, sizeof text);
                snprintf(t->prog.best, sizeof t->prog.best, "%.3f ms %s", best, text);
            }
        }
        progress_draw(&t->prog);
    }
    if (ok > 0) { /* the best row after the final round (which may re-rank the leaders) */
        lk_params any = {0};
        int found = 0;
        final_round(t, key, &s);
        if (lk_db_best_with(t->db, &t->ctx->info, key, &any, &best_p, &best, &found) != LK_OK || !found)
            db_warning(t, "reading the best row");
    }
    lk_params_format(&best_p, "", ",", text, sizeof text);
    if (best >= 0.0)
        progress_line(&t->prog, "%s: best %.3f ms %s (%zu ok of %zu valid, %zu in the space)", name, best, text, ok,
                      n, total);
    else
        progress_line(&t->prog, "%s: no candidate passed (%zu valid, %zu in the space)", name, n, total);
    free(cands);
    t->op->teardown(t->state);
    t->state = NULL;
    return 0;
}

int tune_same_class(const lk_tune_key *a, const lk_tune_key *b)
{
    return !strcmp(a->op, b->op) && !strcmp(a->family, b->family) && a->dtype == b->dtype &&
           a->head_dim == b->head_dim;
}

int tune_run(lk_context *ctx, lk_db *db, const tune_opts *o, const lk_tune_key *keys, int nkeys)
{
    tuner t = {.ctx = ctx, .db = db, .o = o, .op = o->op};
    int todo[TUNE_MAX_KEYS], ntodo = 0, fails = 0;
    long total = 0;
    char name[96];
    for (int i = 0; i < nkeys && i < TUNE_MAX_KEYS; i++) {
        tune_space_user u;
        space s;
        tune_space(ctx, o, &keys[i], &u, &s);
        size_t n = 0, valid;
        lk_params *cands = valid_candidates(&s, &n);
        valid = n;
        drop_measured(&t, &keys[i], cands, &n);
        free(cands);
        key_name(o->op, &keys[i], name, sizeof name);
        size_t plan = tune_planned(o, valid), before = valid - n;
        if (valid > 0 && before >= plan) {
            printf("%s: already tuned, skipped (every candidate measured; --force re-tunes)\n", name);
            continue;
        }
        if (n < valid)
            printf("%s: resuming, %zu of %zu candidates measured before\n", name, valid - n, valid);
        total += (long)(plan - before);
        todo[ntodo++] = i;
    }
    double start = now_s(), end = o->strategy == TUNE_BUDGET ? start + o->budget_s : 0.0;
    tune_budget plan;
    if (end > 0.0)
        tune_budget_plan(&plan, ctx, o, keys, todo, ntodo, end);
    progress_init(&t.prog, total, end);
    for (int i = 0; i < ntodo; i++)
        fails += tune_key(&t, &keys[todo[i]], end > 0.0 ? tune_budget_deadline(&plan, i) : 0.0);
    progress_end(&t.prog);
    printf("tuned %d keys (%d skipped) in %.1f s\n", ntodo - fails, nkeys - ntodo, now_s() - start);
    if (t.db_errors)
        fprintf(stderr, "lk-tune: %d database operations failed (warnings above): not every result is stored\n",
                t.db_errors);
    return fails || t.db_errors ? 1 : 0;
}
