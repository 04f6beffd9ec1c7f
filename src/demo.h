/* demo.h -- `duckpond demo`, the library's concurrency core at work. */
#ifndef DUCKPOND_DEMO_H
#define DUCKPOND_DEMO_H

/* Runs the demo on the database file at path; returns an exit status. */
int demo_main(const char *path);

#endif
