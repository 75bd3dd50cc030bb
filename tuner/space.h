/* A search space: named value lists (their Cartesian product) plus named constraints. A
 * candidate that fails a constraint is rejected with the constraint's name and a reason, before
 * anything is compiled. Ops declare their spaces in space_<op>.c. */
#ifndef LK_TUNER_SPACE_H
#define LK_TUNER_SPACE_H

#include <stddef.h>

#include "params.h"

#define SPACE_MAX_LISTS 12 /* kda_fwd has 9 */
#define SPACE_MAX_VALUES 8
#define SPACE_MAX_CONSTRAINTS 8

/* Returns 1 when p satisfies the constraint; otherwise 0 with a reason in why. */
typedef int (*space_pred)(const lk_params *p, const void *user, char *why, size_t n);

typedef struct space_list {
    const char *name;
    int n;
    int values[SPACE_MAX_VALUES];
} space_list;

typedef struct space_constraint {
    const char *name;
    space_pred ok;
} space_constraint;

typedef struct space {
    int nlists, ncons;
    space_list lists[SPACE_MAX_LISTS];
    space_constraint cons[SPACE_MAX_CONSTRAINTS];
    const void *user; /* passed to every predicate */
} space;

/* Past SPACE_MAX_LISTS lists, SPACE_MAX_VALUES values or SPACE_MAX_CONSTRAINTS constraints (an op's
 * space definition, never user input) these print the limit and abort. */
void space_add_list(space *s, const char *name, int n, const int *values);
void space_add_constraint(space *s, const char *name, space_pred ok);
size_t space_size(const space *s);
/* Candidate idx (0 <= idx < space_size) of the product, first list varying slowest. */
void space_candidate(const space *s, size_t idx, lk_params *out);
/* NULL when p passes every constraint; else the failing constraint's name, its reason in why. */
const char *space_verdict(const space *s, const lk_params *p, char *why, size_t n);
/* p restricted to the space's list names (values of names p lacks: the list's first value). */
void space_project(const space *s, const lk_params *p, lk_params *out);
/* The list named name, or NULL (also when name is NULL). */
const space_list *space_find_list(const space *s, const char *name);
/* Narrows each list that `only` names to its one value (lk-tune --only MMA=2): the space then
 * holds only the candidates that match. 0, or -1 with the reason in why when `only` names a
 * parameter the space lacks or a value its list does not hold. */
int space_restrict(space *s, const lk_params *only, char *why, size_t n);

#endif
