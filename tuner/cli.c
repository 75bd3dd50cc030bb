/* Command-line helpers (see cli.h). */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"

int cli_range(const char *s, int64_t *lo, int64_t *hi)
{
    char *end;
    errno = 0;
    *lo = strtoll(s, &end, 10);
    *hi = *lo;
    if (*end == ':')
        *hi = strtoll(end + 1, &end, 10);
    return *end || errno == ERANGE || *lo < 1 || *hi < *lo || *hi > CLI_MAX_LENGTH ? -1 : 0;
}

double cli_duration(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    double unit = !strcmp(end, "") || !strcmp(end, "s") ? 1 : !strcmp(end, "m") ? 60 : !strcmp(end, "h") ? 3600 : -1;
    return end == s || unit < 0 || !(v > 0.0) || v * unit > 1e7 ? -1.0 : v * unit; /* NaN fails v > 0 */
}

int cli_dtypes(const char *s, lk_dtype out[2])
{
    out[0] = LK_F16;
    out[1] = LK_F32;
    return !strcmp(s, "both") ? 2 : !strcmp(s, "f16") ? 1 : !strcmp(s, "f32") ? (out[0] = LK_F32, 1) : 0;
}

int cli_pair(const char *s, int a, int b, int out[2])
{
    out[0] = a;
    out[1] = b;
    if (!strcmp(s, "both"))
        return 2;
    long long v;
    if (cli_whole(s, LLONG_MIN, LLONG_MAX, &v) || (v != a && v != b))
        return 0;
    out[0] = (int)v;
    return 1;
}

lk_context *cli_open(const char *spec)
{
    lk_device_request req = lk_device_request_default();
    if (spec && lk_device_request_parse(spec, &req) != LK_OK) {
        fprintf(stderr, "bad --device '%s' (opencl, opencl:P:D, opencl:NAME, cuda, cuda:N, any)\n", spec);
        return NULL;
    }
    lk_context *ctx = NULL;
    if (lk_context_create(&ctx, &req) != LK_OK) {
        fprintf(stderr, "cannot open the device: %s\n", lk_last_error(NULL));
        return NULL;
    }
    return ctx;
}

int cli_lengths(int64_t lo, int64_t hi, int64_t *out, int max)
{
    int n = 0;
    for (int64_t s = 1; s <= hi && n < max; s *= 2)
        if (s >= lo)
            out[n++] = s;
    return n;
}

void cli_describe_command(int argc, char **argv, char *buf, size_t n)
{
    char date[32];
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", gmtime(&now));
    int k = snprintf(buf, n, "date: %s\ncommand:", date);
    for (int i = 0; i < argc && k >= 0 && (size_t)k < n; i++)
        k += snprintf(buf + k, n - (size_t)k, " %s", argv[i]);
}

void cli_describe(lk_context *ctx, int argc, char **argv, char *buf, size_t n)
{
    const lk_device_info *d = lk_context_device(ctx);
    int k = snprintf(buf, n, "device: %s (%s, %s)\ndriver: %s\n", d->name,
                     d->backend == LK_BACKEND_CUDA ? "cuda" : "opencl", d->platform_name, d->driver);
    if (k >= 0 && (size_t)k < n)
        cli_describe_command(argc, argv, buf + k, n - (size_t)k);
}

void cli_device_slug(lk_context *ctx, char *buf, size_t n)
{
    const lk_device_info *d = lk_context_device(ctx);
    char raw[300];
    snprintf(raw, sizeof raw, "%s-%s", d->backend == LK_BACKEND_CUDA ? "cuda" : "opencl", d->name);
    size_t k = 0;
    for (const char *p = raw; *p && k + 1 < n; p++) {
        if (isalnum((unsigned char)*p))
            buf[k++] = (char)tolower((unsigned char)*p);
        else if (k > 0 && buf[k - 1] != '-')
            buf[k++] = '-';
    }
    while (k > 0 && buf[k - 1] == '-')
        k--;
    buf[k] = '\0';
}

int cli_mkdirs(const char *path)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1;; p++) {
        if (*p == '/' || !*p) {
            char c = *p;
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return -1;
            if (!(*p = c))
                return 0;
        }
    }
}

void cli_line_buffered(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
}
