/*
 * copy_format.h -- the COPY statement (its target and options, as
 * PostgreSQL reads them) and the escaping of a field of COPY TO, for the
 * copy_*.c files. Pure text: no connection, no DuckDB.
 */
#ifndef DUCKPOND_COPY_FORMAT_H
#define DUCKPOND_COPY_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

struct dp_buf;
struct pgbuf;

/* A list of column names given to an option such as FORCE_NULL. */
struct copy_names {
    char **v; /* unquoted */
    int n;
};

/* A COPY ... FROM STDIN / TO STDOUT statement (copy_parse). */
struct copy_spec {
    bool from; /* FROM STDIN, else TO STDOUT */
    bool csv;
    bool binary;
    bool header;
    bool header_match; /* HEADER MATCH: the header's names must be the columns' */
    char delim;
    char quote, escape;
    char *null_str;
    struct copy_names force_null;     /* CSV FROM: a quoted value equal to NULL's text is NULL */
    struct copy_names force_not_null; /* CSV FROM: an unquoted one is not */
    char *query;                      /* COPY (query) TO STDOUT */
    char *schema;                     /* unquoted; NULL for the default */
    char *table;                      /* unquoted */
    struct copy_names columns;        /* none: all */
};

/* Whether name is in the list (case-insensitively, as DuckDB matches names). */
bool copy_names_has(const struct copy_names *l, const char *name);

/* Appends one field of a COPY TO line, escaped for text or quoted for CSV. */
void copy_put_field(struct pgbuf *out, const struct copy_spec *c, const char *p, size_t n);

/* The SELECT a COPY TO runs, into q. */
void copy_query(const struct copy_spec *c, struct dp_buf *q);

/* The table as SQL: "schema"."table" or "table", into q. */
void copy_table_sql(const struct copy_spec *c, struct dp_buf *q);

#endif
