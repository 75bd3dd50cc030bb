/* Command-line helpers shared by lk-tune and lk-bench: value parsing, opening the device, the
 * run description written into every output file, and the device's directory name. Plain whole
 * and real numbers (cli_whole, cli_count, cli_real) come from tools/cli_number.h, which lk-info
 * and lk-db parse with too. */
#ifndef LK_TUNER_CLI_H
#define LK_TUNER_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "cli_number.h"
#include "longkern.h"

/* Longest length the tools take (2^40 tokens; past it, lengths only overflow). */
#define CLI_MAX_LENGTH ((int64_t)1 << 40)
/* "512:16384" or "4096" -> [lo, hi], 1 <= lo <= hi <= CLI_MAX_LENGTH. 0 on success. */
int cli_range(const char *s, int64_t *lo, int64_t *hi);
/* "90s", "10m", "1h" or plain seconds -> seconds (> 0, at most 10^7 s); < 0 when malformed. */
double cli_duration(const char *s);
/* "f16", "f32" or "both" -> 1 or 2 dtypes; 0 when malformed. */
int cli_dtypes(const char *s, lk_dtype out[2]);
/* One of the two values as text, or "both" -> 1 or 2 ints; 0 when malformed. */
int cli_pair(const char *s, int a, int b, int out[2]);
/* Opens --device SPEC (NULL: the default device); prints why on failure. */
lk_context *cli_open(const char *spec);
/* Powers of two in [lo, hi] (lo rounded up to one), at most max; returns the count. */
int cli_lengths(int64_t lo, int64_t hi, int64_t *out, int max);
/* "device: ...\ndriver: ...\ndate: ...\ncommand: ..." (no trailing newline). */
void cli_describe(lk_context *ctx, int argc, char **argv, char *buf, size_t n);
/* "date: ...\ncommand: ..." alone (no trailing newline). */
void cli_describe_command(int argc, char **argv, char *buf, size_t n);
/* "<backend>-<device name>" lowercased, runs of other characters turned into one '-'. */
void cli_device_slug(lk_context *ctx, char *buf, size_t n);
/* mkdir -p. 0 on success. */
int cli_mkdirs(const char *path);
/* stdout line by line, also into a file or pipe: a run killed by a timeout leaves every line it
 * finished in its log. Call first in main. */
void cli_line_buffered(void);

#endif
