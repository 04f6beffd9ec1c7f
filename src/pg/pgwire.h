/*
 * pgwire.h -- PostgreSQL wire protocol v3: an incremental message parser
 * with a size cap per message type, a reader for message bodies, and a
 * buffer that builds messages whole before they are written.
 */
#ifndef DUCKPOND_PGWIRE_H
#define DUCKPOND_PGWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Codes of the first packet a client sends (no type byte). */
#define PGWIRE_PROTO_V3 196608 /* 3.0 */
#define PGWIRE_SSL_REQUEST 80877103
#define PGWIRE_GSSENC_REQUEST 80877104
#define PGWIRE_CANCEL_REQUEST 80877102

#define PGWIRE_STARTUP_MAX 10000 /* as PostgreSQL's MAX_STARTUP_PACKET_LENGTH */

/* ------------------------------------------------------------- parsing */

/* A parsed message; body points into the caller's input buffer. */
struct pgmsg {
    char type;        /* 0 for a startup-phase packet */
    const char *body; /* the bytes after the length field */
    size_t len;       /* body length */
};

enum { PGWIRE_NEED_MORE = 0, PGWIRE_BAD = -1 };

/*
 * Parses one message from data[0..len): returns the bytes it takes (> 0)
 * with *msg filled in, PGWIRE_NEED_MORE with *need set to the whole
 * message's size once the header is known (else 0), or PGWIRE_BAD with a
 * static reason in *err (unknown type, length below 4, above the type's cap).
 * startup selects the first-packet form (no type byte).
 */
long pgwire_parse(const char *data, size_t len, bool startup, struct pgmsg *msg, size_t *need,
                  const char **err);

/* The largest body accepted for a message type from a client, 0 if unknown. */
size_t pgwire_max_body(char type);

/* Sets the cap on Query, Parse, Bind and CopyData bodies (default 64 MiB). */
void pgwire_set_max_message(size_t bytes);

/* A cursor over a message body; a read past the end sets bad. */
struct pgreader {
    const char *p;
    size_t left;
    bool bad;
};

void pgreader_init(struct pgreader *r, const struct pgmsg *m);
int8_t pgreader_int8(struct pgreader *r);
int16_t pgreader_int16(struct pgreader *r);
int32_t pgreader_int32(struct pgreader *r);
/* A NUL-terminated string inside the body ("" and bad when there is none). */
const char *pgreader_cstr(struct pgreader *r);
/* n bytes (NULL and bad when fewer are left). */
const char *pgreader_bytes(struct pgreader *r, size_t n);

/* ------------------------------------------------------------ building */

/*
 * An output buffer: a struct dp_buf (buf.h) that messages are appended to
 * whole (pgbuf_begin .. pgbuf_end); a failed allocation poisons it
 * (failed), checked once at the end. buf is what dp_buf_* calls take; the
 * same bytes are also reachable as data, len and failed by name, for the
 * code that reads them (pgwire.c checks that the two views line up).
 */
struct pgbuf {
    union {
        struct dp_buf buf;
        struct { /* dp_buf's fields, in its order */
            char *data;
            size_t len, cap, limit;
            bool failed;
        };
    };
    size_t msg_start; /* offset of the message being built */
};

void pgbuf_init(struct pgbuf *b);
void pgbuf_free(struct pgbuf *b);
/* Empties the buffer, giving back memory above keep bytes. */
void pgbuf_clear(struct pgbuf *b, size_t keep);
void pgbuf_reserve(struct pgbuf *b, size_t more);

void pgbuf_begin(struct pgbuf *b, char type);
void pgbuf_end(struct pgbuf *b);
/* Drops the message being built (an error half-way through). */
void pgbuf_abort(struct pgbuf *b);

void pgbuf_byte(struct pgbuf *b, char c);
void pgbuf_int16(struct pgbuf *b, int16_t v);
void pgbuf_int32(struct pgbuf *b, int32_t v);
void pgbuf_int64(struct pgbuf *b, int64_t v);
void pgbuf_bytes(struct pgbuf *b, const void *p, size_t n);
void pgbuf_str(struct pgbuf *b, const char *s);  /* without the NUL */
void pgbuf_cstr(struct pgbuf *b, const char *s); /* with the NUL */
void pgbuf_printf(struct pgbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* An int32 length placeholder; pgbuf_patch_len fills in what followed. */
size_t pgbuf_len_placeholder(struct pgbuf *b);
void pgbuf_patch_len(struct pgbuf *b, size_t at);

/* Whole messages. */
void pgwire_error(struct pgbuf *b, const char *severity, const char *sqlstate, const char *msg,
                  const char *detail, const char *hint);
void pgwire_notice(struct pgbuf *b, const char *sqlstate, const char *msg);
void pgwire_auth(struct pgbuf *b, int32_t code, const char *data, size_t len);
void pgwire_param_status(struct pgbuf *b, const char *name, const char *value);
void pgwire_backend_key(struct pgbuf *b, int32_t pid, int32_t secret);
void pgwire_ready(struct pgbuf *b, char status);
void pgwire_command_complete(struct pgbuf *b, const char *tag);
void pgwire_empty(struct pgbuf *b, char type); /* a message with no body */

#endif
