/* Kernel parameters: a small ordered set of NAME=int pairs. Ops read them to size launches,
 * the program cache turns them into -D options, the tuning database stores them as text
 * ("BLOCK_M=64,BLOCK_N=32,STAGES=2"). */
#ifndef LK_PARAMS_H
#define LK_PARAMS_H

#include <stddef.h>
#include "longkern.h"

#define LK_MAX_PARAMS 24 /* the most: kda_fwd's 17 defines */
#define LK_PARAM_NAME 24

typedef struct lk_params {
    int n;
    int dropped; /* lk_params_set found the set full: a program built from it fails (lk_program_get) */
    struct { char name[LK_PARAM_NAME]; int value; } v[LK_MAX_PARAMS];
} lk_params;

int lk_params_get(const lk_params *p, const char *name, int fallback);
int lk_params_has(const lk_params *p, const char *name);
void lk_params_set(lk_params *p, const char *name, int value); /* adds or replaces; full: sets dropped */
/* 1 when a and b hold the same names with the same values, in any order. */
int lk_params_equal(const lk_params *a, const lk_params *b);
/* "A=1,B=2" (sep ","), or "-DA=1 -DB=2" with prefix "-D" and sep " ". Returns chars needed. */
int lk_params_format(const lk_params *p, const char *prefix, const char *sep, char *buf, size_t n);
/* Parses "A=1,B=2": between two pairs one ',' or ';' (spaces around it allowed) or spaces alone;
 * a separator before the first pair, after the last or doubled is an error; values within int;
 * each name once. Empty text is no pairs. */
lk_status lk_params_parse(const char *text, lk_params *out);

#endif
