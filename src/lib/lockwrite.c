/*
 * lockwrite.c -- the lock-file writer: for tools that must open a database
 * file themselves while other processes do the same.
 *
 * DuckDB lets one process at a time open a file read-write and refuses the
 * rest at once. Processes that agree to take an exclusive flock on a side
 * file ("<db>.lock") before opening get turns instead of errors. The holder
 * writes its PID into the lock file so that a waiter that gives up can say
 * who held it. flock is released by the kernel if the holder dies, so a
 * crashed writer never leaves the lock stuck.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "dbint.h"

static void put_err(char *errbuf, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void put_err(char *errbuf, size_t errlen, const char *fmt, ...)
{
    if (!errbuf || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
}

/* The PID written in the lock file by its holder, or 0. */
static long read_holder(int fd)
{
    char buf[32] = {0};
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    return n > 0 ? strtol(buf, NULL, 10) : 0;
}

/* Takes the flock, polling until timeout_ms passes (-1: forever). */
static int take_lock(int fd, int timeout_ms)
{
    int64_t deadline = dp_now_us() + (int64_t)timeout_ms * 1000;
    int64_t pause_us = 500;
    for (;;) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            return DUCKPOND_OK;
        if (errno != EWOULDBLOCK && errno != EINTR)
            return DUCKPOND_IO;
        int64_t now = dp_now_us();
        if (timeout_ms >= 0 && now >= deadline)
            return DUCKPOND_TIMEOUT;
        if (timeout_ms >= 0 && now + pause_us > deadline)
            pause_us = deadline - now;
        usleep((useconds_t)pause_us);
        pause_us = pause_us * 2 > 20000 ? 20000 : pause_us * 2;
    }
}

/* Opens the database, runs fn, closes it. */
static int run_locked(const char *path, const duckpond_config *cfg, duckpond_locked_fn fn, void *arg,
                      char *errbuf, size_t errlen)
{
    duckpond_db *db = NULL;
    duckpond_conn *conn = NULL;
    int rc = duckpond_open(path, cfg, &db);
    if (rc != DUCKPOND_OK) {
        put_err(errbuf, errlen, "%s", duckpond_db_errmsg(db));
        goto done;
    }
    rc = duckpond_connect(db, &conn);
    if (rc != DUCKPOND_OK) {
        put_err(errbuf, errlen, "cannot connect to \"%s\"", path);
        goto done;
    }
    rc = fn(conn, arg);
    if (rc != DUCKPOND_OK)
        put_err(errbuf, errlen, "%s", duckpond_conn_errmsg(conn));
done:
    duckpond_disconnect(conn);
    duckpond_close(db);
    return rc;
}

int duckpond_locked_write(const char *path, const duckpond_config *cfg, int timeout_ms, duckpond_locked_fn fn,
                          void *arg, char *errbuf, size_t errlen)
{
    put_err(errbuf, errlen, "%s", "");
    if (!path || !*path || !fn) {
        put_err(errbuf, errlen, "locked write needs a database path and a function");
        return DUCKPOND_MISUSE;
    }
    char *lock_path = dp_asprintf("%s.lock", path);
    if (!lock_path)
        return DUCKPOND_NOMEM;
    int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        put_err(errbuf, errlen, "cannot open lock file \"%s\": %s", lock_path, strerror(errno));
        free(lock_path);
        return DUCKPOND_IO;
    }
    int rc = take_lock(fd, timeout_ms);
    if (rc == DUCKPOND_TIMEOUT) {
        put_err(errbuf, errlen, "timed out after %d ms waiting for lock file \"%s\", held by PID %ld",
                timeout_ms, lock_path, read_holder(fd));
    } else if (rc != DUCKPOND_OK) {
        put_err(errbuf, errlen, "cannot lock \"%s\": %s", lock_path, strerror(errno));
    } else {
        char pid[32];
        int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
        if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
            /* The PID is only for messages; the lock itself holds. */
        }
        rc = run_locked(path, cfg, fn, arg, errbuf, errlen);
        flock(fd, LOCK_UN);
    }
    close(fd);
    free(lock_path);
    return rc;
}
