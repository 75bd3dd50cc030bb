/* The generic search space (see space.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "space.h"

static void space_limit(int over, const char *what, const char *name)
{
    if (!over)
        return;
    fprintf(stderr, "lk-tune: the space's %s %s is past its limit (tuner/space.h)\n", what, name);
    abort();
}

void space_add_list(space *s, const char *name, int n, const int *values)
{
    space_limit(s->nlists == SPACE_MAX_LISTS || n < 1 || n > SPACE_MAX_VALUES, "list", name);
    space_list *l = &s->lists[s->nlists++];
    l->name = name;
    l->n = n;
    memcpy(l->values, values, sizeof(int) * (size_t)n);
}

void space_add_constraint(space *s, const char *name, space_pred ok)
{
    space_limit(s->ncons == SPACE_MAX_CONSTRAINTS, "constraint", name);
    s->cons[s->ncons++] = (space_constraint){name, ok};
}

size_t space_size(const space *s)
{
    size_t n = 1;
    for (int i = 0; i < s->nlists; i++)
        n *= (size_t)s->lists[i].n;
    return n;
}

void space_candidate(const space *s, size_t idx, lk_params *out)
{
    memset(out, 0, sizeof *out);
    int pick[SPACE_MAX_LISTS];
    for (int i = s->nlists - 1; i >= 0; i--) {
        pick[i] = (int)(idx % (size_t)s->lists[i].n);
        idx /= (size_t)s->lists[i].n;
    }
    for (int i = 0; i < s->nlists; i++)
        lk_params_set(out, s->lists[i].name, s->lists[i].values[pick[i]]);
}

const char *space_verdict(const space *s, const lk_params *p, char *why, size_t n)
{
    for (int i = 0; i < s->ncons; i++) {
        why[0] = '\0';
        if (!s->cons[i].ok(p, s->user, why, n))
            return s->cons[i].name;
    }
    return NULL;
}

void space_project(const space *s, const lk_params *p, lk_params *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < s->nlists; i++)
        lk_params_set(out, s->lists[i].name, lk_params_get(p, s->lists[i].name, s->lists[i].values[0]));
}

const space_list *space_find_list(const space *s, const char *name)
{
    for (int i = 0; name && i < s->nlists; i++)
        if (!strcmp(s->lists[i].name, name))
            return &s->lists[i];
    return NULL;
}

int space_restrict(space *s, const lk_params *only, char *why, size_t n)
{
    for (int i = 0; i < only->n; i++) {
        space_list *l = NULL;
        for (int k = 0; k < s->nlists; k++)
            if (!strcmp(s->lists[k].name, only->v[i].name))
                l = &s->lists[k];
        int j = 0;
        while (l && j < l->n && l->values[j] != only->v[i].value)
            j++;
        if (!l || j == l->n) {
            snprintf(why, n, "%s=%d is not in this key's space (%s)", only->v[i].name, only->v[i].value,
                     l ? "not one of the list's values" : "no such parameter");
            return -1;
        }
        l->values[0] = only->v[i].value;
        l->n = 1;
    }
    return 0;
}
