/* lk_params: ordered NAME=int pairs (kernel tunables). */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"

static int find(const lk_params *p, const char *name)
{
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->v[i].name, name) == 0)
            return i;
    return -1;
}

int lk_params_get(const lk_params *p, const char *name, int fallback)
{
    int i = p ? find(p, name) : -1;
    return i < 0 ? fallback : p->v[i].value;
}

int lk_params_has(const lk_params *p, const char *name)
{
    return p && find(p, name) >= 0;
}

void lk_params_set(lk_params *p, const char *name, int value)
{
    int i = find(p, name);
    if (i < 0) {
        if (p->n == LK_MAX_PARAMS) {
            p->dropped = 1;
            return;
        }
        i = p->n++;
        snprintf(p->v[i].name, LK_PARAM_NAME, "%s", name);
    }
    p->v[i].value = value;
}

int lk_params_equal(const lk_params *a, const lk_params *b)
{
    if (a->n != b->n)
        return 0;
    for (int i = 0; i < a->n; i++) {
        int j = find(b, a->v[i].name);
        if (j < 0 || b->v[j].value != a->v[i].value)
            return 0;
    }
    return 1;
}

int lk_params_format(const lk_params *p, const char *prefix, const char *sep, char *buf, size_t n)
{
    int used = 0;
    if (n)
        buf[0] = '\0';
    for (int i = 0; p && i < p->n; i++) {
        size_t room = (size_t)used < n ? n - (size_t)used : 0;
        used += snprintf(buf + (room ? used : 0), room, "%s%s%s=%d", i ? sep : "", prefix,
                         p->v[i].name, p->v[i].value);
    }
    return used;
}

enum separator { SEP_NONE, SEP_SPACES, SEP_MARK };

/* Skips what follows a pair: one ',' or ';' with spaces around it (SEP_MARK), or spaces alone. */
static enum separator skip_separator(const char **s)
{
    enum separator found = SEP_NONE;
    while (isspace((unsigned char)**s))
        (*s)++, found = SEP_SPACES;
    if (**s == ',' || **s == ';') {
        (*s)++, found = SEP_MARK;
        while (isspace((unsigned char)**s))
            (*s)++;
    }
    return found;
}

lk_status lk_params_parse(const char *text, lk_params *out)
{
    memset(out, 0, sizeof *out);
    const char *s = text ? text : "";
    while (isspace((unsigned char)*s))
        s++;
    while (*s) {
        char name[LK_PARAM_NAME];
        int len = 0;
        while (isalnum((unsigned char)s[len]) || s[len] == '_')
            len++;
        if (len == 0 || len >= LK_PARAM_NAME || s[len] != '=') /* also a stray or doubled separator */
            return LK_ERR_INVALID_ARGUMENT;
        memcpy(name, s, (size_t)len);
        name[len] = '\0';
        s += len + 1;
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (end == s || isspace((unsigned char)*s) || errno == ERANGE || v < INT_MIN || v > INT_MAX)
            return LK_ERR_INVALID_ARGUMENT;
        if (out->n == LK_MAX_PARAMS || lk_params_has(out, name)) /* full, or a name given twice */
            return LK_ERR_INVALID_ARGUMENT;
        lk_params_set(out, name, (int)v);
        s = end;
        enum separator sep = skip_separator(&s);
        if ((sep == SEP_NONE && *s) || (sep == SEP_MARK && !*s)) /* "A=1x", or a trailing ',' */
            return LK_ERR_INVALID_ARGUMENT;
    }
    return LK_OK;
}
