/* Kernel sources (embedded or from LK_KERNEL_DIR) and the program cache: in memory per
 * context, and on disk as backend binaries keyed by a hash of source, options and device. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "program.h"

struct lk_embedded_kernel { const char *name; const char *text; };
extern const struct lk_embedded_kernel lk_embedded_kernels[];
extern const char lk_kernels_version_text[];

const char *lk_kernels_version(void)
{
    return lk_kernels_version_text;
}

typedef struct cached_program {
    uint64_t key;
    void *program;
    struct cached_program *next;
} cached_program;

struct lk_program_cache {
    cached_program *head;
};

static char *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1))) {
            if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
                free(buf);
                buf = NULL;
            } else {
                buf[n] = '\0';
                if (size)
                    *size = (size_t)n;
            }
        }
    }
    fclose(f);
    return buf;
}

/* The text of one file of cl/: embedded copy, or the file in LK_KERNEL_DIR / the source tree. */
static char *source_file(const char *file)
{
    const char *dir = getenv("LK_KERNEL_DIR");
    if (!dir || !*dir) {
        for (int i = 0; lk_embedded_kernels[i].name; i++)
            if (strcmp(lk_embedded_kernels[i].name, file) == 0)
                return strdup(lk_embedded_kernels[i].text);
        dir = LK_KERNEL_SOURCE_DIR;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    return read_file(path, NULL);
}

/* Appends text to *out (grown with realloc), expanding each line `#include "file"` with that
 * file of cl/ once (headers carry their own guards, so repeats are harmless). */
static int append_expanded(char **out, size_t *len, const char *text, int depth)
{
    for (const char *line = text; *line;) {
        const char *eol = strchr(line, '\n');
        size_t n = eol ? (size_t)(eol - line) + 1 : strlen(line);
        char inc[128];
        if (depth < 8 && sscanf(line, "#include \"%127[^\"]\"", inc) == 1) {
            char *sub = source_file(inc);
            if (!sub)
                return -1;
            int rc = append_expanded(out, len, sub, depth + 1);
            free(sub);
            if (rc)
                return rc;
        } else {
            char *grown = realloc(*out, *len + n + 1);
            if (!grown)
                return -1;
            *out = grown;
            memcpy(*out + *len, line, n);
            *len += n;
            (*out)[*len] = '\0';
        }
        line += n;
    }
    return 0;
}

char *lk_kernel_source(lk_context *ctx, const char *name)
{
    char file[256];
    snprintf(file, sizeof file, "%s.cl", name);
    char *body = source_file(file);
    char *text = NULL;
    size_t len = 0;
    if (!body || append_expanded(&text, &len, body, 0) != 0) {
        free(text);
        text = NULL;
        lk_fail(ctx, LK_ERR_IO, "kernel source %s or a header it includes not found (LK_KERNEL_DIR=%s)", file,
                getenv("LK_KERNEL_DIR") ? getenv("LK_KERNEL_DIR") : "unset, embedded");
    }
    free(body);
    return text;
}

const char *lk_program_cache_dir(void)
{
    static char dir[1024];
    const char *env = getenv("LK_CACHE_DIR");
    if (env)
        snprintf(dir, sizeof dir, "%s", env);
    else if ((env = getenv("XDG_CACHE_HOME")) && *env)
        snprintf(dir, sizeof dir, "%s/longkern", env);
    else if ((env = getenv("HOME")) && *env)
        snprintf(dir, sizeof dir, "%s/.cache/longkern", env);
    else
        dir[0] = '\0';
    return dir;
}

static void make_dirs(const char *path)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(tmp, 0755);
            *p = '/';
        }
    mkdir(tmp, 0755);
}

static void disk_path(char *path, size_t n, const char *dir, const lk_context *ctx, uint64_t key)
{
    snprintf(path, n, "%s/%s-%016llx.bin", dir, ctx->ops->name, (unsigned long long)key);
}

/* Written to a temp file and renamed, so a reader never sees a partial binary. */
static void disk_store(const lk_context *ctx, uint64_t key, const void *bin, size_t size)
{
    const char *dir = lk_program_cache_dir();
    if (!*dir || !bin || !size)
        return;
    make_dirs(dir);
    char path[1100], tmp[1200];
    disk_path(path, sizeof path, dir, ctx, key);
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return;
    int ok = fwrite(bin, 1, size, f) == size;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        lk_log(LK_LOG_DEBUG, "program cache: could not write %s: %s", path, strerror(errno));
    }
}

static uint64_t program_key(const lk_context *ctx, const char *source, const char *options)
{
    uint64_t h = LK_HASH_SEED;
    h = lk_hash(h, ctx->ops->name, strlen(ctx->ops->name));
    h = lk_hash(h, ctx->info.fingerprint, strlen(ctx->info.fingerprint));
    h = lk_hash(h, options, strlen(options) + 1);
    return lk_hash(h, source, strlen(source));
}

static lk_status build(lk_context *ctx, uint64_t key, const char *source, const char *options, void **program)
{
    const char *dir = lk_program_cache_dir();
    if (*dir) {
        char path[1100];
        size_t size = 0;
        disk_path(path, sizeof path, dir, ctx, key);
        char *bin = read_file(path, &size);
        if (bin) {
            lk_status st = ctx->ops->program_build(ctx, NULL, options, bin, size, program, NULL, NULL);
            free(bin);
            if (st == LK_OK)
                return LK_OK;
            lk_log(LK_LOG_DEBUG, "program cache: stale binary %s, rebuilding", path);
            unlink(path);
        }
    }
    void *bin = NULL;
    size_t size = 0;
    lk_status st = ctx->ops->program_build(ctx, source, options, NULL, 0, program, &bin, &size);
    if (st == LK_OK)
        disk_store(ctx, key, bin, size);
    free(bin);
    return st;
}

lk_status lk_program_get(lk_context *ctx, const char *name, const lk_params *defines, void **program)
{
    char options[1024];
    int n = snprintf(options, sizeof options, "-DLK_PROGRAM_%s=1 ", name);
    size_t room = sizeof options - (size_t)n;
    if ((defines && defines->dropped) || (size_t)lk_params_format(defines, "-D", " ", options + n, room) >= room)
        return lk_fail(ctx, LK_ERR_BUILD, "program %s: more defines than fit (LK_MAX_PARAMS %d, %zu characters)",
                       name, LK_MAX_PARAMS, sizeof options);

    if (!ctx->programs && !(ctx->programs = calloc(1, sizeof *ctx->programs)))
        return lk_fail(ctx, LK_ERR_OUT_OF_MEMORY, "program cache: host allocation failed");
    /* In memory the options name the program (they start with its name); the source is read
     * and hashed only on a miss. */
    uint64_t mem_key = lk_hash(LK_HASH_SEED, options, strlen(options));
    for (cached_program *c = ctx->programs->head; c; c = c->next)
        if (c->key == mem_key) {
            *program = c->program;
            return LK_OK;
        }
    char *source = lk_kernel_source(ctx, name);
    if (!source)
        return LK_ERR_IO;
    void *prog = NULL;
    lk_status st = build(ctx, program_key(ctx, source, options), source, options, &prog);
    free(source);
    if (st != LK_OK)
        return st;
    cached_program *c = malloc(sizeof *c);
    if (!c) {
        ctx->ops->program_free(ctx, prog);
        return lk_fail(ctx, LK_ERR_OUT_OF_MEMORY, "program cache: host allocation failed");
    }
    *c = (cached_program){mem_key, prog, ctx->programs->head};
    ctx->programs->head = c;
    *program = prog;
    return LK_OK;
}

void lk_program_cache_destroy(lk_context *ctx)
{
    if (!ctx->programs)
        return;
    for (cached_program *c = ctx->programs->head, *next; c; c = next) {
        next = c->next;
        ctx->ops->program_free(ctx, c->program);
        free(c);
    }
    free(ctx->programs);
    ctx->programs = NULL;
}
