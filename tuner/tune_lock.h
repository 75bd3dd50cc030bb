/* One tuner per (database, device) at a time.
 *
 * Two lk-tune processes timing the same device into the same database would each time every
 * candidate (each skips only what the database held when it started), and their timings would
 * disturb each other on the one device. So before timing, lk-tune takes an advisory lock: an
 * fcntl write lock (F_SETLK, non-blocking) on one byte of `<database path>.lock`, at an offset
 * derived from the device's fingerprint (the string the database keys its devices by), so tuners
 * of different devices share one database freely. The kernel drops the lock when its process
 * ends however it ends (SIGKILL included): nothing stale is left to clean up. The lock file itself
 * stays beside the database, empty; it is never removed (removing it would let a waiting tuner
 * lock a file that the next one no longer opens).
 *
 * fcntl locks belong to a process, and closing any descriptor of the file releases them all: the
 * lock file is opened once (close-on-exec) and by nothing else in lk-tune. The compile-ahead
 * workers (warm.h) are processes of their own that never come here: they do not time, and a lock
 * of theirs would neither block nor release the parent's. --dry-run, --export and --import alone
 * do not time and take no lock. */
#ifndef LK_TUNER_TUNE_LOCK_H
#define LK_TUNER_TUNE_LOCK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "longkern.h"

/* lk-tune's exit status when another tuner holds the lock and --wait was not given
 * (EX_TEMPFAIL of sysexits.h: try again later). */
#define TUNE_LOCK_BUSY_EXIT 75

typedef struct tune_lock {
    int fd; /* the lock file, -1 when no lock is held */
} tune_lock;

enum { TUNE_LOCK_TAKEN = 0, TUNE_LOCK_BUSY = 1, TUNE_LOCK_FAILED = -1 };

/* The byte of the lock file that stands for the device with this fingerprint: a 64-bit FNV-1a
 * hash of the string, less its top two bits (a valid, non-negative off_t). */
int64_t tune_lock_offset(const char *fingerprint);
/* The lock file of the database at db_path: `<db_path>.lock`, the path resolved first (realpath
 * of the file, else of its directory) so that two spellings of one database lock one file. */
void tune_lock_path(const char *db_path, char *out, size_t n);

/* Tries to lock (db_path, fingerprint) without waiting. TUNE_LOCK_TAKEN: *l holds it until
 * tune_lock_release or the process ends. TUNE_LOCK_BUSY: another process holds it, *holder gets
 * its pid (0 when the kernel cannot say, e.g. in another pid namespace) and *l stays open for
 * tune_lock_wait. TUNE_LOCK_FAILED: the lock file could not be opened or locked, err says why. */
int tune_lock_try(tune_lock *l, const char *db_path, const char *fingerprint, pid_t *holder, char *err, size_t n);
/* After TUNE_LOCK_BUSY: blocks (F_SETLKW) until the holder releases it. TUNE_LOCK_TAKEN or
 * TUNE_LOCK_FAILED with err. */
int tune_lock_wait(tune_lock *l, const char *fingerprint, char *err, size_t n);
/* Releases the lock and closes the file (a no-op when *l holds nothing). */
void tune_lock_release(tune_lock *l);

/* lk-tune's use of the above for the device dev and the database at db_path: 0 when locked;
 * when another tuner holds it, TUNE_LOCK_BUSY_EXIT after a message naming the database, the
 * device and the holder's pid, or with wait, a line saying it waits, then 0 once the holder is
 * done; 1 when the lock cannot be taken at all (the reason on stderr). */
int tune_lock_acquire(tune_lock *l, const char *db_path, const lk_device_info *dev, int wait);

#endif
