/* One tuner per (database, device): an fcntl byte-range lock on `<database>.lock` (see
 * tune_lock.h). Only lk-tune's tuning path calls this; the compile-ahead workers never do. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "progress.h"
#include "tune_lock.h"

int64_t tune_lock_offset(const char *fingerprint)
{
    uint64_t h = 14695981039346656037ull; /* FNV-1a, 64 bits */
    for (const unsigned char *p = (const unsigned char *)fingerprint; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return (int64_t)(h >> 2); /* start + length stays below the largest off_t */
}

void tune_lock_path(const char *db_path, char *out, size_t n)
{
    char *real = realpath(db_path, NULL);
    if (real) {
        snprintf(out, n, "%s.lock", real);
        free(real);
        return;
    }
    /* no file yet (or a dangling link): resolve its directory */
    const char *slash = strrchr(db_path, '/'), *base = slash ? slash + 1 : db_path;
    char dir[PATH_MAX];
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", slash == db_path ? 1 : (int)(slash - db_path), db_path);
    char *rdir = realpath(dir, NULL);
    if (rdir)
        snprintf(out, n, "%s%s%s.lock", rdir, strcmp(rdir, "/") ? "/" : "", base);
    else
        snprintf(out, n, "%s.lock", db_path);
    free(rdir);
}

static struct flock byte_of(const char *fingerprint, short type)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = (off_t)tune_lock_offset(fingerprint);
    fl.l_len = 1;
    return fl;
}

int tune_lock_try(tune_lock *l, const char *db_path, const char *fingerprint, pid_t *holder, char *err, size_t n)
{
    char path[PATH_MAX + 8];
    l->fd = -1;
    *holder = 0;
    tune_lock_path(db_path, path, sizeof path);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) {
        snprintf(err, n, "cannot open the lock file %s: %s", path, strerror(errno));
        return TUNE_LOCK_FAILED;
    }
    for (;;) {
        struct flock fl = byte_of(fingerprint, F_WRLCK);
        if (fcntl(fd, F_SETLK, &fl) == 0) {
            l->fd = fd;
            return TUNE_LOCK_TAKEN;
        }
        if (errno != EACCES && errno != EAGAIN)
            break;
        struct flock q = byte_of(fingerprint, F_WRLCK);
        if (fcntl(fd, F_GETLK, &q) != 0)
            break;
        if (q.l_type == F_UNLCK) /* released between the two calls: try again */
            continue;
        *holder = q.l_pid > 0 ? q.l_pid : 0;
        l->fd = fd;
        return TUNE_LOCK_BUSY;
    }
    snprintf(err, n, "cannot lock %s: %s", path, strerror(errno));
    close(fd);
    return TUNE_LOCK_FAILED;
}

int tune_lock_wait(tune_lock *l, const char *fingerprint, char *err, size_t n)
{
    struct flock fl = byte_of(fingerprint, F_WRLCK);
    while (fcntl(l->fd, F_SETLKW, &fl) != 0) {
        if (errno == EINTR)
            continue;
        snprintf(err, n, "waiting for the lock failed: %s", strerror(errno));
        tune_lock_release(l);
        return TUNE_LOCK_FAILED;
    }
    return TUNE_LOCK_TAKEN;
}

void tune_lock_release(tune_lock *l)
{
    if (l->fd >= 0)
        close(l->fd); /* drops every lock this process holds on the file */
    l->fd = -1;
}

int tune_lock_acquire(tune_lock *l, const char *db_path, const lk_device_info *dev, int wait)
{
    char err[PATH_MAX + 128], who[64];
    pid_t holder = 0;
    int r = tune_lock_try(l, db_path, dev->fingerprint, &holder, err, sizeof err);
    if (r == TUNE_LOCK_TAKEN)
        return 0;
    if (r == TUNE_LOCK_FAILED) {
        fprintf(stderr, "lk-tune: %s (the lock that keeps a second tuner of device '%s' off '%s')\n", err, dev->name,
                db_path);
        return 1;
    }
    if (holder > 0)
        snprintf(who, sizeof who, "process %ld", (long)holder);
    else
        snprintf(who, sizeof who, "another process (its pid is not visible here)");
    if (!wait) {
        fprintf(stderr,
                "lk-tune: %s is tuning device '%s' (fingerprint %s) into the database '%s' already;\n"
                "two tuners on one device disturb each other's timings. Give --wait to start when it is done,\n"
                "or --db for another database.\n",
                who, dev->name, dev->fingerprint, db_path);
        tune_lock_release(l);
        return TUNE_LOCK_BUSY_EXIT;
    }
    printf("waiting for %s, which is tuning device '%s' into the database '%s', to finish (--wait)\n", who,
           dev->name, db_path);
    fflush(stdout);
    double t0 = now_s();
    if (tune_lock_wait(l, dev->fingerprint, err, sizeof err) != TUNE_LOCK_TAKEN) {
        fprintf(stderr, "lk-tune: %s\n", err);
        return 1;
    }
    printf("the other tuner is done after %.1f s of waiting; resuming (what it recorded is skipped)\n",
           now_s() - t0);
    return 0;
}
