/* lk-bench's output files (see bench_files.h). */
#include <stdio.h>
#include <string.h>

#include "bench_files.h"
#include "cli.h"

int bench_files_open(bench_file *bf, int n, const char *dir, const char *name, const char *const *ext)
{
    int ok = cli_mkdirs(dir) == 0;
    if (!ok)
        perror(dir);
    for (int i = 0; i < n; i++) {
        snprintf(bf[i].path, sizeof bf[i].path, "%s/%s.%s", dir, name, ext[i]);
        snprintf(bf[i].tmp, sizeof bf[i].tmp, "%s.tmp", bf[i].path);
        bf[i].f = ok ? fopen(bf[i].tmp, "w") : NULL;
        if (ok && !bf[i].f) {
            perror(bf[i].tmp);
            ok = 0;
        }
    }
    return ok;
}

int bench_files_nothing(int rows, const char *dir, const char *name)
{
    if (rows > 0)
        return 0;
    fprintf(stderr, "lk-bench: no row of %s was measured; %s/%s.* are left as they were\n", name, dir, name);
    return 1;
}

int bench_files_close(bench_file *bf, int n, int ok)
{
    int bad = 0;
    for (int i = 0; i < n; i++) {
        if (!bf[i].f) {
            bad = 1;
            continue;
        }
        int kept = fclose(bf[i].f) == 0 && ok;
        bf[i].f = NULL;
        if (kept && rename(bf[i].tmp, bf[i].path) == 0)
            continue;
        if (kept)
            perror(bf[i].path);
        remove(bf[i].tmp);
        bad = 1;
    }
    return bad;
}

void bench_prefixed(FILE *f, const char *prefix, const char *text)
{
    for (const char *p = text; *p;) {
        const char *e = strchr(p, '\n');
        int len = e ? (int)(e - p) : (int)strlen(p);
        fprintf(f, "%s%.*s\n", prefix, len, p);
        p += len + (e != NULL);
    }
}

void bench_header(FILE *f, const char *prefix, const char *header, int n, int planned)
{
    bench_prefixed(f, prefix, header);
    if (n < planned)
        fprintf(f, "%sstatus: partial, %d of the run's %d steps (the run was stopped or is still going; a "
                   "finished run rewrites this file)\n", prefix, n, planned);
}
