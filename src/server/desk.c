/*
 * desk.c -- installs the trading desk's macros (desk.sql: OHLCV with gaps
 * filled, VWAP, TWAP, latest per symbol, quotes as of trades, spread,
 * returns and volatility) into the database the server opens.
 *
 * The SQL is data: desk.sql, embedded at build time (the Makefile turns it
 * into the array desk_sql). It holds its own BEGIN and COMMIT, so DuckDB
 * runs it as one string and an error part-way leaves the transaction open
 * and failed, which is rolled back here: the macros are all replaced or
 * none. The macros live in the user's database (schema desk), not in an
 * attached in-memory catalog as the PostgreSQL overlay does: a catalog
 * named desk would make desk.x ambiguous beside a user's schema desk and
 * fail, where a schema is simply shared.
 */
#include "desk.h"

#include <stdio.h>
#include <string.h>

/* desk.sql, NUL-terminated; generated from it by the Makefile. */
extern const char desk_sql[];

/* Whether the current database of con is read-only: 1, 0, or -1 with err. */
static int read_only(duckdb_connection con, char *err, size_t errlen)
{
    duckdb_result res;
    if (duckdb_query(con, "SELECT readonly FROM duckdb_databases() WHERE database_name = current_database()",
                     &res) != DuckDBSuccess) {
        snprintf(err, errlen, "desk: %s", duckdb_result_error(&res));
        duckdb_destroy_result(&res);
        return -1;
    }
    int ro = duckdb_row_count(&res) > 0 && duckdb_value_boolean(&res, 0, 0);
    duckdb_destroy_result(&res);
    return ro;
}

int desk_install(duckdb_connection con, char *err, size_t errlen)
{
    int ro = read_only(con, err, errlen);
    if (ro != 0)
        return ro < 0 ? -1 : 0;
    duckdb_result res;
    if (duckdb_query(con, desk_sql, &res) == DuckDBSuccess) {
        duckdb_destroy_result(&res);
        return 0;
    }
    snprintf(err, errlen, "desk.sql: %s", duckdb_result_error(&res));
    duckdb_destroy_result(&res);
    if (duckdb_query(con, "ROLLBACK", &res) != DuckDBSuccess) {
        /* nothing was open: the error came before BEGIN */
    }
    duckdb_destroy_result(&res);
    return -1;
}
