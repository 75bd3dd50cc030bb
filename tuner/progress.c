/* Progress display (see progress.h). */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"

double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void progress_init(progress *p, long total, double deadline)
{
    *p = (progress){.tty = isatty(2), .start = now_s(), .total = total, .deadline = deadline};
}

void progress_draw(const progress *p)
{
    if (!p->tty)
        return;
    double t = now_s(), eta = -1.0;
    if (p->deadline > 0.0)
        eta = p->deadline - t;
    else if (p->done > 0 && p->total >= p->done)
        eta = (t - p->start) / (double)p->done * (double)(p->total - p->done);
    char eta_s[32] = "?";
    if (eta >= 0.0)
        snprintf(eta_s, sizeof eta_s, "%dm%02ds", (int)eta / 60, (int)eta % 60);
    fprintf(stderr, "\r\033[K[%ld/%ld] %s  best %s  ETA %s", p->done, p->total, p->key, p->best[0] ? p->best : "-",
            eta_s);
    fflush(stderr);
}

void progress_line(const progress *p, const char *fmt, ...)
{
    if (p->tty)
        fputs("\r\033[K", stderr);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
    progress_draw(p);
}

void progress_end(const progress *p)
{
    if (p->tty)
        fputs("\r\033[K", stderr);
}
