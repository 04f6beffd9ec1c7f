/*
 * pgtypes.h -- DuckDB types as PostgreSQL sees them: type OIDs, the text
 * and binary encodings of result values (pgtypes_out.c) and the DataRow
 * messages that carry a result, and the decoding of Bind parameters into
 * DuckDB bindings (pgtypes.c).
 */
#ifndef DUCKPOND_PGTYPES_H
#define DUCKPOND_PGTYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "duckdb.h"
#include "duckpond.h"
#include "pgwire.h"

/* PostgreSQL type OIDs used here. */
enum {
    PGOID_BOOL = 16,
    PGOID_BYTEA = 17,
    PGOID_NAME = 19,
    PGOID_INT8 = 20,
    PGOID_INT2 = 21,
    PGOID_INT4 = 23,
    PGOID_TEXT = 25,
    PGOID_OID = 26,
    PGOID_JSON = 114,
    PGOID_FLOAT4 = 700,
    PGOID_FLOAT8 = 701,
    PGOID_UNKNOWN = 705,
    PGOID_BPCHAR = 1042,
    PGOID_VARCHAR = 1043,
    PGOID_DATE = 1082,
    PGOID_TIME = 1083,
    PGOID_TIMESTAMP = 1114,
    PGOID_TIMESTAMPTZ = 1184,
    PGOID_INTERVAL = 1186,
    PGOID_TIMETZ = 1266,
    PGOID_BIT = 1560,
    PGOID_NUMERIC = 1700,
    PGOID_UUID = 2950,
    PGOID_JSONB = 3802,
};

/* Days and microseconds from 1970-01-01 (DuckDB's epoch) to 2000-01-01 (PostgreSQL's binary epoch). */
#define PGTYPES_EPOCH_DAYS 10957
#define PGTYPES_EPOCH_US (10957LL * 86400LL * 1000000LL)

/*
 * Dates and timestamps between PostgreSQL's binary form (days and
 * microseconds since 2000-01-01; infinity and -infinity at the int32 and
 * int64 ends: MAX and MIN) and DuckDB's (since 1970-01-01; infinity and
 * -infinity at +MAX and -MAX). Each returns 0 with *out set, or -1 when
 * the value has no form on the other side (beyond its range): the epoch
 * shift never overflows, and a finite value never turns into an infinity.
 */
int pgtypes_date_from_pg(int32_t pg, int32_t *out);
int pgtypes_date_to_pg(int32_t days, int32_t *out);
int pgtypes_timestamp_from_pg(int64_t pg, int64_t *out);
int pgtypes_timestamp_to_pg(int64_t us, int64_t *out);

/* A uuid's 16 bytes as its text (36 characters and a NUL) into out. */
void pgtypes_uuid_text(const unsigned char *p, char *out);

/* The OID and typlen (-1: variable) a DuckDB type is reported as. */
uint32_t pgtypes_oid(duckdb_logical_type type, int16_t *typlen);

/* The OID of a parameter whose DuckDB type is id (0 when DuckDB left it open). */
uint32_t pgtypes_param_oid(duckdb_type id);

/* Whether type is DuckDB's JSON (an alias of VARCHAR), sent as json. */
bool pgtypes_is_json(duckdb_logical_type type);

/* Whether values of this type can be sent in binary format. */
bool pgtypes_has_binary(duckdb_logical_type type);

/*
 * Appends the value at row of vector v (of type type; the caller checked
 * it is not NULL) in PostgreSQL's text format, without a length word.
 * Returns 0, or -1 for a type with no encoder (nothing appended then).
 */
int pgtypes_text(struct pgbuf *b, duckdb_vector v, duckdb_logical_type type, idx_t row);

/* Whether row of v holds a value (not NULL). */
bool pgtypes_valid(duckdb_vector v, idx_t row);

/*
 * The encoders of a result's columns, each column's type resolved once
 * (DECIMAL scales, ENUM labels, the format it is sent in), so that a row
 * costs no DuckDB type calls. formats are the Bind message's result-format
 * codes: none (all text), one for every column, or one per column.
 * Returns NULL when memory runs out; pgtypes_row_free frees it.
 */
struct pgtypes_row;
struct pgtypes_row *pgtypes_row_new(duckdb_result *res, int nformats, const int16_t *formats);
void pgtypes_row_free(struct pgtypes_row *r);

/* Points the encoders at a chunk of the result; its rows can then be sent. */
void pgtypes_row_chunk(struct pgtypes_row *r, duckdb_data_chunk chunk);

/*
 * Appends row of the current chunk to b as one DataRow message. Returns
 * 0, or -1 with nothing appended and *bad_col set to the column whose
 * value has no encoder in its format. A failed allocation fails b, as
 * every pgbuf builder does.
 */
int pgtypes_data_row(struct pgbuf *b, struct pgtypes_row *r, idx_t row, int *bad_col);

/*
 * Binds parameter idx (1-based) of st from a Bind value: data/len (len -1
 * is NULL), format 0 text or 1 binary, oid the type the client declared in
 * Parse (0 if none). A text value for a parameter DuckDB could not type is
 * bound as BIGINT, DOUBLE or VARCHAR, whichever it reads as. Returns 0, or
 * -1 with a message in err (SQLSTATE 22P02 territory).
 */
int pgtypes_bind(duckdb_prepared_statement st, idx_t idx, uint32_t oid, int16_t format, const char *data,
                 int32_t len, char *err, size_t errlen);

/*
 * Decodes a Bind value into a batcher value. Text stays text (the batcher
 * casts it to the column's type); binary values are decoded by oid. Text
 * and bytea point into data, valid while the message is. Returns 0 or -1
 * with a message in err.
 */
int pgtypes_value(uint32_t oid, int16_t format, const char *data, int32_t len, duckpond_value *out,
                  char *scratch, size_t scratchlen, char *err, size_t errlen);

#endif
