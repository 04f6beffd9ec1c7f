/*
 * duckvec.h -- reading values out of DuckDB's vectors, for every part that
 * turns result chunks into text or bytes (the PostgreSQL encoders and the
 * HTTP renderer). Header-only: each helper is a few loads on the vector's
 * data as DuckDB lays it out, with no call into DuckDB but the validity
 * mask's.
 */
#ifndef DUCKPOND_DUCKVEC_H
#define DUCKPOND_DUCKVEC_H

#include <stdbool.h>
#include <stdint.h>

#include "duckdb.h"
#include "numfmt.h"

/* Whether a type is one of DuckDB's integers, signed or not, 8 to 128 bits. */
static inline bool dp_type_is_integer(duckdb_type t)
{
    switch (t) {
    case DUCKDB_TYPE_TINYINT:
    case DUCKDB_TYPE_SMALLINT:
    case DUCKDB_TYPE_INTEGER:
    case DUCKDB_TYPE_BIGINT:
    case DUCKDB_TYPE_HUGEINT:
    case DUCKDB_TYPE_UTINYINT:
    case DUCKDB_TYPE_USMALLINT:
    case DUCKDB_TYPE_UINTEGER:
    case DUCKDB_TYPE_UBIGINT:
    case DUCKDB_TYPE_UHUGEINT: return true;
    default: return false;
    }
}

/* Whether row of vector v holds a value (not NULL). */
static inline bool dp_vec_valid(duckdb_vector v, idx_t row)
{
    uint64_t *validity = duckdb_vector_get_validity(v);
    return !validity || (validity[row / 64] >> (row % 64)) & 1;
}

/* A HUGEINT as the compiler's 128-bit integer. */
static inline __int128 dp_hugeint_i128(duckdb_hugeint h)
{
    return (__int128)((unsigned __int128)(uint64_t)h.upper << 64 | h.lower);
}

/* A DECIMAL's stored integer at row, for any storage width (internal: its storage type). */
static inline __int128 dp_vec_decimal_raw(duckdb_type internal, const void *data, idx_t row)
{
    switch (internal) {
    case DUCKDB_TYPE_SMALLINT: return ((const int16_t *)data)[row];
    case DUCKDB_TYPE_INTEGER: return ((const int32_t *)data)[row];
    case DUCKDB_TYPE_BIGINT: return ((const int64_t *)data)[row];
    default: return dp_hugeint_i128(((const duckdb_hugeint *)data)[row]);
    }
}

/* An ENUM's index into its dictionary at row (internal: its storage type). */
static inline uint64_t dp_vec_enum_index(duckdb_type internal, const void *data, idx_t row)
{
    switch (internal) {
    case DUCKDB_TYPE_UTINYINT: return ((const uint8_t *)data)[row];
    case DUCKDB_TYPE_USMALLINT: return ((const uint16_t *)data)[row];
    default: return ((const uint32_t *)data)[row];
    }
}

/*
 * An integer of a machine width (TINYINT .. UBIGINT) at row as decimal
 * text in out (at least 21 bytes, not NUL-terminated). Its length, or 0
 * when id is not such a type.
 */
static inline size_t dp_vec_int_text(duckdb_type id, const void *data, idx_t row, char *out)
{
    switch (id) {
    case DUCKDB_TYPE_TINYINT: return numfmt_i64(out, ((const int8_t *)data)[row]);
    case DUCKDB_TYPE_SMALLINT: return numfmt_i64(out, ((const int16_t *)data)[row]);
    case DUCKDB_TYPE_INTEGER: return numfmt_i64(out, ((const int32_t *)data)[row]);
    case DUCKDB_TYPE_BIGINT: return numfmt_i64(out, ((const int64_t *)data)[row]);
    case DUCKDB_TYPE_UTINYINT: return numfmt_u64(out, ((const uint8_t *)data)[row]);
    case DUCKDB_TYPE_USMALLINT: return numfmt_u64(out, ((const uint16_t *)data)[row]);
    case DUCKDB_TYPE_UINTEGER: return numfmt_u64(out, ((const uint32_t *)data)[row]);
    case DUCKDB_TYPE_UBIGINT: return numfmt_u64(out, ((const uint64_t *)data)[row]);
    default: return 0;
    }
}

#endif
