/*
 * test_pgcatalog.c -- the overlay and the rewriter against real DuckDB,
 * with the statements psql 15, pgbench 15 and pgjdbc send (captured from
 * the clients talking to PostgreSQL 15), checking the answers' shapes.
 */
#include "pgcatalog.h"
#include "testlib.h"

struct pgdb {
    duckdb_database db;
    duckdb_connection install, con;
};

/* Opens path (NULL: in memory), installs the overlay and a session. */
static int pgdb_open(struct pgdb *p, const char *path)
{
    char err[512];
    if (duckdb_open(path, &p->db) != DuckDBSuccess)
        return -1;
    if (duckdb_connect(p->db, &p->install) != DuckDBSuccess ||
        duckdb_connect(p->db, &p->con) != DuckDBSuccess)
        return -1;
    if (pgcatalog_install(p->install, err, sizeof err) != 0 ||
        pgcatalog_session_init(p->con, err, sizeof err) != 0) {
        fprintf(stderr, "    %s\n", err);
        return -1;
    }
    return 0;
}

static void pgdb_close(struct pgdb *p)
{
    duckdb_disconnect(&p->con);
    duckdb_disconnect(&p->install);
    duckdb_close(&p->db);
}

/* Runs sql as the server would: rewrite, then every statement; *res holds
 * the last statement's result (destroy it). Returns 0, or -1 with the
 * error printed. *act gets the rewrite's decision when act is not NULL. */
static int run_pg(duckdb_connection con, const char *sql, duckdb_result *res, enum pgcatalog_action *act)
{
    char *out = NULL;
    const char *tag = NULL;
    enum pgcatalog_action a = pgcatalog_rewrite(sql, strlen(sql), &out, &tag);
    if (act)
        *act = a;
    memset(res, 0, sizeof *res);
    if (a == PGCATALOG_NOOP)
        return duckdb_query(con, "SELECT 1 WHERE false", res) == DuckDBSuccess ? 0 : -1;
    const char *text = a == PGCATALOG_REWRITE ? out : sql;
    duckdb_extracted_statements ex;
    idx_t n = duckdb_extract_statements(con, text, &ex);
    int rc = n ? 0 : -1;
    if (!n)
        fprintf(stderr, "    extract: %s\n", duckdb_extract_statements_error(ex));
    for (idx_t i = 0; i < n && rc == 0; i++) {
        duckdb_prepared_statement ps;
        if (i > 0)
            duckdb_destroy_result(res);
        if (duckdb_prepare_extracted_statement(con, ex, i, &ps) != DuckDBSuccess) {
            fprintf(stderr, "    prepare: %s\n    in: %s\n", duckdb_prepare_error(ps), text);
            rc = -1;
        } else if (duckdb_execute_prepared(ps, res) != DuckDBSuccess) {
            fprintf(stderr, "    execute: %s\n    in: %s\n", duckdb_result_error(res), text);
            rc = -1;
        }
        duckdb_destroy_prepare(&ps);
    }
    duckdb_destroy_extracted(&ex);
    free(out);
    return rc;
}

/* Cell (col, row) as text, "NULL" for null; a static buffer. */
static const char *cell(duckdb_result *r, idx_t col, idx_t row)
{
    static char buf[8][256];
    static int next;
    char *b = buf[next++ % 8];
    char *v = duckdb_value_varchar(r, col, row);
    snprintf(b, 256, "%s", v ? v : "NULL");
    duckdb_free(v);
    return b;
}

#define CHECK_CELL(res, col, row, want)                                                                  \
    do {                                                                                                 \
        const char *got_ = cell((res), (col), (row));                                                    \
        if (strcmp(got_, (want)) != 0) {                                                                 \
            test_fail(__FILE__, __LINE__, "cell (%d,%d) is \"%s\", want \"%s\"", (int)(col), (int)(row), \
                      got_, (want));                                                                     \
            return;                                                                                      \
        }                                                                                                \
    } while (0)

static const char trades_sql[] =
    "create table trades(id integer primary key, sym varchar(10), px double precision,"
    " qty bigint not null, ts timestamp, note text, amount numeric(10,2) default 1.5,"
    " tags varchar[], ok boolean, d date)";

/* The oid of table name, as psql's first \d query finds it. */
static int find_oid(duckdb_connection con, const char *name, char *oid, size_t cap)
{
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT c.oid,\n  n.nspname,\n  c.relname\nFROM pg_catalog.pg_class c\n"
             "     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n"
             "WHERE c.relname OPERATOR(pg_catalog.~) '^(%s)$' COLLATE pg_catalog.default\n"
             "  AND pg_catalog.pg_table_is_visible(c.oid)\nORDER BY 2, 3;",
             name);
    duckdb_result r;
    if (run_pg(con, sql, &r, NULL) != 0)
        return -1;
    int rc = duckdb_row_count(&r) == 1 && strcmp(cell(&r, 1, 0), "public") == 0 ? 0 : -1;
    snprintf(oid, cap, "%s", cell(&r, 0, 0));
    duckdb_destroy_result(&r);
    return rc;
}

/* Replaces every @OID@ in tmpl. */
static void with_oid(char *out, size_t cap, const char *tmpl, const char *oid)
{
    size_t o = 0;
    for (const char *p = tmpl; *p && o + 32 < cap;) {
        if (strncmp(p, "@OID@", 5) == 0) {
            o += (size_t)snprintf(out + o, cap - o, "%s", oid);
            p += 5;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
}

static void test_psql_dt(void)
{
    struct pgdb p;
    CHECK_OK(pgdb_open(&p, NULL));
    duckdb_result r;
    CHECK_OK(run_pg(p.con, trades_sql, &r, NULL));
    duckdb_destroy_result(&r);
    CHECK_OK(run_pg(p.con, "create view v_trades as select id from trades", &r, NULL));
    duckdb_destroy_result(&r);
    /* the server's own bookkeeping (the journal's applied sequence) stays out of sight */
    CHECK_OK(run_pg(p.con, "create table duckpond_journal_state (applied_seq ubigint)", &r, NULL));
    duckdb_destroy_result(&r);
    CHECK_OK(duckdb_query(p.con, "SET VARIABLE duckpond_user = 'alice'", &r) == DuckDBSuccess ? 0 : 1);
    duckdb_destroy_result(&r);
    static const char dt[] =
        "SELECT n.nspname as \"Schema\",\n  c.relname as \"Name\",\n"
        "  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' "
        "WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN "
        "'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as "
        "\"Type\",\n  pg_catalog.pg_get_userbyid(c.relowner) as \"Owner\"\n"
        "FROM pg_catalog.pg_class c\n     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n"
        "     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam\n"
        "WHERE c.relkind IN ('r','p','')\n      AND n.nspname <> 'pg_catalog'\n"
        "      AND n.nspname !~ '^pg_toast'\n      AND n.nspname <> 'information_schema'\n"
        "  AND pg_catalog.pg_table_is_visible(c.oid)\nORDER BY 1,2;";
    enum pgcatalog_action act;
    CHECK_OK(run_pg(p.con, dt, &r, &act));
    CHECK_EQ_INT(act, PGCATALOG_REWRITE);
    CHECK_EQ_INT(duckdb_column_count(&r), 4);
    CHECK(strcmp(duckdb_column_name(&r, 0), "Schema") == 0);
    CHECK_EQ_INT(duckdb_row_count(&r), 1); /* the view is not a table */
    CHECK_CELL(&r, 0, 0, "public");
    CHECK_CELL(&r, 1, 0, "trades");
    CHECK_CELL(&r, 2, 0, "table");
    CHECK_CELL(&r, 3, 0, "alice");
    duckdb_destroy_result(&r);
    pgdb_close(&p);
}

/* psql 15's \d trades, all of its statements in order. */
static const char *const describe_sql[] = {
    "SELECT c.relchecks, c.relkind, c.relhasindex, c.relhasrules, c.relhastriggers, c.relrowsecurity, "
    "c.relforcerowsecurity, false AS relhasoids, c.relispartition, '', c.reltablespace, CASE WHEN "
    "c.reloftype = 0 THEN '' ELSE c.reloftype::pg_catalog.regtype::pg_catalog.text END, "
    "c.relpersistence, c.relreplident, am.amname\nFROM pg_catalog.pg_class c\n LEFT JOIN "
    "pg_catalog.pg_class tc ON (c.reltoastrelid = tc.oid)\nLEFT JOIN pg_catalog.pg_am am ON (c.relam "
    "= am.oid)\nWHERE c.oid = '@OID@';",

    "SELECT a.attname,\n  pg_catalog.format_type(a.atttypid, a.atttypmod),\n  (SELECT "
    "pg_catalog.pg_get_expr(d.adbin, d.adrelid, true)\n   FROM pg_catalog.pg_attrdef d\n   WHERE "
    "d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef),\n  a.attnotnull,\n  (SELECT "
    "c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t\n   WHERE c.oid = "
    "a.attcollation AND t.oid = a.atttypid AND a.attcollation <> t.typcollation) AS attcollation,\n "
    " a.attidentity,\n  a.attgenerated\nFROM pg_catalog.pg_attribute a\nWHERE a.attrelid = '@OID@' "
    "AND a.attnum > 0 AND NOT a.attisdropped\nORDER BY a.attnum;",

    "SELECT c2.relname, i.indisprimary, i.indisunique, i.indisclustered, i.indisvalid, "
    "pg_catalog.pg_get_indexdef(i.indexrelid, 0, true),\n  pg_catalog.pg_get_constraintdef(con.oid, "
    "true), contype, condeferrable, condeferred, i.indisreplident, c2.reltablespace\nFROM "
    "pg_catalog.pg_class c, pg_catalog.pg_class c2, pg_catalog.pg_index i\n  LEFT JOIN "
    "pg_catalog.pg_constraint con ON (conrelid = i.indrelid AND conindid = i.indexrelid AND contype "
    "IN ('p','u','x'))\nWHERE c.oid = '@OID@' AND c.oid = i.indrelid AND i.indexrelid = c2.oid\nORDER "
    "BY i.indisprimary DESC, c2.relname;",

    "SELECT pol.polname, pol.polpermissive,\n  CASE WHEN pol.polroles = '{0}' THEN NULL ELSE "
    "pg_catalog.array_to_string(array(select rolname from pg_catalog.pg_roles where oid = any "
    "(pol.polroles) order by 1),',') END,\n  pg_catalog.pg_get_expr(pol.polqual, pol.polrelid),\n  "
    "pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid),\n  CASE pol.polcmd\n    WHEN 'r' THEN "
    "'SELECT'\n    WHEN 'a' THEN 'INSERT'\n    WHEN 'w' THEN 'UPDATE'\n    WHEN 'd' THEN 'DELETE'\n "
    "   END AS cmd\nFROM pg_catalog.pg_policy pol\nWHERE pol.polrelid = '@OID@' ORDER BY 1;",

    "SELECT oid, stxrelid::pg_catalog.regclass, stxnamespace::pg_catalog.regnamespace::pg_catalog.text "
    "AS nsp, stxname,\npg_catalog.pg_get_statisticsobjdef_columns(oid) AS columns,\n  'd' = "
    "any(stxkind) AS ndist_enabled,\n  'f' = any(stxkind) AS deps_enabled,\n  'm' = any(stxkind) AS "
    "mcv_enabled,\nstxstattarget\nFROM pg_catalog.pg_statistic_ext\nWHERE stxrelid = '@OID@'\nORDER "
    "BY nsp, stxname;",

    "SELECT pubname\n     , NULL\n     , NULL\nFROM pg_catalog.pg_publication p\n     JOIN "
    "pg_catalog.pg_publication_namespace pn ON p.oid = pn.pnpubid\n     JOIN pg_catalog.pg_class pc "
    "ON pc.relnamespace = pn.pnnspid\nWHERE pc.oid ='@OID@' and "
    "pg_catalog.pg_relation_is_publishable('@OID@')\nUNION\nSELECT pubname\n     , "
    "pg_get_expr(pr.prqual, c.oid)\n     , (CASE WHEN pr.prattrs IS NOT NULL THEN\n         (SELECT "
    "string_agg(attname, ', ')\n           FROM pg_catalog.generate_series(0, "
    "pg_catalog.array_upper(pr.prattrs::pg_catalog.int2[], 1)) s,\n                "
    "pg_catalog.pg_attribute\n          WHERE attrelid = pr.prrelid AND attnum = prattrs[s])\n       "
    " ELSE NULL END) FROM pg_catalog.pg_publication p\n     JOIN pg_catalog.pg_publication_rel pr ON "
    "p.oid = pr.prpubid\n     JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid\nWHERE pr.prrelid = "
    "'@OID@'\nUNION\nSELECT pubname\n     , NULL\n     , NULL\nFROM pg_catalog.pg_publication p\nWHERE "
    "p.puballtables AND pg_catalog.pg_relation_is_publishable('@OID@')\nORDER BY 1;",

    "SELECT c.oid::pg_catalog.regclass\nFROM pg_catalog.pg_class c, pg_catalog.pg_inherits i\nWHERE "
    "c.oid = i.inhparent AND i.inhrelid = '@OID@'\n  AND c.relkind != 'p' AND c.relkind != 'I'\nORDER "
    "BY inhseqno;",

    "SELECT c.oid::pg_catalog.regclass, c.relkind, inhdetachpending, "
    "pg_catalog.pg_get_expr(c.relpartbound, c.oid)\nFROM pg_catalog.pg_class c, pg_catalog.pg_inherits "
    "i\nWHERE c.oid = i.inhrelid AND i.inhparent = '@OID@'\nORDER BY "
    "pg_catalog.pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT', "
    "c.oid::pg_catalog.regclass::pg_catalog.text;",
};

static void test_psql_describe_table(void)
{
    struct pgdb p;
    CHECK_OK(pgdb_open(&p, NULL));
    duckdb_result r;
    CHECK_OK(run_pg(p.con, trades_sql, &r, NULL));
    duckdb_destroy_result(&r);
    char oid[64], sql[8192];
    CHECK_OK(find_oid(p.con, "trades", oid, sizeof oid));
    /* every statement must run: psql gives up on the first failure */
    for (size_t i = 0; i < sizeof describe_sql / sizeof describe_sql[0]; i++) {
        with_oid(sql, sizeof sql, describe_sql[i], oid);
        CHECK_OK(run_pg(p.con, sql, &r, NULL));
        if (i == 0) { /* the table's flags */
            CHECK_EQ_INT(duckdb_row_count(&r), 1);
            CHECK_CELL(&r, 1, 0, "r");
            CHECK_CELL(&r, 2, 0, "true"); /* has an index: the primary key */
            CHECK_CELL(&r, 14, 0, "heap");
        } else if (i == 1) { /* columns with PostgreSQL's type names */
            static const char *const want[][4] = {
                {"id", "integer", "NULL", "true"},
                {"sym", "text", "NULL", "false"},
                {"px", "double precision", "NULL", "false"},
                {"qty", "bigint", "NULL", "true"},
                {"ts", "timestamp without time zone", "NULL", "false"},
                {"note", "text", "NULL", "false"},
                {"amount", "numeric(10,2)", "1.5", "false"},
                {"tags", "text[]", "NULL", "false"},
                {"ok", "boolean", "NULL", "false"},
                {"d", "date", "NULL", "false"},
            };
            CHECK_EQ_INT(duckdb_row_count(&r), 10);
            for (idx_t row = 0; row < 10; row++)
                for (idx_t col = 0; col < 4; col++)
                    CHECK_CELL(&r, col, row, want[row][col]);
        } else if (i == 2) { /* "trades_pkey" PRIMARY KEY, btree (id) */
            CHECK_EQ_INT(duckdb_row_count(&r), 1);
            CHECK_CELL(&r, 0, 0, "trades_pkey");
            CHECK_CELL(&r, 1, 0, "true");
            CHECK_CELL(&r, 5, 0, "CREATE UNIQUE INDEX trades_pkey ON public.trades USING btree (id)");
            CHECK_CELL(&r, 6, 0, "PRIMARY KEY (id)");
            CHECK_CELL(&r, 7, 0, "p");
        } else {
            CHECK_EQ_INT(duckdb_row_count(&r), 0);
        }
        duckdb_destroy_result(&r);
    }
    pgdb_close(&p);
}

static void test_psql_dn_l_du(void)
{
    struct pgdb p;
    CHECK_OK(pgdb_open(&p, NULL));
    duckdb_result r;
    CHECK_OK(run_pg(p.con,
                    "SELECT n.nspname AS \"Name\",\n  pg_catalog.pg_get_userbyid(n.nspowner) AS "
                    "\"Owner\"\nFROM pg_catalog.pg_namespace n\nWHERE n.nspname !~ '^pg_' AND "
                    "n.nspname <> 'information_schema'\nORDER BY 1;",
                    &r, NULL));
    CHECK_EQ_INT(duckdb_row_count(&r), 1); /* pg_catalog filtered out by a real search */
    CHECK_CELL(&r, 0, 0, "public");
    CHECK_CELL(&r, 1, 0, "duckpond");
    duckdb_destroy_result(&r);
    CHECK_OK(run_pg(p.con,
                    "SELECT d.datname as \"Name\",\n       pg_catalog.pg_get_userbyid(d.datdba) as "
                    "\"Owner\",\n       pg_catalog.pg_encoding_to_char(d.encoding) as \"Encoding\",\n "
                    "      d.datcollate as \"Collate\",\n       d.datctype as \"Ctype\",\n       "
                    "d.daticulocale as \"ICU Locale\",\n       CASE d.datlocprovider WHEN 'c' THEN "
                    "'libc' WHEN 'i' THEN 'icu' END AS \"Locale Provider\",\n       "
                    "pg_catalog.array_to_string(d.datacl, E'\\n') AS \"Access privileges\"\nFROM "
                    "pg_catalog.pg_database d\nORDER BY 1;",
                    &r, NULL));
    CHECK_EQ_INT(duckdb_row_count(&r), 1); /* the overlay's own database is hidden */
    CHECK_CELL(&r, 0, 0, "memory");
    CHECK_CELL(&r, 2, 0, "UTF8");
    CHECK_CELL(&r, 6, 0, "libc");
    duckdb_destroy_result(&r);
    CHECK_OK(run_pg(p.con,
                    "SELECT r.rolname, r.rolsuper, r.rolinherit,\n  r.rolcreaterole, r.rolcreatedb, "
                    "r.rolcanlogin,\n  r.rolconnlimit, r.rolvaliduntil,\n  ARRAY(SELECT b.rolname\n  "
                    "      FROM pg_catalog.pg_auth_members m\n        JOIN pg_catalog.pg_roles b ON "
                    "(m.roleid = b.oid)\n        WHERE m.member = r.oid) as memberof\n, "
                    "r.rolreplication\n, r.rolbypassrls\nFROM pg_catalog.pg_roles r\nWHERE r.rolname "
                    "!~ '^pg_'\nORDER BY 1;",
                    &r, NULL));
    CHECK_EQ_INT(duckdb_row_count(&r), 1);
    CHECK_EQ_INT(duckdb_column_count(&r), 11);
    CHECK_CELL(&r, 0, 0, "duckpond");
    CHECK_CELL(&r, 1, 0, "true");
    duckdb_destroy_result(&r);
    pgdb_close(&p);
}

static void test_pgbench_init(void)
{
    struct pgdb p;
    CHECK_OK(pgdb_open(&p, NULL));
    static const struct {
        const char *sql;
        enum pgcatalog_action act;
        const char *tag;
    } steps[] = {
        {"drop table if exists pgbench_accounts, pgbench_branches, pgbench_history, pgbench_tellers",
         PGCATALOG_REWRITE, "DROP TABLE"},
        {"create table pgbench_history(tid int,bid int,aid    int,delta int,mtime timestamp,filler char(22))",
         PGCATALOG_PASS, NULL},
        {"create table pgbench_tellers(tid int not null,bid int,tbalance int,filler char(84)) with (fillfactor=100)",
         PGCATALOG_PASS, NULL},
        {"create table pgbench_accounts(aid    int not null,bid int,abalance int,filler char(84)) with (fillfactor=100)",
         PGCATALOG_PASS, NULL},
        {"create table pgbench_branches(bid int not null,bbalance int,filler char(88)) with (fillfactor=100)",
         PGCATALOG_PASS, NULL},
        {"begin", PGCATALOG_PASS, NULL},
        {"truncate table pgbench_accounts, pgbench_branches, pgbench_history, pgbench_tellers",
         PGCATALOG_REWRITE, "TRUNCATE TABLE"},
        {"insert into pgbench_branches(bid,bbalance) values(1,0)", PGCATALOG_PASS, NULL},
        {"insert into pgbench_tellers(tid,bid,tbalance) values (1,1,0)", PGCATALOG_PASS, NULL},
        {"commit", PGCATALOG_PASS, NULL},
        {"vacuum analyze pgbench_branches", PGCATALOG_NOOP, "VACUUM"},
        {"alter table pgbench_branches add primary key (bid)", PGCATALOG_PASS, NULL},
        {"alter table pgbench_tellers add primary key (tid)", PGCATALOG_PASS, NULL},
        {"vacuum pgbench_branches", PGCATALOG_NOOP, "VACUUM"},
        {"truncate pgbench_history", PGCATALOG_PASS, NULL},
        {"BEGIN;", PGCATALOG_PASS, NULL},
        {"END;", PGCATALOG_PASS, NULL},
    };
    duckdb_result r;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        char *out;
        const char *tag;
        enum pgcatalog_action act = pgcatalog_rewrite(steps[i].sql, strlen(steps[i].sql), &out, &tag);
        CHECK_EQ_INT(act, steps[i].act);
        CHECK((tag == NULL) == (steps[i].tag == NULL));
        if (tag)
            CHECK(strcmp(tag, steps[i].tag) == 0);
        free(out);
        CHECK_OK(run_pg(p.con, steps[i].sql, &r, NULL));
        duckdb_destroy_result(&r);
    }
    CHECK_OK(run_pg(p.con, "select count(*) from pgbench_branches", &r, NULL));
    CHECK_CELL(&r, 0, 0, "1");
    duckdb_destroy_result(&r);
    /* the partition query: a clean "no partitions" answer */
    CHECK_OK(run_pg(p.con,
                    "select o.n, p.partstrat, pg_catalog.count(i.inhparent) from pg_catalog.pg_class as c "
                    "join pg_catalog.pg_namespace as n on (n.oid = c.relnamespace) cross join lateral "
                    "(select pg_catalog.array_position(pg_catalog.current_schemas(true), n.nspname)) as "
                    "o(n) left join pg_catalog.pg_partitioned_table as p on (p.partrelid = c.oid) left "
                    "join pg_catalog.pg_inherits as i on (c.oid = i.inhparent) where c.relname = "
                    "'pgbench_accounts' and o.n is not null group by 1, 2 order by 1 asc limit 1",
                    &r, NULL));
    CHECK_EQ_INT(duckdb_row_count(&r), 1);
    CHECK_CELL(&r, 0, 0, "2");
    CHECK_CELL(&r, 1, 0, "NULL");
    CHECK_CELL(&r, 2, 0, "0");
    duckdb_destroy_result(&r);
    /* the multi-table drop really drops all four */
    CHECK_OK(run_pg(p.con,
                    "drop table if exists pgbench_accounts, pgbench_branches, pgbench_history, "
                    "pgbench_tellers",
                    &r, NULL));
    duckdb_destroy_result(&r);
    CHECK_OK(
        run_pg(p.con, "select count(*) from duckdb_tables() where table_name like 'pgbench%'", &r, NULL));
    CHECK_CELL(&r, 0, 0, "0");
    duckdb_destroy_result(&r);
    pgdb_close(&p);
}

/* pgjdbc's TypeInfoCache lookup by OID, bound as a parameter, for every
 * OID the server emits. */
static void test_jdbc_type_lookup(void)
{
    struct pgdb p;
    CHECK_OK(pgdb_open(&p, NULL));
    static const char q[] =
        "SELECT t.oid, n.nspname = ANY(current_schemas(true)), n.nspname, t.typinput = "
        "'array_in'::regproc, t.typname, t.typelem, t.typtype, t.typdelim, e.typname, e.typtype, "
        "e.typdelim, arr.oid, arr.typname FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON "
        "t.typnamespace = n.oid LEFT JOIN pg_catalog.pg_type e ON t.typelem = e.oid LEFT JOIN "
        "pg_catalog.pg_type arr ON (t.oid, 'array_in'::regproc) = (arr.typelem, arr.typinput) WHERE "
        "t.oid = $1";
    char *out;
    const char *tag;
    CHECK_EQ_INT(pgcatalog_rewrite(q, strlen(q), &out, &tag), PGCATALOG_REWRITE);
    CHECK_STR_CONTAINS(out, "t.oid = $1");
    duckdb_prepared_statement ps;
    CHECK(duckdb_prepare(p.con, out, &ps) == DuckDBSuccess);
    free(out);
    static const struct {
        int oid;
        const char *typname, *is_array, *elem;
    } types[] = {
        {16, "bool", "false", "0"},          {21, "int2", "false", "0"},
        {23, "int4", "false", "0"},          {20, "int8", "false", "0"},
        {1700, "numeric", "false", "0"},     {700, "float4", "false", "0"},
        {701, "float8", "false", "0"},       {25, "text", "false", "0"},
        {114, "json", "false", "0"},         {17, "bytea", "false", "0"},
        {1082, "date", "false", "0"},        {1083, "time", "false", "0"},
        {1266, "timetz", "false", "0"},      {1114, "timestamp", "false", "0"},
        {1184, "timestamptz", "false", "0"}, {1186, "interval", "false", "0"},
        {2950, "uuid", "false", "0"},        {1562, "varbit", "false", "0"},
        {1043, "varchar", "false", "0"},     {1007, "_int4", "true", "23"},
        {1016, "_int8", "true", "20"},       {1009, "_text", "true", "25"},
        {1022, "_float8", "true", "701"},    {1000, "_bool", "true", "16"},
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        duckdb_result r;
        CHECK(duckdb_bind_int32(ps, 1, types[i].oid) == DuckDBSuccess);
        CHECK(duckdb_execute_prepared(ps, &r) == DuckDBSuccess);
        CHECK_EQ_INT(duckdb_row_count(&r), 1);
        CHECK_CELL(&r, 1, 0, "true");
        CHECK_CELL(&r, 2, 0, "pg_catalog");
        CHECK_CELL(&r, 3, 0, types[i].is_array);
        CHECK_CELL(&r, 4, 0, types[i].typname);
        CHECK_CELL(&r, 5, 0, types[i].elem);
        CHECK_CELL(&r, 7, 0, ",");
        duckdb_destroy_result(&r);
    }
    duckdb_destroy_prepare(&ps);
    /* the older driver's form, with generate_series(...) as s(r) */
    duckdb_result r;
    CHECK_OK(run_pg(p.con,
                    "SELECT typinput='pg_catalog.array_in'::regproc as is_array, typtype, typname, "
                    "pg_type.oid FROM pg_catalog.pg_type LEFT JOIN (select ns.oid as nspoid, ns.nspname, "
                    "r.r from pg_namespace as ns join ( select s.r, (current_schemas(false))[s.r] as "
                    "nspname from generate_series(1, array_upper(current_schemas(false), 1)) as s(r) ) "
                    "as r using ( nspname ) ) as sp ON sp.nspoid = typnamespace WHERE pg_type.oid = "
                    "1016 ORDER BY sp.r, pg_type.oid DESC",
                    &r, NULL));
    CHECK_EQ_INT(duckdb_row_count(&r), 1);
    CHECK_CELL(&r, 0, 0, "true");
    CHECK_CELL(&r, 2, 0, "_int8");
    duckdb_destroy_result(&r);
    pgdb_close(&p);
}

/* Column types of a user table map to the OIDs the wire protocol uses. */
static void test_attribute_oids(void)
{
    struct pgdb p;
    CHECK_OK(pgdb_open(&p, NULL));
    duckdb_result r;
    CHECK_OK(run_pg(p.con, trades_sql, &r, NULL));
    duckdb_destroy_result(&r);
    CHECK_OK(run_pg(p.con,
                    "select attname, atttypid, atttypmod from pg_attribute where attrelid = "
                    "'trades'::regclass and attnum > 0 order by attnum",
                    &r, NULL));
    CHECK_EQ_INT(duckdb_row_count(&r), 10);
    static const char *const want[][2] = {
        {"id", "23"},   {"sym", "25"},      {"px", "701"},    {"qty", "20"}, {"ts", "1114"},
        {"note", "25"}, {"amount", "1700"}, {"tags", "1009"}, {"ok", "16"},  {"d", "1082"},
    };
    for (idx_t i = 0; i < 10; i++) {
        CHECK_CELL(&r, 0, i, want[i][0]);
        CHECK_CELL(&r, 1, i, want[i][1]);
    }
    CHECK_CELL(&r, 2, 6, "655366"); /* numeric(10,2): (10 << 16 | 2) + 4 */
    duckdb_destroy_result(&r);
    CHECK_OK(run_pg(p.con,
                    "select 'public.trades'::regclass = 'trades'::regclass, "
                    "(select oid from pg_class where relname = 'trades')::regclass, "
                    "23::regtype, 'integer'::regtype::oid",
                    &r, NULL));
    CHECK_CELL(&r, 0, 0, "true");
    CHECK_CELL(&r, 1, 0, "trades");
    CHECK_CELL(&r, 2, 0, "integer");
    CHECK_CELL(&r, 3, 0, "23");
    duckdb_destroy_result(&r);
    CHECK_OK(run_pg(p.con,
                    "select version(), pg_catalog.version(), current_schema(), "
                    "pg_backend_pid(), pg_catalog.pg_is_in_recovery()",
                    &r, NULL));
    CHECK(strncmp(cell(&r, 0, 0), "PostgreSQL 16.", 14) == 0);
    CHECK(strncmp(cell(&r, 1, 0), "PostgreSQL 16.", 14) == 0);
    CHECK_CELL(&r, 2, 0, "public");
    CHECK_CELL(&r, 4, 0, "false");
    duckdb_destroy_result(&r);
    /* public.x is DuckDB's main.x */
    CHECK_OK(run_pg(p.con, "insert into public.trades (id, qty) values (1, 2)", &r, NULL));
    duckdb_destroy_result(&r);
    CHECK_OK(run_pg(p.con, "select count(*) from \"public\".\"trades\"", &r, NULL));
    CHECK_CELL(&r, 0, 0, "1");
    duckdb_destroy_result(&r);
    pgdb_close(&p);
}

/* PostgreSQL's ~ searches; DuckDB's matches the whole string. */
static void test_regex_semantics(void)
{
    struct pgdb p;
    CHECK_OK(pgdb_open(&p, NULL));
    duckdb_result r;
    CHECK_OK(run_pg(p.con,
                    "select 'abc' ~ 'b', 'abc' ~ '^b', 'ABC' ~* 'b', 'abc' !~ 'b', "
                    "'abc' !~* 'B', 'a' || '~' as lit, 'pg_toast_1' !~ '^pg_toast', "
                    "'x' OPERATOR(pg_catalog.~) '^(x)$' COLLATE pg_catalog.default",
                    &r, NULL));
    CHECK_CELL(&r, 0, 0, "true");
    CHECK_CELL(&r, 1, 0, "false");
    CHECK_CELL(&r, 2, 0, "true");
    CHECK_CELL(&r, 3, 0, "false");
    CHECK_CELL(&r, 4, 0, "false");
    CHECK_CELL(&r, 5, 0, "a~");
    CHECK_CELL(&r, 6, 0, "false");
    CHECK_CELL(&r, 7, 0, "true");
    duckdb_destroy_result(&r);
    /* a parameter pattern */
    char *out;
    const char *tag;
    const char *q = "select 'abc' ~ $1";
    CHECK_EQ_INT(pgcatalog_rewrite(q, strlen(q), &out, &tag), PGCATALOG_REWRITE);
    duckdb_prepared_statement ps;
    CHECK(duckdb_prepare(p.con, out, &ps) == DuckDBSuccess);
    free(out);
    CHECK(duckdb_bind_varchar(ps, 1, "b") == DuckDBSuccess);
    CHECK(duckdb_execute_prepared(ps, &r) == DuckDBSuccess);
    CHECK_CELL(&r, 0, 0, "true");
    duckdb_destroy_result(&r);
    duckdb_destroy_prepare(&ps);
    pgdb_close(&p);
}

/* Literals, quoted names, comments and dollar quotes are never rewritten;
 * statements with nothing to change pass untouched. */
static void test_rewrite_leaves_text_alone(void)
{
    static const char *const pass[] = {
        "select 1",
        "insert into t values ('pg_catalog.pg_class ~ x', $1, 'OPERATOR(pg_catalog.~)')",
        "select $$ pg_catalog.pg_class ~ 'a' $$",
        "select $tag$ public.x $tag$ -- pg_catalog.pg_type\n",
        "select /* pg_catalog.pg_type ~ 'x' */ 2",
        "select E'it''s \\' pg_catalog.pg_class'",
        "update t set a = $1 where b = $2",
        "drop table t",
        "begin",
        "create table t (a int) with (fillfactor=100)",
        "select \"pg_catalog\"",
        "",
    };
    for (size_t i = 0; i < sizeof pass / sizeof pass[0]; i++) {
        char *out = (char *)1;
        const char *tag = "x";
        CHECK_EQ_INT(pgcatalog_rewrite(pass[i], strlen(pass[i]), &out, &tag), PGCATALOG_PASS);
        CHECK(out == NULL && tag == NULL);
    }
    /* rewritten around a literal that looks like a target */
    const char *q = "select 'pg_catalog.pg_class', x from pg_catalog.pg_class where relname ~ $1";
    char *out;
    const char *tag;
    CHECK_EQ_INT(pgcatalog_rewrite(q, strlen(q), &out, &tag), PGCATALOG_REWRITE);
    CHECK_STR_CONTAINS(out, "select 'pg_catalog.pg_class', x from duckpond_pg.pg_class where relname ~ ");
    CHECK_STR_CONTAINS(out, "$1");
    free(out);
    /* only len bytes are read */
    q = "vacuum; drop table a, b";
    CHECK_EQ_INT(pgcatalog_rewrite(q, 6, &out, &tag), PGCATALOG_NOOP);
    CHECK(strcmp(tag, "VACUUM") == 0);
}

static void test_rewrite_bad_input(void)
{
    char *out = (char *)1;
    const char *tag;
    CHECK_EQ_INT(pgcatalog_rewrite(NULL, 5, &out, &tag), PGCATALOG_PASS);
    CHECK(out == NULL);
    static const char *const bad[] = {
        "select 'unterminated ~ pg_catalog.x",
        "select \"x ~ 'a'",
        "select $$ ~ 'a'",
        "select /* ~ 'a'",
        "drop table a,",
        "drop table if exists",
        "truncate ,",
        "::regclass",
        "x::",
        "select (((( ::regclass",
        "select ) ::regclass",
        "OPERATOR(",
        "select ~ 'a'",
        "select generate_series(",
        "select $abc",
        "~",
        "'",
        "$",
        "\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        enum pgcatalog_action a = pgcatalog_rewrite(bad[i], strlen(bad[i]), &out, &tag);
        CHECK(a == PGCATALOG_PASS || a == PGCATALOG_REWRITE);
        free(a == PGCATALOG_REWRITE ? out : NULL);
    }
    /* a big statement with many targets, and bytes of every value */
    size_t n = 1 << 20;
    char *big = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        big[i] = "pg_catalog.pg_class ~ 'x'::regclass, "[i % 38];
    big[n] = '\0';
    enum pgcatalog_action a = pgcatalog_rewrite(big, n, &out, &tag);
    if (a == PGCATALOG_REWRITE)
        free(out);
    for (size_t i = 0; i < 65536; i++)
        big[i] = (char)(i * 2654435761u >> 24);
    a = pgcatalog_rewrite(big, 65536, &out, &tag);
    if (a == PGCATALOG_REWRITE)
        free(out);
    free(big);
    /* DROP of more names than fit in one list */
    char *many = malloc(300 * 8 + 32);
    size_t o = (size_t)sprintf(many, "drop table ");
    for (int i = 0; i < 300; i++)
        o += (size_t)sprintf(many + o, "%st%d", i ? "," : "", i);
    CHECK_EQ_INT(pgcatalog_rewrite(many, o, &out, &tag), PGCATALOG_PASS);
    free(many);
}

/* The user's file holds none of the overlay: reopened without it, its
 * catalog has only the user's table. */
static void test_file_not_polluted(void)
{
    const char *path = test_path("db.duckdb");
    struct pgdb p;
    CHECK_OK(pgdb_open(&p, path));
    duckdb_result r;
    CHECK_OK(run_pg(p.con, "create table kept(a int)", &r, NULL));
    duckdb_destroy_result(&r);
    /* installing again is harmless */
    char err[256];
    CHECK_OK(pgcatalog_install(p.install, err, sizeof err));
    pgdb_close(&p);
    duckdb_database db;
    duckdb_connection con;
    CHECK(duckdb_open(path, &db) == DuckDBSuccess);
    CHECK(duckdb_connect(db, &con) == DuckDBSuccess);
    CHECK(duckdb_query(con,
                       "select (select count(*) from duckdb_tables() where not internal), "
                       "(select count(*) from duckdb_views() where not internal), "
                       "(select count(*) from duckdb_functions() where not internal "
                       "and database_name <> 'system'), "
                       "(select count(*) from duckdb_databases() where database_name = 'duckpond_pg')",
                       &r) == DuckDBSuccess);
    CHECK_CELL(&r, 0, 0, "1");
    CHECK_CELL(&r, 1, 0, "0");
    CHECK_CELL(&r, 2, 0, "0");
    CHECK_CELL(&r, 3, 0, "0");
    duckdb_destroy_result(&r);
    duckdb_disconnect(&con);
    duckdb_close(&db);
}

/* Sessions on other connections see the overlay and create tables in the
 * user's database. */
static void test_session_search_path(void)
{
    struct pgdb p;
    CHECK_OK(pgdb_open(&p, NULL));
    duckdb_connection c2;
    char err[256];
    CHECK(duckdb_connect(p.db, &c2) == DuckDBSuccess);
    CHECK_OK(pgcatalog_session_init(c2, err, sizeof err));
    duckdb_result r;
    CHECK(duckdb_query(c2, "create table made_here(a int)", &r) == DuckDBSuccess);
    duckdb_destroy_result(&r);
    CHECK(duckdb_query(c2, "select database_name from duckdb_tables() where table_name = 'made_here'", &r) ==
          DuckDBSuccess);
    CHECK_CELL(&r, 0, 0, "memory");
    duckdb_destroy_result(&r);
    /* unqualified, without the rewriter: found through search_path */
    CHECK(duckdb_query(c2, "select count(*) from pg_roles, pg_namespace where nspname = 'public'", &r) ==
          DuckDBSuccess);
    CHECK_CELL(&r, 0, 0, "1");
    duckdb_destroy_result(&r);
    duckdb_disconnect(&c2);
    pgdb_close(&p);
}

/* A database whose name needs quoting both as a name and inside the
 * search_path string still gets its tables and the overlay. */
static void test_session_quoted_database_name(void)
{
    struct pgdb p;
    CHECK_OK(pgdb_open(&p, test_path("it's \"odd\".duckdb")));
    duckdb_result r;
    CHECK(duckdb_query(p.con, "create table made_here(a int)", &r) == DuckDBSuccess);
    duckdb_destroy_result(&r);
    CHECK(duckdb_query(p.con,
                       "select database_name, current_setting('search_path') from duckdb_tables()"
                       " where table_name = 'made_here'",
                       &r) == DuckDBSuccess);
    CHECK_CELL(&r, 0, 0, "it's \"odd\"");
    CHECK_CELL(&r, 1, 0, "\"it's \"\"odd\"\"\".main,duckpond_pg.main");
    duckdb_destroy_result(&r);
    CHECK(duckdb_query(p.con, "select count(*) from pg_tables where tablename = 'made_here'", &r) ==
          DuckDBSuccess);
    CHECK_CELL(&r, 0, 0, "1");
    duckdb_destroy_result(&r);
    pgdb_close(&p);
}

/* A READ_ONLY database (readers of a live file) still gets the overlay. */
static void test_read_only_database(void)
{
    const char *path = test_path("ro.duckdb");
    duckdb_database db;
    duckdb_connection con;
    duckdb_result r;
    CHECK(duckdb_open(path, &db) == DuckDBSuccess);
    CHECK(duckdb_connect(db, &con) == DuckDBSuccess);
    CHECK(duckdb_query(con, trades_sql, &r) == DuckDBSuccess);
    duckdb_destroy_result(&r);
    duckdb_disconnect(&con);
    duckdb_close(&db);
    duckdb_config cfg;
    CHECK(duckdb_create_config(&cfg) == DuckDBSuccess);
    CHECK(duckdb_set_config(cfg, "access_mode", "READ_ONLY") == DuckDBSuccess);
    CHECK(duckdb_open_ext(path, &db, cfg, NULL) == DuckDBSuccess);
    duckdb_destroy_config(&cfg);
    CHECK(duckdb_connect(db, &con) == DuckDBSuccess);
    char err[512], oid[64];
    CHECK_OK(pgcatalog_install(con, err, sizeof err));
    CHECK_OK(pgcatalog_session_init(con, err, sizeof err));
    CHECK_OK(find_oid(con, "trades", oid, sizeof oid));
    duckdb_disconnect(&con);
    duckdb_close(&db);
}

TEST_MAIN(TEST_ENTRY(test_psql_dt), TEST_ENTRY(test_read_only_database), TEST_ENTRY(test_psql_describe_table),
          TEST_ENTRY(test_psql_dn_l_du), TEST_ENTRY(test_pgbench_init), TEST_ENTRY(test_jdbc_type_lookup),
          TEST_ENTRY(test_attribute_oids), TEST_ENTRY(test_regex_semantics),
          TEST_ENTRY(test_rewrite_leaves_text_alone), TEST_ENTRY(test_rewrite_bad_input),
          TEST_ENTRY(test_file_not_polluted), TEST_ENTRY(test_session_search_path),
          TEST_ENTRY(test_session_quoted_database_name))
