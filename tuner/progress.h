/* Tuning progress on stderr: on a terminal, one line redrawn with \r (done/total, current key,
 * best so far, ETA); otherwise nothing but the per-key result lines (also shown on a terminal). */
#ifndef LK_TUNER_PROGRESS_H
#define LK_TUNER_PROGRESS_H

typedef struct progress {
    int tty;
    double start;     /* seconds (monotonic) */
    long done, total; /* candidates; total 0 = unknown */
    double deadline;  /* > 0: the ETA is the time left to it (budget strategy) */
    char key[96], best[300];
} progress;

double now_s(void); /* monotonic clock in seconds */
void progress_init(progress *p, long total, double deadline);
void progress_draw(const progress *p);
/* Prints a whole line on stdout (clearing the bar on stderr first on a terminal). */
void progress_line(const progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void progress_end(const progress *p);

#endif
