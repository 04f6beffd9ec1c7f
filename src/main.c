/*
 * main.c -- the duckpond command line.
 *   duckpond demo [--db FILE]   the library's concurrency core at work
 */
#include <stdio.h>
#include <string.h>

#include "demo.h"

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "demo") == 0) {
        const char *db = argc >= 4 && strcmp(argv[2], "--db") == 0 ? argv[3] : "duckpond.duckdb";
        return demo_main(db);
    }
    fprintf(stderr, "usage: duckpond demo [--db FILE]\n");
    return 2;
}
