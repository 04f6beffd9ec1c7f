/*
 * http_status.c -- the read-only GET endpoints of the HTTP API: the status
 * page at "/", /health (can the database answer, is it writable),
 * /metrics (Prometheus text, http_metrics.c) and /v1/status (each user
 * table with its row count, which the status page polls).
 *
 * A status page polls /metrics and /v1/status every second, so these are
 * cheap: a catalog look-up or two on a pooled connection, given back at
 * once.
 */
#include <stdlib.h>
#include <string.h>

#include "http_metrics.h"
#include "http_status.h"
#include "metrics.h"
#include "status_page.h"

#define STATUS_POOL_WAIT_MS 5000

enum MHD_Result http_status_page(struct MHD_Connection *c)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        strlen(status_page_html), (void *)status_page_html, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; script-src 'unsafe-inline'; "
                            "style-src 'unsafe-inline'");
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

enum MHD_Result http_status_metrics(struct http_env *env, struct MHD_Connection *c)
{
    char *text;
    size_t len;
    if (http_metrics_text(env->db, env->batcher, &text, &len) != DUCKPOND_OK)
        return http_send_error(c, 0, DUCKPOND_NOMEM, NULL, NULL);
    return http_send_buffer(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text, len);
}

/* Whether the database is read-only, from its catalog (*readonly 0 or 1). */
static int db_writable(duckpond_conn *conn, int64_t *readonly)
{
    return duckpond_query_int64(conn,
                                "SELECT readonly::INT FROM duckdb_databases() "
                                "WHERE database_name = current_database()",
                                readonly);
}

enum MHD_Result http_status_health(struct http_env *env, struct MHD_Connection *c)
{
    duckpond_conn *conn;
    int rc = duckpond_pool_get(env->pool, 1000, &conn);
    if (rc != DUCKPOND_OK)
        return http_send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, rc, NULL,
                               "no database connection is free to check health");
    int64_t readonly = 1;
    rc = db_writable(conn, &readonly);
    struct dp_buf b = DP_BUF_INIT;
    if (rc == DUCKPOND_OK) {
        dp_buf_printf(&b, "{\"status\":\"ok\",\"writable\":%s}", readonly ? "false" : "true");
        duckpond_pool_put(env->pool, conn);
        return http_send_json(c, MHD_HTTP_OK, &b);
    }
    dp_buf_str(&b, "{\"status\":\"unavailable\",\"writable\":false,\"message\":");
    const char *msg = duckpond_conn_errmsg(conn);
    http_json_string(&b, msg, strlen(msg));
    dp_buf_str(&b, "}");
    duckpond_pool_put(env->pool, conn);
    return http_send_json(c, MHD_HTTP_SERVICE_UNAVAILABLE, &b);
}

/* A VARCHAR cell of a chunk, as a NUL-terminated copy in out. */
static void chunk_text(duckdb_data_chunk ch, idx_t col, idx_t row, char *out, size_t n)
{
    duckdb_string_t *s =
        (duckdb_string_t *)duckdb_vector_get_data(duckdb_data_chunk_get_vector(ch, col)) + row;
    size_t len = duckdb_string_t_length(*s);
    if (len >= n)
        len = n - 1;
    memcpy(out, duckdb_string_t_data(s), len);
    out[len] = '\0';
}

/* {"tables": [{"schema", "name", "rows"}]}: each user table, counted. */
static int status_tables(duckpond_conn *conn, struct dp_buf *b)
{
    duckdb_result res;
    if (duckdb_query(duckpond_conn_duckdb(conn),
                     "SELECT schema_name, table_name FROM duckdb_tables() "
                     "WHERE database_name = current_database() AND NOT internal "
                     "AND NOT starts_with(table_name, 'duckpond_') " /* our bookkeeping */
                     "ORDER BY 1, 2 LIMIT 200",
                     &res) != DuckDBSuccess) {
        int rc = duckpond_conn_fail(conn, duckdb_result_error_type(&res), duckdb_result_error(&res));
        duckdb_destroy_result(&res);
        return rc;
    }
    dp_buf_str(b, "{\"tables\":[");
    int n = 0;
    duckdb_data_chunk ch;
    while ((ch = duckdb_fetch_chunk(res)) != NULL) {
        for (idx_t i = 0; i < duckdb_data_chunk_get_size(ch); i++) {
            char schema[256], name[256];
            chunk_text(ch, 0, i, schema, sizeof schema);
            chunk_text(ch, 1, i, name, sizeof name);
            struct dp_buf q = DP_BUF_INIT;
            dp_buf_str(&q, "SELECT count(*) FROM ");
            dp_sql_ident(&q, schema);
            dp_buf_str(&q, ".");
            dp_sql_ident(&q, name);
            int64_t rows = -1;
            if (q.data && duckpond_query_int64(conn, q.data, &rows) != DUCKPOND_OK)
                rows = -1;
            dp_buf_free(&q);
            dp_buf_str(b, n++ ? ",{\"schema\":" : "{\"schema\":");
            http_json_string(b, schema, strlen(schema));
            dp_buf_str(b, ",\"name\":");
            http_json_string(b, name, strlen(name));
            dp_buf_printf(b, ",\"rows\":%lld}", (long long)rows);
        }
        duckdb_destroy_data_chunk(&ch);
    }
    duckdb_destroy_result(&res);
    dp_buf_str(b, "]");
    metrics_report_json(b);
    dp_buf_str(b, "}");
    return DUCKPOND_OK;
}

enum MHD_Result http_status_tables(struct http_env *env, struct MHD_Connection *c)
{
    duckpond_conn *conn;
    int rc = duckpond_pool_get(env->pool, STATUS_POOL_WAIT_MS, &conn);
    if (rc != DUCKPOND_OK)
        return http_send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, DUCKPOND_OVERLOADED, NULL,
                               "every database connection is busy; try again");
    struct dp_buf b = DP_BUF_INIT;
    rc = status_tables(conn, &b);
    if (rc != DUCKPOND_OK) {
        dp_buf_free(&b);
        enum MHD_Result ret = http_send_error(c, 0, rc, NULL, duckpond_conn_errmsg(conn));
        duckpond_pool_put(env->pool, conn);
        return ret;
    }
    duckpond_pool_put(env->pool, conn);
    return http_send_json(c, MHD_HTTP_OK, &b);
}
