/*
 * fdpath.c -- symbolic links with random names to the server's own
 * descriptors, so that DuckDB can open them by a name inside the one
 * directory of the server's it may use (fdpath.h).
 */
#include "fdpath.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <unistd.h>

#include "buf.h"

char *fdpath_new(const char *dir, int fd)
{
    if (!dir || fd < 0) {
        errno = EINVAL;
        return NULL;
    }
    char target[48];
    snprintf(target, sizeof target, "/proc/self/fd/%d", fd);
    for (int attempt = 0; attempt < 8; attempt++) {
        unsigned char r[12];
        if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
            return NULL;
        char *path = dp_asprintf("%s/fd-%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x", dir, r[0], r[1],
                                 r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11]);
        if (!path) {
            errno = ENOMEM;
            return NULL;
        }
        if (symlink(target, path) == 0)
            return path;
        int saved = errno;
        free(path);
        if (saved != EEXIST) {
            errno = saved;
            return NULL;
        }
    }
    errno = EEXIST;
    return NULL;
}

void fdpath_free(char *path)
{
    if (!path)
        return;
    unlink(path);
    free(path);
}
