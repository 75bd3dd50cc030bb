/* lk-bench's output files. Each is written to PATH.tmp and renamed over PATH once complete, so a
 * run stopped while writing leaves the last complete version. Every table is rewritten after
 * each row it gains, so a run stopped by a timeout keeps the rows it measured; until the run
 * ends, the file's header says how many of its planned steps it holds (bench_header). */
#ifndef LK_TUNER_BENCH_FILES_H
#define LK_TUNER_BENCH_FILES_H

#include <stdio.h>

typedef struct bench_file {
    FILE *f;
    char path[1200], tmp[1210];
} bench_file;

/* One table's n files dir/name.ext[i]: bf[i].f opened on the temporary dir/name.ext[i].tmp (dir
 * created if needed). 1 when all opened, else 0 after perror. */
int bench_files_open(bench_file *bf, int n, const char *dir, const char *name, const char *const *ext);
/* Closes the n files (those open); when ok and its close succeeds, each temporary is renamed
 * over its file, else removed. 0 when every file was published. */
int bench_files_close(bench_file *bf, int n, int ok);

/* 1, after saying so, when a table would have no rows (every step failed): the files in dir are
 * then left as they were, not replaced by an empty table. */
int bench_files_nothing(int rows, const char *dir, const char *name);

/* Writes each line of text to f with prefix in front. */
void bench_prefixed(FILE *f, const char *prefix, const char *text);
/* The run header (device, driver, date, command, problem: lines without '#') with prefix in
 * front of each line, and, while the run has done n < planned of its steps (a step: a table row,
 * or a length and batch of a decode table), the line that says so. */
void bench_header(FILE *f, const char *prefix, const char *header, int n, int planned);

#endif
