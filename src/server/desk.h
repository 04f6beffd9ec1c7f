/*
 * desk.h -- the trading desk's queries (desk.sql) installed as macros in
 * the schema "desk" of the database the server opens.
 */
#ifndef DUCKPOND_DESK_H
#define DUCKPOND_DESK_H

#include <stddef.h>

#include "duckdb.h"

/*
 * Creates or replaces the desk macros in the current database of con, all
 * in one transaction; does nothing when that database is read-only (the
 * macros a writable open left there stay). 0, or -1 with DuckDB's message
 * in err and nothing changed.
 */
int desk_install(duckdb_connection con, char *err, size_t errlen);

#endif
