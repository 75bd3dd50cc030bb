/* Numbers from command-line text, one parser for every tool: lk-tune and lk-bench (through
 * tuner/cli.h), lk-info and lk-db. The whole text must be the number: leading white space is
 * skipped (as strtol and strtod do), nothing may follow it, and empty text is malformed. */
#ifndef LK_TOOLS_CLI_NUMBER_H
#define LK_TOOLS_CLI_NUMBER_H

/* A whole decimal number in [lo, hi] -> *out. 0 on success, -1 when malformed, past the range of
 * long long or outside [lo, hi] (*out is then left alone). */
int cli_whole(const char *s, long long lo, long long hi, long long *out);
/* The same for an int in [lo, hi]. */
int cli_count(const char *s, int lo, int hi, int *out);
/* A real number (strtod's forms: 0.05, 1e-3, inf, nan, 0x1p-4) -> *out. 0 on success, -1 when
 * malformed. The range is the caller's: compare so that NaN fails, e.g. !(v > 0.0 && v <= 1.0). */
int cli_real(const char *s, double *out);

#endif
