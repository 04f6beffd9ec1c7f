/*
 * fdpath.h -- a file name, inside a directory of the server's own, for a
 * descriptor the server holds.
 *
 * The server locks DuckDB out of every file outside the directories it
 * names (enable_external_access off, allowed_directories), and DuckDB
 * compares the name it is given, not the file behind it. The server's own
 * work still hands DuckDB descriptors by name: COPY FROM STDIN reads a
 * pipe through read_csv, a Parquet answer is written by COPY TO an
 * unnamed file. Such a descriptor gets a symbolic link with a random name
 * in the server's private directory (0700, allowed to DuckDB), pointing
 * at /proc/self/fd/N, for as long as the statement runs: so no directory
 * of descriptors (/dev/fd, /proc/self/fd, where the database file, the
 * journal and every client's socket are too) is ever opened to DuckDB.
 */
#ifndef DUCKPOND_FDPATH_H
#define DUCKPOND_FDPATH_H

/*
 * Makes dir/fd-<random> -> /proc/self/fd/<fd>. Returns its path (malloc'd,
 * give it to fdpath_free), or NULL with errno set.
 */
char *fdpath_new(const char *dir, int fd);

/* Removes the link made by fdpath_new and frees path; NULL is a no-op. */
void fdpath_free(char *path);

#endif
