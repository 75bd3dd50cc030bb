/* Compile-ahead worker processes (see warm.h). */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "program.h"
#include "progress.h"
#include "space.h"
#include "warm.h"

#define MAX_WORKERS 16

extern char **environ;

/* 1 when keys[i] is the first of its class. */
static int class_first(const lk_tune_key *keys, int i)
{
    for (int j = 0; j < i; j++)
        if (tune_same_class(&keys[j], &keys[i]))
            return 0;
    return 1;
}

/* 1 when every key of keys[k]'s class has measured p in db: the search will not run it again. */
static int measured_by_class(lk_db *db, lk_context *ctx, const lk_tune_key *keys, int nkeys, int k, const lk_params *p)
{
    for (int j = k; j < nkeys; j++)
        if (tune_same_class(&keys[j], &keys[k]) && !tune_measured(db, &ctx->info, &keys[j], p))
            return 0;
    return 1;
}

int tune_warm_worker(lk_context *ctx, lk_db *db, const tune_opts *o, const lk_tune_key *keys, int nkeys, int index,
                     int count, double deadline)
{
    const tune_shape tiny = {.batch = 1, .heads = 1};
    size_t job = 0;
    for (int k = 0; k < nkeys; k++) {
        if (!class_first(keys, k))
            continue;
        tune_space_user u;
        space s;
        tune_space(ctx, o, &keys[k], &u, &s);
        size_t n = 0;
        lk_params *order = tune_search_order(&s, o->strategy, &n);
        n = tune_planned(o, n);
        lk_params def; /* first, as the budget plan times it; not again where the order has it */
        tune_default_on_space(ctx, o->op, &s, &keys[k], &def);
        void *state = NULL;
        int tried = 0; /* the class's inputs are set up at its first candidate of ours */
        for (size_t c = 0; order && c <= n && (deadline <= 0.0 || now_s() < deadline); c++) {
            const lk_params p = c == 0 ? def : order[c - 1];
            if (c > 0 && lk_params_equal(&p, &def))
                continue;
            if (db && !o->force && measured_by_class(db, ctx, keys, nkeys, k, &p))
                continue;
            if (job++ % (size_t)count != (size_t)index)
                continue;
            if (!tried) {
                tried = 1;
                if (o->op->setup(ctx, &keys[k], &tiny, &state) != LK_OK)
                    state = NULL;
            }
            double err, tol;
            if (state)
                o->op->check(state, &p, &err, &tol); /* builds and caches; the verdict is the tuner's */
        }
        free(order);
        if (state)
            o->op->teardown(state);
    }
    return 0;
}

void tune_warm(lk_context *ctx, const tune_opts *o, const lk_tune_key *keys, int nkeys, int argc, char **argv,
               double limit_s)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int count = cpus > MAX_WORKERS ? MAX_WORKERS : (int)cpus;
    if (ctx->info.type == LK_DEVICE_CPU || count < 2 || !*lk_program_cache_dir() || nkeys == 0)
        return;
    char **args = calloc((size_t)argc + 3, sizeof *args);
    pid_t pids[MAX_WORKERS];
    char spec[MAX_WORKERS][64];
    int started = 0;
    double t0 = now_s();
    for (int i = 0; args && i < argc; i++)
        args[i] = argv[i];
    posix_spawn_file_actions_t quiet; /* the workers' notes would repeat the parent's */
    posix_spawn_file_actions_init(&quiet);
    posix_spawn_file_actions_addopen(&quiet, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&quiet, 2, "/dev/null", O_WRONLY, 0);
    for (int w = 0; args && w < count; w++) {
        snprintf(spec[w], sizeof spec[w], "%d/%d/%.3f", w, count, limit_s > 0.0 ? t0 + limit_s : 0.0);
        args[argc] = "--warm-worker";
        args[argc + 1] = spec[w];
        if (posix_spawn(&pids[started], "/proc/self/exe", &quiet, NULL, args, environ) == 0)
            started++;
    }
    posix_spawn_file_actions_destroy(&quiet);
    int ok = 0;
    for (int w = 0; w < started; w++) {
        int status = 0;
        if (waitpid(pids[w], &status, 0) == pids[w] && WIFEXITED(status) && WEXITSTATUS(status) == 0)
            ok++;
    }
    free(args);
    printf("compiled ahead with %d worker processes (%d finished cleanly) in %.1f s", started, ok, now_s() - t0);
    if (limit_s > 0.0)
        printf(" (new candidates stop after %.0f s: half the budget)", limit_s);
    printf("\n");
    fflush(stdout);
}
