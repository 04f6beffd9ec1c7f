/*
 * http_ilp.c -- the line protocol over HTTP.
 *
 * POST /write (InfluxDB v1, QuestDB) and POST /api/v2/write (InfluxDB v2)
 * take a body of lines, with ?precision=ns|us|ms|s (also n, u: v1's
 * spellings; default ns). InfluxDB's db, bucket and org parameters are
 * accepted and ignored: every measurement is a table of the one database.
 *
 * A request is one unit: its lines are parsed and gathered into writes
 * as the body arrives, but nothing is handed to the batcher until the
 * whole body has parsed; a bad line rejects the request with 400 and
 * {"code":"invalid","message":"line N: ...","line":N}, and none of its
 * lines is written (tables and columns its good lines created stay).
 * Otherwise the writes are submitted, each all or nothing, and the answer
 * is 204 once they are durable in the request's ack mode (Duckpond-Ack:
 * commit|journal, or ?ack=, else the server's --ilp-ack). No room in the
 * batcher's queue within its overload timeout: 503 with Retry-After.
 * A body sent with Content-Encoding: gzip (as InfluxDB's clients and
 * Telegraf send larger batches) is inflated as it arrives.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "clock.h"
#include "http_ilp.h"
#include "ilp_ingest.h"
#include "ilp_stream.h"
#include "metrics.h"

struct http_ilp {
    struct ilp_sink *sink;
    struct ilp_stream st;
    bool gzip, gzip_bad;
    z_stream z;
};

/* Inflates n bytes of a gzip body into the stream. */
static void feed_gzip(struct http_ilp *in, const char *p, size_t n)
{
    char out[64 * 1024];
    in->z.next_in = (Bytef *)p;
    in->z.avail_in = (uInt)n;
    while (!in->gzip_bad && (in->z.avail_in || in->z.avail_out == 0)) {
        in->z.next_out = (Bytef *)out;
        in->z.avail_out = sizeof out;
        int zr = inflate(&in->z, Z_NO_FLUSH);
        if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
            in->gzip_bad = true;
        ilp_stream_feed(&in->st, out, sizeof out - in->z.avail_out, dp_now_us() * 1000);
        if (zr == Z_STREAM_END || (zr == Z_BUF_ERROR && in->z.avail_out))
            break;
    }
}

/* Queues the line protocol's error answer: {"code", "message", "line"?}. */
static enum MHD_Result send_ilp_error(struct MHD_Connection *c, unsigned status, const char *code,
                                      const char *message, size_t line)
{
    struct dp_buf b = DP_BUF_INIT;
    dp_buf_str(&b, "{\"code\":");
    http_json_string(&b, code, strlen(code));
    dp_buf_str(&b, ",\"message\":");
    http_json_string(&b, message, strlen(message));
    if (line)
        dp_buf_printf(&b, ",\"line\":%zu", line);
    dp_buf_byte(&b, '}');
    return http_send_json(c, status, &b);
}

struct http_ilp *http_ilp_new(struct http_env *env, struct MHD_Connection *c, enum MHD_Result *ret)
{
    const struct ilp_options *o = ilp_env_options(env->opt.ilp);
    enum ilp_precision prec = ILP_NS;
    duckpond_ack ack;
    const char *asked;
    const char *p = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "precision");
    if (p && ilp_precision_parse(p, &prec) != 0) {
        *ret = send_ilp_error(c, MHD_HTTP_BAD_REQUEST, "invalid", "precision must be ns, us, ms or s", 0);
        return NULL;
    }
    if (http_request_ack(c, o->ack, &ack, &asked) != 0) {
        *ret =
            send_ilp_error(c, MHD_HTTP_BAD_REQUEST, "invalid", "the ack mode must be commit or journal", 0);
        return NULL;
    }
    struct http_ilp *in = calloc(1, sizeof *in);
    if (in)
        in->sink = ilp_sink_new(env->opt.ilp, prec, ack, true);
    if (!in || !in->sink) {
        free(in);
        *ret = send_ilp_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error", "out of memory", 0);
        return NULL;
    }
    ilp_stream_init(&in->st, in->sink, o->max_line);
    const char *enc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);
    if (enc && !strcasecmp(enc, "gzip")) {
        in->gzip = true;
        if (inflateInit2(&in->z, 16 + MAX_WBITS) != Z_OK)
            in->gzip_bad = true;
    }
    return in;
}

void http_ilp_feed(struct http_ilp *in, const char *p, size_t n)
{
    if (in->gzip)
        feed_gzip(in, p, n);
    else
        ilp_stream_feed(&in->st, p, n, dp_now_us() * 1000);
}

enum MHD_Result http_ilp_finish(struct http_ilp *in, struct MHD_Connection *c)
{
    if (in->gzip_bad) {
        metrics_error("22P02");
        return send_ilp_error(c, MHD_HTTP_BAD_REQUEST, "invalid", "the gzip body cannot be inflated", 0);
    }
    if (ilp_stream_end(&in->st, dp_now_us() * 1000)) {
        metrics_error("22P02");
        return send_ilp_error(c, MHD_HTTP_BAD_REQUEST, "invalid", in->st.why, in->st.bad_line);
    }
    metrics_statement("INSERT");
    int rc = ilp_sink_flush(in->sink, true);
    if (rc == DUCKPOND_OK)
        return http_send_buffer(c, MHD_HTTP_NO_CONTENT, "application/json", NULL, 0);
    const char *why = ilp_sink_why(in->sink);
    metrics_error(duckpond_sqlstate(rc, why));
    if (rc == DUCKPOND_OVERLOADED) {
        ilp_count_error(ILP_ERR_OVERLOADED);
        return send_ilp_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", why, 0);
    }
    if (rc == DUCKPOND_CONVERSION || rc == DUCKPOND_CONSTRAINT || rc == DUCKPOND_NOTFOUND)
        return send_ilp_error(c, MHD_HTTP_BAD_REQUEST, "invalid", why, 0);
    return send_ilp_error(c, http_status_for(rc), "internal error", why, 0);
}

void http_ilp_free(struct http_ilp *in)
{
    if (!in)
        return;
    if (in->gzip)
        inflateEnd(&in->z);
    ilp_stream_free(&in->st);
    ilp_sink_free(in->sink);
    free(in);
}

enum MHD_Result http_ilp_ping(struct MHD_Connection *c)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "X-Influxdb-Version", "duckpond");
    MHD_add_response_header(r, "X-Influxdb-Build", "OSS");
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_NO_CONTENT, r);
    MHD_destroy_response(r);
    return ret;
}
