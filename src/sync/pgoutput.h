/*
 * pgoutput.h -- PostgreSQL's logical replication stream, decoded without
 * any I/O: the frames of the streaming replication protocol (XLogData 'w',
 * primary keepalive 'k') and the pgoutput messages inside them (protocol
 * version 1: Begin, Commit, Origin, Relation, Type, Insert, Update,
 * Delete, Truncate, Message), and the standby status update we answer
 * with.
 *
 * A decoded message points into the bytes it was decoded from (names and
 * column values are not copied): it is valid while those bytes are. The
 * arrays it holds (columns, tuple values, truncated relations) are grown
 * once and reused by the next decode into the same struct.
 */
#ifndef DUCKPOND_PGOUTPUT_H
#define DUCKPOND_PGOUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A frame of the replication COPY stream. */
struct pgo_frame {
    char kind;            /* 'w' XLogData or 'k' keepalive */
    uint64_t wal_start;   /* 'w': the LSN the data starts at */
    uint64_t wal_end;     /* the server's current end of WAL */
    int64_t send_time;    /* microseconds since 2000-01-01 */
    bool reply_requested; /* 'k': the server wants a status update now */
    const uint8_t *data;  /* 'w': the pgoutput message */
    size_t len;
};

/* One column value of a TupleData. */
struct pgo_value {
    char kind;        /* 'n' null, 'u' unchanged TOASTed value (not sent), 't' text */
    const char *data; /* 't': the text, len bytes, not NUL-terminated */
    uint32_t len;
};

struct pgo_tuple {
    int ncols;
    struct pgo_value *vals;
    size_t cap;
};

/* A column of a Relation message. */
struct pgo_relcol {
    bool key;         /* part of the replica identity */
    const char *name; /* NUL-terminated, in the message */
    uint32_t type;    /* the type's OID */
    int32_t typmod;   /* atttypmod; -1 when none */
};

enum pgo_kind {
    PGO_BEGIN = 'B',
    PGO_COMMIT = 'C',
    PGO_ORIGIN = 'O',
    PGO_RELATION = 'R',
    PGO_TYPE = 'Y',
    PGO_INSERT = 'I',
    PGO_UPDATE = 'U',
    PGO_DELETE = 'D',
    PGO_TRUNCATE = 'T',
    PGO_MESSAGE = 'M',
};

struct pgo_msg {
    enum pgo_kind kind;
    /* Begin: final_lsn, commit_time, xid. Commit: lsn (the commit's), end_lsn, commit_time. */
    uint64_t lsn, end_lsn;
    int64_t commit_time;
    uint32_t xid;
    /* Relation, Insert, Update, Delete, Type: relid (the type's OID for Type). */
    uint32_t relid;
    const char *nspname, *relname; /* Relation, Type */
    char replident;                /* Relation: 'd' default, 'n' nothing, 'f' full, 'i' index */
    int ncols;                     /* Relation */
    struct pgo_relcol *cols;
    size_t cols_cap;
    /* Update, Delete: 'K' (the old key), 'O' (the whole old row), or 0 (none sent). */
    char old_kind;
    struct pgo_tuple old_tuple, new_tuple; /* Insert: new; Update: [old] new; Delete: old */
    /* Truncate: the relations and the options (1 cascade, 2 restart identity). */
    int nrelids;
    uint32_t *relids;
    size_t relids_cap;
    uint8_t truncate_flags;
};

/*
 * Decodes one CopyData payload of the replication stream. 0, or -1 with
 * the reason in err (an unknown kind, a short frame).
 */
int pgo_frame_decode(const uint8_t *p, size_t n, struct pgo_frame *f, char *err, size_t errlen);

/*
 * Decodes one pgoutput message (the data of an XLogData frame) into *m,
 * reusing its arrays. 0, or -1 with the reason in err: the message is
 * short, a string is not terminated, a count is negative or past what the
 * bytes can hold, or the kind is unknown. Never reads past n.
 */
int pgo_decode(const uint8_t *p, size_t n, struct pgo_msg *m, char *err, size_t errlen);

/* Frees the arrays of a message (not the message itself). */
void pgo_msg_free(struct pgo_msg *m);

/* Size of a standby status update. */
#define PGO_STATUS_LEN 34

/*
 * Writes a standby status update ('r'): the positions written, flushed
 * and applied, now in microseconds since 2000-01-01, and whether we ask
 * the server to answer at once. Returns PGO_STATUS_LEN.
 */
size_t pgo_status_encode(uint8_t out[PGO_STATUS_LEN], uint64_t written, uint64_t flushed, uint64_t applied,
                         int64_t now, bool reply);

/* Microseconds from 1970-01-01 (Unix) to 2000-01-01 (PostgreSQL's epoch). */
#define PGO_EPOCH_OFFSET_US 946684800000000LL

/* An LSN as PostgreSQL writes it, "16/B374D848"; out holds at least 20 bytes. */
void pgo_lsn_format(uint64_t lsn, char *out, size_t n);

/* Parses "X/Y" into *lsn. 0, or -1 when the text is not an LSN. */
int pgo_lsn_parse(const char *s, uint64_t *lsn);

#endif
