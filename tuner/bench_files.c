/* lk-bench's output files (see bench_files.h). */
#include <stdio.h>
#include <string.h>

#include "bench_files.h"
#include "cli.h"

FILE *bench_file_open(bench_file *bf, const char *dir, const char *name)
{
    snprintf(bf->path, sizeof bf->path, "%s/%s", dir, name);
    snprintf(bf->tmp, sizeof bf->tmp, "%s.tmp", bf->path);
    bf->f = NULL;
    if (cli_mkdirs(dir) != 0)
        perror(dir);
    else if (!(bf->f = fopen(bf->tmp, "w")))
        perror(bf->tmp);
    return bf->f;
}

int bench_file_close(bench_file *bf, int ok)
{
    if (!bf->f)
        return 1;
    ok = fclose(bf->f) == 0 && ok;
    bf->f = NULL;
    if (ok && rename(bf->tmp, bf->path) == 0)
        return 0;
    if (ok)
        perror(bf->path);
    remove(bf->tmp);
    return 1;
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
