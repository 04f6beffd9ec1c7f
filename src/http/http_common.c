/*
 * http_common.c -- the bottom of the HTTP API: the clock, the status of
 * each duckpond error class, the error and JSON answers every endpoint
 * sends, and JSON-string and CSV-field quoting over struct dp_buf.
 *
 * An answer built here is whole before it is queued (http_send_buffer),
 * so an error half-way never leaves half an answer on the wire.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "http_common.h"
#include "metrics.h"

int64_t http_now_ms(void)
{
    return dp_now_us() / 1000;
}

unsigned http_status_for(int status)
{
    switch (status) {
    case DUCKPOND_OK: return MHD_HTTP_OK;
    case DUCKPOND_MISUSE:
    case DUCKPOND_SYNTAX:
    case DUCKPOND_CONVERSION: return MHD_HTTP_BAD_REQUEST;
    case DUCKPOND_NOTFOUND: return MHD_HTTP_NOT_FOUND;
    case DUCKPOND_READONLY: return MHD_HTTP_FORBIDDEN;
    case DUCKPOND_CONFLICT:
    case DUCKPOND_CONSTRAINT: return MHD_HTTP_CONFLICT;
    case DUCKPOND_OVERLOADED: return MHD_HTTP_TOO_MANY_REQUESTS;
    case DUCKPOND_INTERRUPTED:
    case DUCKPOND_TIMEOUT: return MHD_HTTP_GATEWAY_TIMEOUT;
    case DUCKPOND_LOCKED:
    case DUCKPOND_CLOSED:
    case DUCKPOND_INVALIDATED: return MHD_HTTP_SERVICE_UNAVAILABLE;
    default: return MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
}

enum MHD_Result http_send_buffer(struct MHD_Connection *c, unsigned status, const char *content_type,
                                 char *data, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(data);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"duckpond\"");
    if (status == MHD_HTTP_TOO_MANY_REQUESTS || status == MHD_HTTP_SERVICE_UNAVAILABLE)
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

enum MHD_Result http_send_json(struct MHD_Connection *c, unsigned status, struct dp_buf *b)
{
    dp_buf_byte(b, '\n');
    size_t len;
    char *data = dp_buf_take(b, &len);
    if (!data)
        return MHD_NO;
    return http_send_buffer(c, status, "application/json", data, len);
}

void http_error_member(struct dp_buf *b, const char *sqlstate, const char *message)
{
    dp_buf_str(b, "\"error\":{\"sqlstate\":");
    http_json_string(b, sqlstate, strlen(sqlstate));
    dp_buf_str(b, ",\"message\":");
    http_json_string(b, message, strlen(message));
    dp_buf_byte(b, '}');
}

enum MHD_Result http_send_error(struct MHD_Connection *c, unsigned status, int code, const char *sqlstate,
                                const char *message)
{
    if (!message)
        message = duckpond_strerror(code);
    if (!sqlstate)
        sqlstate = duckpond_sqlstate(code, message);
    if (!status)
        status = http_status_for(code);
    metrics_error(sqlstate);
    struct dp_buf b = DP_BUF_INIT;
    dp_buf_byte(&b, '{');
    http_error_member(&b, sqlstate, message);
    dp_buf_byte(&b, '}');
    return http_send_json(c, status, &b);
}

void http_json_string(struct dp_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (!dp_buf_reserve(b, n + 2))
        return;
    dp_buf_byte(b, '"');
    size_t run = 0; /* bytes copied as they are, added in one go */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
            continue;
        dp_buf_add(b, s + run, i - run);
        run = i + 1;
        char esc[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
        switch (c) {
        case '"': dp_buf_add(b, "\\\"", 2); break;
        case '\\': dp_buf_add(b, "\\\\", 2); break;
        case '\n': dp_buf_add(b, "\\n", 2); break;
        case '\r': dp_buf_add(b, "\\r", 2); break;
        case '\t': dp_buf_add(b, "\\t", 2); break;
        default: dp_buf_add(b, esc, 6); break;
        }
    }
    dp_buf_add(b, s + run, n - run);
    dp_buf_byte(b, '"');
}

void http_csv_field(struct dp_buf *b, const char *s, size_t n)
{
    bool quote = n == 0 || memchr(s, ',', n) || memchr(s, '"', n) || memchr(s, '\n', n) || memchr(s, '\r', n);
    if (!quote) {
        dp_buf_add(b, s, n);
        return;
    }
    dp_buf_byte(b, '"');
    const char *p = s, *end = s + n, *q;
    while ((q = memchr(p, '"', (size_t)(end - p))) != NULL) {
        dp_buf_add(b, p, (size_t)(q - p) + 1);
        dp_buf_byte(b, '"');
        p = q + 1;
    }
    dp_buf_add(b, p, (size_t)(end - p));
    dp_buf_byte(b, '"');
}

int http_request_ack(struct MHD_Connection *c, duckpond_ack dflt, duckpond_ack *out, const char **asked)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Duckpond-Ack");
    if (!v)
        v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "ack");
    *out = dflt;
    *asked = v;
    if (!v)
        return 0;
    if (!strcasecmp(v, "commit"))
        *out = DUCKPOND_ACK_COMMIT;
    else if (!strcasecmp(v, "journal"))
        *out = DUCKPOND_ACK_JOURNAL;
    else
        return -1;
    return 0;
}
