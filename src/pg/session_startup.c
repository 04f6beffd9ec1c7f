/*
 * session_startup.c -- the startup phase of a PostgreSQL connection: the
 * startup packet (an SSLRequest answered 'S' and TLS begun when the server
 * has a certificate, 'N' otherwise; GSS requests 'N'; cancel requests
 * acted on), the refusal of plaintext when TLS is required, protocol
 * negotiation, authentication (SCRAM-SHA-256 against the users file, or
 * trust on loopback without one), admission against the connection limit
 * (only once authenticated: until then the registry counts the connection
 * apart, under its deadline), the session's DuckDB connection, and the
 * startup parameters and PGOPTIONS as settings. Ends with BackendKeyData
 * and the first ReadyForQuery.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgcatalog.h"
#include "session_int.h"
#include "users.h"

#define STARTUP_MAX_PARAMS 64
#define STARTUP_MAX_PQ_OPTIONS 16

/* The parameters of a startup packet; the strings point into the packet. */
struct startup_params {
    int32_t code; /* the protocol version asked for */
    const char *database, *options;
    const char *keys[STARTUP_MAX_PARAMS], *vals[STARTUP_MAX_PARAMS];
    int n;
    const char *unknown_pq[STARTUP_MAX_PQ_OPTIONS]; /* _pq_.* protocol options, none of which we know */
    int nunknown;
};

/* The next space-separated item of an options string ('\\' escapes the next character) into item; "" at the end. */
static const char *next_option_item(const char *p, char *item, size_t size)
{
    size_t n = 0;
    while (isspace((unsigned char)*p))
        p++;
    while (*p && !isspace((unsigned char)*p)) {
        if (*p == '\\' && p[1])
            p++;
        if (n + 1 < size)
            item[n++] = *p;
        p++;
    }
    item[n] = 0;
    return p;
}

/* Applies one name=value of the options parameter ('-' in the name read as '_'). 0, or -1: the connection ends. */
static int apply_option(struct session *s, char *kv)
{
    char *eq = strchr(kv, '=');
    if (!eq) {
        pgconn_fatal(&s->pc, "42601", "invalid command-line argument for server process");
        return -1;
    }
    *eq = 0;
    for (char *q = kv; *q; q++)
        if (*q == '-')
            *q = '_';
    const struct pg_setting *d = settings_find(kv);
    if (!d) {
        pgconn_fatal(&s->pc, "42704", "unrecognized configuration parameter \"%s\"", kv);
        return -1;
    }
    if (settings_put(s, d, eq + 1) != 0) {
        pgconn_disconnect(&s->pc, "PGOPTIONS refused: %s", kv);
        return -1;
    }
    return 0;
}

/* Applies "-c name=value" and "--name=value" items of the options parameter. 0, or -1: the connection ends. */
static int apply_options(struct session *s, const char *opts)
{
    char item[512];
    bool expect_c = false;
    for (const char *p = next_option_item(opts, item, sizeof item); *item;
         p = next_option_item(p, item, sizeof item)) {
        char *kv = NULL;
        if (expect_c)
            kv = item;
        else if (!strcmp(item, "-c"))
            expect_c = true;
        else if (!strncmp(item, "-c", 2) || !strncmp(item, "--", 2))
            kv = item + 2;
        if (!kv)
            continue;
        expect_c = false;
        if (apply_option(s, kv) != 0)
            return -1;
    }
    return 0;
}

/* SCRAM-SHA-256 against the users file. 0, or -1: the connection ends. */
static int authenticate_scram(struct session *s)
{
    static const char mech[] = "SCRAM-SHA-256\0";
    const struct user *u = users_find(s->env->users, s->user);
    struct scram *sc = NULL;
    char *out = NULL;
    struct pgmsg m;
    int rc = -1;
    pgwire_auth(&s->pc.out, 10, mech, sizeof mech);
    if (pgconn_read(&s->pc, false, &m) != 0)
        return -1;
    struct pgreader r;
    pgreader_init(&r, &m);
    const char *name = pgreader_cstr(&r);
    int32_t len = pgreader_int32(&r);
    const char *data = len >= 0 ? pgreader_bytes(&r, (size_t)len) : NULL;
    if (m.type != 'p' || r.bad || !data || strcmp(name, "SCRAM-SHA-256") != 0) {
        pgconn_fatal(&s->pc, "08P01", "expected SASLInitialResponse for SCRAM-SHA-256");
        return -1;
    }
    if (users_scram_begin(s->env->users, s->user, data, (size_t)len, &sc, &out) != 0)
        goto fail;
    pgwire_auth(&s->pc.out, 11, out, strlen(out));
    free(out);
    out = NULL;
    if (pgconn_read(&s->pc, false, &m) != 0)
        goto done;
    if (m.type != 'p')
        goto fail;
    if (scram_finish(sc, m.body, m.len, &out) != 0)
        goto fail;
    pgwire_auth(&s->pc.out, 12, out, strlen(out));
    s->role = user_role(u);
    rc = 0;
    goto done;
fail:
    pgconn_fatal(&s->pc, "28P01", "password authentication failed for user \"%s\"", s->user);
done:
    free(out);
    scram_free(sc);
    return rc;
}

/* Reads the startup packet (answering SSL/GSS requests and acting on cancels). 0, or -1: the connection ends. */
static int read_startup(struct session *s, struct pgmsg *m, int32_t *code)
{
    for (;;) {
        if (pgconn_read(&s->pc, true, m) != 0)
            return -1;
        struct pgreader r;
        pgreader_init(&r, m);
        *code = pgreader_int32(&r);
        if (*code == PGWIRE_SSL_REQUEST && s->env->tls && !pgconn_has_tls(&s->pc)) {
            if (pgconn_start_tls(&s->pc, s->env->tls) != 0)
                return -1;
            continue;
        }
        if (*code == PGWIRE_SSL_REQUEST || *code == PGWIRE_GSSENC_REQUEST) {
            pgbuf_byte(&s->pc.out, 'N');
            continue;
        }
        if (*code == PGWIRE_CANCEL_REQUEST) {
            int32_t pid = pgreader_int32(&r), secret = pgreader_int32(&r);
            if (!r.bad)
                registry_cancel(s->env->registry, pid, secret);
            pgconn_disconnect(&s->pc, "a cancel request, done");
            return -1;
        }
        if ((*code >> 16) != 3) {
            pgconn_fatal(&s->pc, "0A000", "unsupported frontend protocol");
            return -1;
        }
        return 0;
    }
}

/* Reads the parameters of the startup packet; the user name goes into the session. 0, or -1: the connection ends. */
static int read_params(struct session *s, const struct pgmsg *m, struct startup_params *p)
{
    struct pgreader r;
    pgreader_init(&r, m);
    p->code = pgreader_int32(&r);
    for (;;) {
        const char *k = pgreader_cstr(&r);
        if (r.bad || !*k)
            break;
        const char *v = pgreader_cstr(&r);
        if (!strcmp(k, "user"))
            snprintf(s->user, sizeof s->user, "%s", v);
        else if (!strcmp(k, "database"))
            p->database = v;
        else if (!strcmp(k, "options"))
            p->options = v;
        else if (!strncmp(k, "_pq_.", 5)) {
            if (p->nunknown < STARTUP_MAX_PQ_OPTIONS)
                p->unknown_pq[p->nunknown++] = k;
        } else if (strcmp(k, "replication") != 0 && p->n < STARTUP_MAX_PARAMS) {
            p->keys[p->n] = k;
            p->vals[p->n++] = v;
        }
    }
    if (r.bad) {
        pgconn_fatal(&s->pc, "08P01", "invalid startup packet layout");
        return -1;
    }
    if (!s->user[0]) {
        pgconn_fatal(&s->pc, "28000", "no PostgreSQL user name specified in startup packet");
        return -1;
    }
    return 0;
}

/* NegotiateProtocolVersion, for a newer minor version or _pq_ options: 3.0 and none of them. */
static void negotiate_protocol(struct session *s, const struct startup_params *p)
{
    if ((p->code & 0xffff) == 0 && p->nunknown == 0)
        return;
    pgbuf_begin(&s->pc.out, 'v');
    pgbuf_int32(&s->pc.out, 3 << 16);
    pgbuf_int32(&s->pc.out, p->nunknown);
    for (int i = 0; i < p->nunknown; i++)
        pgbuf_cstr(&s->pc.out, p->unknown_pq[i]);
    pgbuf_end(&s->pc.out);
}

/*
 * Authentication, then admission: a connection takes one of the
 * max_connections slots only once it proved who it is. 0, or -1: the
 * connection ends.
 */
static int authenticate_and_admit(struct session *s, const struct startup_params *p)
{
    if (s->env->tls_required && !pgconn_has_tls(&s->pc)) {
        /* PostgreSQL's words for a hostssl-only pg_hba.conf, and what to do about it */
        pgconn_fatal(&s->pc, "28000",
                     "no encryption: this server accepts only TLS connections (user \"%s\" from %s); "
                     "connect with sslmode=require or verify-full",
                     s->user, s->peer);
        return -1;
    }
    if (p->database && *p->database && strcmp(p->database, "duckpond") != 0) {
        pgconn_fatal(&s->pc, "3D000", "database \"%s\" does not exist", p->database);
        return -1;
    }
    if (s->env->users) {
        if (authenticate_scram(s) != 0)
            return -1;
    } else if (!s->loopback) {
        pgconn_fatal(&s->pc, "28000", "connections from other hosts need a users file (--users)");
        return -1;
    } else {
        s->role = s->env->trust_role;
    }
    int rc = registry_admit(s->env->registry, &s->reg);
    if (rc == -2) {
        pgconn_disconnect(&s->pc, "%s", registry_end_reason(s->env->registry, &s->reg));
        return -1;
    }
    if (rc != 0) {
        pgconn_fatal(&s->pc, "53300", "sorry, too many clients already");
        return -1;
    }
    pgwire_auth(&s->pc.out, 0, NULL, 0);
    return 0;
}

/* The session's DuckDB connection, with the catalog overlay first on its search path. 0, or -1: the connection ends. */
static int connect_database(struct session *s)
{
    char err[256] = "";
    if (duckpond_connect(s->env->db, &s->conn) != DUCKPOND_OK) {
        pgconn_fatal(&s->pc, "58000", "could not open a database connection");
        return -1;
    }
    s->dcon = duckpond_conn_duckdb(s->conn);
    registry_set_dcon(&s->reg, s->dcon, s->conn);
    if (pgcatalog_session_init(s->dcon, err, sizeof err) != 0) {
        pgconn_fatal(&s->pc, "58000", "%s", err);
        return -1;
    }
    return 0;
}

/* The settings of the user, the startup parameters and PGOPTIONS. 0, or -1: the connection ends. */
static int apply_params(struct session *s, const struct startup_params *p)
{
    settings_put(s, settings_find("session_authorization"), s->user);
    settings_put(s, settings_find("is_superuser"), s->role == ACCESS_ADMIN ? "on" : "off");
    settings_put(s, settings_find("default_transaction_read_only"), s->role == ACCESS_RO ? "on" : "off");
    settings_report_defaults(s);
    for (int i = 0; i < p->n; i++) {
        const struct pg_setting *d = settings_find(p->keys[i]);
        if (!d) {
            pgconn_fatal(&s->pc, "42704", "unrecognized configuration parameter \"%s\"", p->keys[i]);
            return -1;
        }
        if (settings_put(s, d, p->vals[i]) != 0) {
            pgconn_disconnect(&s->pc, "startup parameter refused: %s", p->keys[i]);
            return -1;
        }
    }
    return p->options ? apply_options(s, p->options) : 0;
}

int session_startup(struct session *s)
{
    struct pgmsg m;
    int32_t code;
    struct startup_params p = {0};
    if (read_startup(s, &m, &code) != 0)
        return -1;
    /* the parameters point into the packet, and the reads of authentication
     * reuse the input buffer: they are read from a copy of their own */
    char *packet = malloc(m.len ? m.len : 1);
    if (!packet) {
        pgconn_fatal(&s->pc, "53200", "out of memory");
        return -1;
    }
    memcpy(packet, m.body, m.len);
    m.body = packet;
    int rc = -1;
    if (read_params(s, &m, &p) == 0) {
        negotiate_protocol(s, &p);
        if (authenticate_and_admit(s, &p) == 0 && connect_database(s) == 0 && apply_params(s, &p) == 0)
            rc = 0;
    }
    free(packet);
    if (rc != 0)
        return -1;
    pgwire_backend_key(&s->pc.out, s->reg.pid, s->reg.secret);
    pgwire_ready(&s->pc.out, TX_IDLE);
    return 0;
}
