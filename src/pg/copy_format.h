/*
 * copy_format.h -- PostgreSQL's COPY text and CSV formats, for copy.c: the
 * options of a COPY statement, the splitting of one row into fields, and
 * the escaping of a field on the way out. Pure text: no connection, no
 * DuckDB.
 */
#ifndef DUCKPOND_COPY_FORMAT_H
#define DUCKPOND_COPY_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

struct dp_buf;
struct pgbuf;

/* A COPY ... FROM STDIN / TO STDOUT statement (copy_parse). */
struct copy_spec {
    bool from;       /* FROM STDIN, else TO STDOUT */
    bool csv;
    bool header;
    char delim;
    char quote, escape;
    char *null_str;
    char *query;     /* COPY (query) TO STDOUT */
    char *schema;    /* unquoted; NULL for the default */
    char *table;     /* unquoted */
    char **columns;  /* unquoted; NULL: all */
    int ncolumns;
};

/* The fields of one row: each value NUL-terminated in buf. Reused from row to row. */
struct copy_field {
    size_t start; /* offset into buf */
    size_t len;
    bool null;
};

struct copy_fields {
    char *buf;
    size_t cap;
    struct copy_field *v;
    size_t vcap;
    int n;
    char *scratch; /* CSV unquoting */
    size_t scratch_cap;
};

void copy_fields_free(struct copy_fields *f);

/*
 * Splits one line (without its newline) into fields, in the spec's format.
 * Text format unescapes in place (line is changed). 0, or -1 when memory
 * runs out.
 */
int copy_split_row(const struct copy_spec *c, char *line, size_t n, struct copy_fields *f);

/* Appends one field of a COPY TO line, escaped for text or quoted for CSV. */
void copy_put_field(struct pgbuf *out, const struct copy_spec *c, const char *p, size_t n);

/* The SELECT a COPY TO runs, into q. */
void copy_query(const struct copy_spec *c, struct dp_buf *q);

#endif
