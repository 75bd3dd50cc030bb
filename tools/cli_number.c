/* Numbers from command-line text (see cli_number.h). */
#include <errno.h>
#include <stdlib.h>

#include "cli_number.h"

int cli_whole(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || errno == ERANGE || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int cli_count(const char *s, int lo, int hi, int *out)
{
    long long v;
    if (cli_whole(s, lo, hi, &v))
        return -1;
    *out = (int)v;
    return 0;
}

int cli_real(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end)
        return -1;
    *out = v;
    return 0;
}
