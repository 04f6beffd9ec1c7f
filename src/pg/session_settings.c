/*
 * session_settings.c -- the settings a session keeps itself: SET, SHOW,
 * RESET, startup parameters and PGOPTIONS.
 *
 * DuckDB has settings of its own, under other names; the ones here are
 * PostgreSQL's that clients send or ask for (client_encoding, DateStyle,
 * statement_timeout, ...) and duckpond's own (duckpond.batch,
 * duckpond.ack, duckpond.write_lane). A session stores only the values it changed; the rest
 * are the defaults of the table below. The few values that the statement
 * path consults on every Execute are re-read into the session after each
 * change (settings_refresh), not looked up each time.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "session_int.h"

static const struct pg_setting pg_settings[] = {
    {"application_name", "", true},
    {"client_encoding", "UTF8", true},
    {"DateStyle", "ISO, MDY", true},
    {"IntervalStyle", "postgres", true},
    {"TimeZone", "UTC", true},
    {"integer_datetimes", "on", true},
    {"standard_conforming_strings", "on", true},
    {"server_version", SESSION_SERVER_VERSION, true},
    {"server_encoding", "UTF8", true},
    {"is_superuser", "on", true},
    {"session_authorization", "", true},
    {"default_transaction_read_only", "off", true},
    {"in_hot_standby", "off", true},
    {"server_version_num", "160000", false},
    {"extra_float_digits", "1", false},
    {"search_path", "\"$user\", public", false},
    {"statement_timeout", "0", false},
    {"lock_timeout", "0", false},
    {"idle_in_transaction_session_timeout", "0", false},
    {"client_min_messages", "notice", false},
    {"transaction_isolation", "repeatable read", false},
    {"default_transaction_isolation", "repeatable read", false},
    {"transaction_read_only", "off", false},
    {"max_identifier_length", "63", false},
    {"max_connections", "1000", false},
    {"synchronous_commit", "on", false},
    {"row_security", "on", false},
    {"escape_string_warning", "on", false},
    {"xmloption", "content", false},
    {"bytea_output", "hex", false},
    {"check_function_bodies", "on", false},
    {"default_tablespace", "", false},
    {"default_table_access_method", "heap", false},
    {"work_mem", "4MB", false},
    {"jit", "off", false},
    {"lc_messages", "C", false},
    {"lc_monetary", "C", false},
    {"lc_numeric", "C", false},
    {"lc_time", "C", false},
    {"datestyle", NULL, false}, /* aliases resolved by case-insensitive lookup */
    {"duckpond.batch", "on", false},
    {"duckpond.ack", "commit", false},     /* the default is the server's --ack */
    {"duckpond.write_lane", "off", false}, /* the default is the server's --write-lane */
};

#define NSETTINGS (sizeof pg_settings / sizeof pg_settings[0])

const struct pg_setting *settings_find(const char *name)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (pg_settings[i].def && strcasecmp(pg_settings[i].name, name) == 0)
            return &pg_settings[i];
    return NULL;
}

/* A value the session set itself (not a default), or NULL. */
static const char *get_local(struct session *s, const char *name)
{
    for (struct setting *x = s->settings; x; x = x->next)
        if (strcasecmp(x->name, name) == 0)
            return x->value;
    return NULL;
}

const char *settings_get(struct session *s, const char *name)
{
    const char *v = get_local(s, name);
    if (v)
        return v;
    if (strcasecmp(name, "duckpond.ack") == 0)
        return duckpond_ack_name(s->env->ack);
    if (strcasecmp(name, "idle_in_transaction_session_timeout") == 0 && s->env->idle_tx_timeout)
        return s->env->idle_tx_timeout; /* the server's --idle-in-transaction-session-timeout */
    if (strcasecmp(name, "duckpond.write_lane") == 0)
        return s->env->write_lane ? "on" : "off";
    const struct pg_setting *d = settings_find(name);
    return d ? d->def : NULL;
}

/*
 * A duration as PostgreSQL takes statement_timeout: a whole number with
 * an optional unit (ms, s, min, h, d; none means ms), in milliseconds, or
 * -1. 0 turns the timeout off.
 */
static int64_t parse_duration_ms(const char *v)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {
        {"", 1}, {"ms", 1}, {"s", 1000}, {"min", 60000}, {"h", 3600000}, {"d", 86400000},
    };
    char *end;
    errno = 0;
    long long n = v ? strtoll(v, &end, 10) : -1;
    if (!v || end == v || n < 0 || errno)
        return -1;
    while (*end == ' ')
        end++;
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
        if (strcasecmp(end, units[i].unit) == 0)
            return n <= INT64_MAX / units[i].ms ? n * units[i].ms : -1;
    return -1;
}

/* An ack mode a session may choose: commit or journal (queued is the library's alone). */
static int ack_parse(const char *name, duckpond_ack *out)
{
    duckpond_ack ack;
    if (duckpond_ack_parse(name, &ack) != 0 || ack == DUCKPOND_ACK_QUEUED)
        return -1;
    *out = ack;
    return 0;
}

/* A boolean setting's value as PostgreSQL spells it (on, true, yes, 1 and their opposites), or -1. */
static int parse_bool(const char *v)
{
    static const char *const yes[] = {"on", "true", "yes", "1"}, *const no[] = {"off", "false", "no", "0"};
    for (size_t i = 0; v && i < sizeof yes / sizeof *yes; i++) {
        if (strcasecmp(v, yes[i]) == 0)
            return 1;
        if (strcasecmp(v, no[i]) == 0)
            return 0;
    }
    return -1;
}

void settings_refresh(struct session *s)
{
    s->settings_synced = false;
    s->batch_on = parse_bool(settings_get(s, "duckpond.batch")) == 1;
    s->lane_on = parse_bool(settings_get(s, "duckpond.write_lane")) == 1;
    int64_t lock_timeout = parse_duration_ms(settings_get(s, "lock_timeout"));
    s->lock_timeout_ms = lock_timeout > 0 ? lock_timeout : 0;
    if (ack_parse(settings_get(s, "duckpond.ack"), &s->ack) != 0)
        s->ack = DUCKPOND_ACK_COMMIT;
    int64_t timeout = parse_duration_ms(settings_get(s, "statement_timeout"));
    s->reg.statement_timeout_ms = timeout > 0 ? timeout : 0;
    timeout = parse_duration_ms(settings_get(s, "idle_in_transaction_session_timeout"));
    s->idle_tx_timeout_ms = timeout > 0 ? timeout : 0;
}

/*
 * Checks a value of duckpond.ack and gives its canonical name in *out:
 * 0, or -1 with a 22023 error queued (an unknown mode, or journal on a
 * server without a journal).
 */
static int ack_check(struct session *s, const char *value, const char **out)
{
    duckpond_ack ack;
    if (ack_parse(value, &ack) != 0) {
        session_error(s, "22023",
                      "invalid value for parameter \"duckpond.ack\": \"%s\" (expected commit or journal)",
                      value);
        return -1;
    }
    if (ack == DUCKPOND_ACK_JOURNAL && !s->env->journal) {
        session_error(s, "22023", "ack mode journal is not available: this server runs without a journal");
        return -1;
    }
    *out = duckpond_ack_name(ack);
    return 0;
}

/* Checks (and for some, normalises) a value about to be stored: 0, or -1 with an error queued. */
static int value_check(struct session *s, const struct pg_setting *d, const char **value)
{
    const char *v = *value;
    if (strcasecmp(d->name, "client_encoding") == 0) {
        if (v && strcasecmp(v, "UTF8") != 0 && strcasecmp(v, "UTF-8") != 0 && strcasecmp(v, "UNICODE") != 0 &&
            strcasecmp(v, "SQL_ASCII") != 0) {
            session_error(s, "22023", "invalid value for parameter \"client_encoding\": \"%s\"", v);
            return -1;
        }
        *value = "UTF8"; /* everything DuckDB holds is UTF-8, RESET included */
        return 0;
    }
    if (!v)
        return 0;
    if (strcasecmp(d->name, "duckpond.ack") == 0)
        return ack_check(s, v, value);
    if ((strcasecmp(d->name, "statement_timeout") == 0 || strcasecmp(d->name, "lock_timeout") == 0 ||
         strcasecmp(d->name, "idle_in_transaction_session_timeout") == 0) &&
        parse_duration_ms(v) < 0) {
        session_error(s, "22023",
                      "invalid value for parameter \"%s\": \"%s\" "
                      "(expected milliseconds, or a number with ms, s, min, h or d)",
                      d->name, v);
        return -1;
    }
    if (strcasecmp(d->name, "duckpond.write_lane") == 0) {
        if (parse_bool(v) < 0) {
            session_error(s, "22023",
                          "invalid value for parameter \"duckpond.write_lane\": \"%s\" (expected on or off)",
                          v);
            return -1;
        }
        *value = parse_bool(v) ? "on" : "off";
    }
    return 0;
}

static void setting_free(struct setting *x)
{
    free(x->name);
    free(x->value);
    free(x);
}

int settings_put(struct session *s, const struct pg_setting *d, const char *value)
{
    if (value_check(s, d, &value) != 0)
        return -1;
    struct setting **pp = &s->settings;
    while (*pp && strcasecmp((*pp)->name, d->name) != 0)
        pp = &(*pp)->next;
    if (*pp) {
        struct setting *old = *pp;
        *pp = old->next;
        setting_free(old);
    }
    if (value) {
        struct setting *x = calloc(1, sizeof *x);
        if (!x || !(x->name = strdup(d->name)) || !(x->value = strdup(value))) {
            if (x)
                setting_free(x);
            session_error(s, "53200", "out of memory");
            return -1;
        }
        x->next = s->settings;
        s->settings = x;
    }
    settings_refresh(s);
    if (d->report)
        pgwire_param_status(&s->pc.out, d->name, settings_get(s, d->name));
    return 0;
}

void settings_free(struct session *s)
{
    while (s->settings) {
        struct setting *x = s->settings;
        s->settings = x->next;
        setting_free(x);
    }
}

void settings_reset_all(struct session *s)
{
    settings_free(s);
    settings_refresh(s);
}

int settings_sync_duckdb(struct session *s)
{
    /* DuckDB's own answer stays for the names it keeps itself */
    static const char *const duckdb_owns[] = {"TimeZone", "search_path"};
    if (s->settings_synced)
        return 0;
    struct dp_buf sql = DP_BUF_INIT;
    dp_buf_str(&sql, "SET VARIABLE duckpond_settings = MAP {");
    bool first = true;
    for (size_t i = 0; i < NSETTINGS; i++) {
        const char *name = pg_settings[i].name, *value = settings_get(s, name);
        bool owned = false;
        for (size_t k = 0; k < sizeof duckdb_owns / sizeof *duckdb_owns; k++)
            owned = owned || !strcasecmp(name, duckdb_owns[k]);
        if (!pg_settings[i].def || owned || !value)
            continue;
        char lower[64];
        size_t n = strlen(name) < sizeof lower - 1 ? strlen(name) : sizeof lower - 1;
        for (size_t k = 0; k < n; k++)
            lower[k] = (char)tolower((unsigned char)name[k]);
        dp_buf_str(&sql, first ? "" : ", ");
        dp_sql_literal(&sql, lower, n);
        dp_buf_str(&sql, ": ");
        dp_sql_literal(&sql, value, strlen(value));
        first = false;
    }
    dp_buf_str(&sql, "}");
    duckdb_result res;
    int rc = -1;
    if (sql.failed) {
        session_error(s, "53200", "out of memory");
    } else if (duckdb_query(s->dcon, sql.data, &res) != DuckDBSuccess) {
        session_duckdb_error(s, duckdb_result_error_type(&res), duckdb_result_error(&res));
        duckdb_destroy_result(&res);
    } else {
        duckdb_destroy_result(&res);
        s->settings_synced = true;
        rc = 0;
    }
    dp_buf_free(&sql);
    return rc;
}

void settings_report_defaults(struct session *s)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (pg_settings[i].report && pg_settings[i].def && !get_local(s, pg_settings[i].name))
            pgwire_param_status(&s->pc.out, pg_settings[i].name, pg_settings[i].def);
}

int settings_show_all(struct session *s)
{
    int n = 0;
    for (size_t i = 0; i < NSETTINGS; i++) {
        if (!pg_settings[i].def)
            continue;
        const char *row[3] = {pg_settings[i].name, settings_get(s, pg_settings[i].name), ""};
        portal_text_row(s, 3, row);
        n++;
    }
    return n;
}
