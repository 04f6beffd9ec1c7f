/*
 * pgcatalog.c -- enough of PostgreSQL's catalog and dialect on top of
 * DuckDB for psql, pgbench, psycopg2, node-postgres and JDBC.
 *
 * The overlay lives in an in-memory database attached as "duckpond_pg", so
 * nothing of it is ever written into the user's file. It holds views that
 * answer like PostgreSQL's pg_catalog (PostgreSQL type OIDs in pg_attribute
 * and pg_type, schema main shown as "public", one role, constraint-backed
 * indexes) and macros for the functions DuckDB lacks. Each session puts
 * it on its search_path after the user's database, so unqualified names
 * find it and new tables still land in the user's database.
 *
 * The rewriter works on tokens (strings, quoted names, comments and dollar
 * quotes are never touched inside) and only changes what DuckDB would
 * reject or answer differently: pg_catalog.X becomes duckpond_pg.X for the
 * overlay's objects and plain X otherwise, OPERATOR(pg_catalog.op), COLLATE
 * pg_catalog.default, regex operators (PostgreSQL's ~ searches, DuckDB's
 * matches whole strings), ::regclass and friends, multi-table DROP and
 * TRUNCATE, VACUUM/ANALYZE/LOCK, BEGIN with options. $n placeholders are
 * tokens of their own and pass through unchanged.
 */
#define _GNU_SOURCE /* vasprintf */
#include "pgcatalog.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define OVERLAY "duckpond_pg"

/* ------------------------------------------------------------------ */
/* The overlay                                                         */
/* ------------------------------------------------------------------ */

/*
 * The PostgreSQL types we emit or that clients look up, one row each:
 * oid, typname, format_type() name, typlen, category, typelem, typarray,
 * typinput. Element types first, then their arrays.
 */
static const char overlay_types_sql[] =
    "CREATE OR REPLACE TABLE " OVERLAY ".types AS SELECT * FROM (VALUES "
    "(16,'bool','boolean',1,'B',0,1000,'boolin'),"
    "(17,'bytea','bytea',-1,'U',0,1001,'byteain'),"
    "(18,'char','\"char\"',1,'S',0,1002,'charin'),"
    "(19,'name','name',64,'S',0,1003,'namein'),"
    "(20,'int8','bigint',8,'N',0,1016,'int8in'),"
    "(21,'int2','smallint',2,'N',0,1005,'int2in'),"
    "(22,'int2vector','int2vector',-1,'A',21,1006,'int2vectorin'),"
    "(23,'int4','integer',4,'N',0,1007,'int4in'),"
    "(24,'regproc','regproc',4,'N',0,1008,'regprocin'),"
    "(25,'text','text',-1,'S',0,1009,'textin'),"
    "(26,'oid','oid',4,'N',0,1028,'oidin'),"
    "(30,'oidvector','oidvector',-1,'A',26,1013,'oidvectorin'),"
    "(114,'json','json',-1,'U',0,199,'json_in'),"
    "(700,'float4','real',4,'N',0,1021,'float4in'),"
    "(701,'float8','double precision',8,'N',0,1022,'float8in'),"
    "(705,'unknown','unknown',-2,'X',0,0,'unknownin'),"
    "(1042,'bpchar','character',-1,'S',0,1014,'bpcharin'),"
    "(1043,'varchar','character varying',-1,'S',0,1015,'varcharin'),"
    "(1082,'date','date',4,'D',0,1182,'date_in'),"
    "(1083,'time','time without time zone',8,'D',0,1183,'time_in'),"
    "(1114,'timestamp','timestamp without time zone',8,'D',0,1115,'timestamp_in'),"
    "(1184,'timestamptz','timestamp with time zone',8,'D',0,1185,'timestamptz_in'),"
    "(1186,'interval','interval',16,'T',0,1187,'interval_in'),"
    "(1266,'timetz','time with time zone',12,'D',0,1270,'timetz_in'),"
    "(1560,'bit','bit',-1,'V',0,1561,'bit_in'),"
    "(1562,'varbit','bit varying',-1,'V',0,1563,'varbit_in'),"
    "(1700,'numeric','numeric',-1,'N',0,1231,'numeric_in'),"
    "(2205,'regclass','regclass',4,'N',0,2210,'regclassin'),"
    "(2206,'regtype','regtype',4,'N',0,2211,'regtypein'),"
    "(2249,'record','record',-1,'P',0,2287,'record_in'),"
    "(2278,'void','void',4,'P',0,0,'void_in'),"
    "(2950,'uuid','uuid',16,'U',0,2951,'uuid_in'),"
    "(3802,'jsonb','jsonb',-1,'U',0,3807,'jsonb_in'),"
    "(1000,'_bool','boolean[]',-1,'A',16,0,'array_in'),"
    "(1001,'_bytea','bytea[]',-1,'A',17,0,'array_in'),"
    "(1002,'_char','\"char\"[]',-1,'A',18,0,'array_in'),"
    "(1003,'_name','name[]',-1,'A',19,0,'array_in'),"
    "(1005,'_int2','smallint[]',-1,'A',21,0,'array_in'),"
    "(1006,'_int2vector','int2vector[]',-1,'A',22,0,'array_in'),"
    "(1007,'_int4','integer[]',-1,'A',23,0,'array_in'),"
    "(1008,'_regproc','regproc[]',-1,'A',24,0,'array_in'),"
    "(1009,'_text','text[]',-1,'A',25,0,'array_in'),"
    "(1013,'_oidvector','oidvector[]',-1,'A',30,0,'array_in'),"
    "(1014,'_bpchar','character[]',-1,'A',1042,0,'array_in'),"
    "(1015,'_varchar','character varying[]',-1,'A',1043,0,'array_in'),"
    "(1016,'_int8','bigint[]',-1,'A',20,0,'array_in'),"
    "(1021,'_float4','real[]',-1,'A',700,0,'array_in'),"
    "(1022,'_float8','double precision[]',-1,'A',701,0,'array_in'),"
    "(1028,'_oid','oid[]',-1,'A',26,0,'array_in'),"
    "(1115,'_timestamp','timestamp without time zone[]',-1,'A',1114,0,'array_in'),"
    "(1182,'_date','date[]',-1,'A',1082,0,'array_in'),"
    "(1183,'_time','time without time zone[]',-1,'A',1083,0,'array_in'),"
    "(1185,'_timestamptz','timestamp with time zone[]',-1,'A',1184,0,'array_in'),"
    "(1187,'_interval','interval[]',-1,'A',1186,0,'array_in'),"
    "(1231,'_numeric','numeric[]',-1,'A',1700,0,'array_in'),"
    "(1270,'_timetz','time with time zone[]',-1,'A',1266,0,'array_in'),"
    "(1561,'_bit','bit[]',-1,'A',1560,0,'array_in'),"
    "(1563,'_varbit','bit varying[]',-1,'A',1562,0,'array_in'),"
    "(199,'_json','json[]',-1,'A',114,0,'array_in'),"
    "(2210,'_regclass','regclass[]',-1,'A',2205,0,'array_in'),"
    "(2211,'_regtype','regtype[]',-1,'A',2206,0,'array_in'),"
    "(2287,'_record','record[]',-1,'A',2249,0,'array_in'),"
    "(2951,'_uuid','uuid[]',-1,'A',2950,0,'array_in'),"
    "(3807,'_jsonb','jsonb[]',-1,'A',3802,0,'array_in')"
    ") t(oid, typname, fmt, typlen, typcategory, typelem, typarray, typinput)";

/*
 * The overlay's statements, run in order by pgcatalog_install. Names
 * inside are fully qualified: view bodies must not depend on the caller's
 * search_path. Oids: 10 is the one role, 11 pg_catalog, 2 the heap access
 * method, 403 btree; indexes behind PRIMARY KEY/UNIQUE constraints get
 * 1e9 + table_oid * 1000 + constraint_index, constraints 2e9 + the same.
 */
static const char *const overlay_sql[] = {
    "ATTACH IF NOT EXISTS ':memory:' AS " OVERLAY " (READ_WRITE)",
    overlay_types_sql,

    /* DuckDB type name (duckdb_columns().data_type) -> PostgreSQL OID. */
    "CREATE OR REPLACE MACRO " OVERLAY ".scalar_oid(p_dt, p_id) AS CASE"
    " WHEN p_id = 104 THEN 1043"
    " WHEN p_dt = 'BOOLEAN' THEN 16"
    " WHEN p_dt IN ('TINYINT','SMALLINT','UTINYINT') THEN 21"
    " WHEN p_dt IN ('INTEGER','USMALLINT') THEN 23"
    " WHEN p_dt IN ('BIGINT','UINTEGER') THEN 20"
    " WHEN p_dt IN ('HUGEINT','UBIGINT','UHUGEINT','VARINT','BIGNUM') OR p_dt LIKE 'DECIMAL%' THEN 1700"
    " WHEN p_dt = 'FLOAT' THEN 700 WHEN p_dt = 'DOUBLE' THEN 701"
    " WHEN p_dt = 'VARCHAR' THEN 25 WHEN p_dt = 'JSON' THEN 114 WHEN p_dt = 'BLOB' THEN 17"
    " WHEN p_dt = 'DATE' THEN 1082 WHEN p_dt = 'TIME' THEN 1083"
    " WHEN p_dt = 'TIME WITH TIME ZONE' THEN 1266"
    " WHEN p_dt IN ('TIMESTAMP','TIMESTAMP_S','TIMESTAMP_MS','TIMESTAMP_NS') THEN 1114"
    " WHEN p_dt = 'TIMESTAMP WITH TIME ZONE' THEN 1184"
    " WHEN p_dt = 'INTERVAL' THEN 1186 WHEN p_dt = 'UUID' THEN 2950 WHEN p_dt = 'BIT' THEN 1562"
    " WHEN p_dt LIKE 'STRUCT%' OR p_dt LIKE 'MAP%' OR p_dt LIKE 'UNION%' THEN 114"
    " ELSE 25 END",
    "CREATE OR REPLACE MACRO " OVERLAY ".type_oid(p_dt, p_id) AS CASE"
    " WHEN regexp_matches(p_dt, '\\[\\d*\\]$') AND NOT regexp_matches(p_dt, '^(STRUCT|MAP|UNION)') THEN"
    " coalesce((SELECT t.typarray FROM " OVERLAY ".types t WHERE t.oid = " OVERLAY
    ".scalar_oid(regexp_replace(p_dt, '(\\[\\d*\\])+$', ''), 0) AND t.typarray <> 0), 114)"
    " ELSE " OVERLAY ".scalar_oid(p_dt, p_id) END",
    /* atttypmod as PostgreSQL encodes it: numeric ((p << 16) | s) + 4. */
    "CREATE OR REPLACE MACRO " OVERLAY ".type_mod(dt, prec, scale) AS CASE"
    " WHEN dt LIKE 'DECIMAL(%' THEN prec * 65536 + scale + 4 ELSE -1 END",

    "CREATE OR REPLACE MACRO " OVERLAY ".user_name() AS"
    " coalesce(CAST(getvariable('duckpond_user') AS VARCHAR), 'duckpond')",
    "CREATE OR REPLACE MACRO " OVERLAY ".nsp_name(s) AS CASE WHEN s = 'main' THEN 'public' ELSE s END",

    "CREATE OR REPLACE VIEW " OVERLAY ".pg_namespace AS"
    " SELECT oid, " OVERLAY ".nsp_name(schema_name) AS nspname, 10 AS nspowner,"
    " CAST(NULL AS VARCHAR[]) AS nspacl FROM duckdb_schemas()"
    " WHERE database_name = current_database()"
    " UNION ALL SELECT 11, 'pg_catalog', 10, NULL"
    " UNION ALL SELECT 13183, 'information_schema', 10, NULL",

    "CREATE OR REPLACE VIEW " OVERLAY ".pg_type AS SELECT oid, typname,"
    " 11 AS typnamespace, 10 AS typowner, typlen, typlen > 0 AND typlen <= 8 AS typbyval,"
    " CASE WHEN typcategory = 'P' THEN 'p' ELSE 'b' END AS typtype, typcategory,"
    " false AS typispreferred, true AS typisdefined, ',' AS typdelim, 0 AS typrelid,"
    " 0 AS typsubscript, typelem, typarray, typinput,"
    " replace(typinput, 'in', 'out') AS typoutput, 0 AS typreceive, 0 AS typsend,"
    " 0 AS typmodin, 0 AS typmodout, 0 AS typanalyze,"
    " CASE WHEN typlen = 8 THEN 'd' WHEN typlen = 4 THEN 'i' WHEN typlen = 2 THEN 's'"
    " WHEN typlen = 1 THEN 'c' ELSE 'i' END AS typalign,"
    " CASE WHEN typlen > 0 THEN 'p' ELSE 'x' END AS typstorage,"
    " false AS typnotnull, 0 AS typbasetype, -1 AS typtypmod, 0 AS typndims,"
    " CASE WHEN typcategory = 'S' AND oid <> 18 THEN 100 ELSE 0 END AS typcollation,"
    " CAST(NULL AS VARCHAR) AS typdefaultbin, CAST(NULL AS VARCHAR) AS typdefault,"
    " CAST(NULL AS VARCHAR[]) AS typacl FROM " OVERLAY ".types",

    /* Constraint-backed indexes: PRIMARY KEY and UNIQUE, as PostgreSQL makes them. */
    "CREATE OR REPLACE VIEW " OVERLAY ".con_index AS SELECT"
    " 1000000000 + table_oid * 1000 + constraint_index AS oid,"
    " 2000000000 + table_oid * 1000 + constraint_index AS con_oid,"
    " CASE WHEN constraint_type = 'PRIMARY KEY' THEN table_name || '_pkey'"
    " ELSE constraint_name END AS name, table_oid, schema_oid, schema_name, table_name,"
    " constraint_type = 'PRIMARY KEY' AS is_primary,"
    " regexp_extract(constraint_text, '\\((.*)\\)', 1) AS cols"
    " FROM duckdb_constraints() WHERE database_name = current_database()"
    " AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')",

    "CREATE OR REPLACE VIEW " OVERLAY ".pg_class AS"
    " SELECT table_oid AS oid, table_name AS relname, schema_oid AS relnamespace,"
    " 0 AS reltype, 0 AS reloftype, 10 AS relowner, 2 AS relam, 0 AS relfilenode,"
    " 0 AS reltablespace, 0 AS relpages, CAST(estimated_size AS REAL) AS reltuples,"
    " 0 AS relallvisible, 0 AS reltoastrelid,"
    " index_count > 0 OR has_primary_key OR EXISTS (SELECT 1 FROM " OVERLAY
    ".con_index ci WHERE ci.table_oid = t.table_oid) AS relhasindex,"
    " false AS relisshared, CASE WHEN temporary THEN 't' ELSE 'p' END AS relpersistence,"
    " 'r' AS relkind, column_count AS relnatts, check_constraint_count AS relchecks,"
    " false AS relhasrules, false AS relhastriggers, false AS relhassubclass,"
    " false AS relrowsecurity, false AS relforcerowsecurity, true AS relispopulated,"
    " 'd' AS relreplident, false AS relispartition, 0 AS relrewrite,"
    " 0 AS relfrozenxid, 0 AS relminmxid, CAST(NULL AS VARCHAR[]) AS relacl,"
    " CAST(NULL AS VARCHAR[]) AS reloptions, CAST(NULL AS VARCHAR) AS relpartbound"
    " FROM duckdb_tables() t WHERE database_name = current_database() AND NOT internal"
    " AND NOT starts_with(table_name, 'duckpond_')" /* our own bookkeeping */
    " UNION ALL SELECT view_oid, view_name, schema_oid, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0,"
    " false, false, CASE WHEN temporary THEN 't' ELSE 'p' END, 'v', column_count, 0,"
    " false, false, false, false, false, true, 'n', false, 0, 0, 0, NULL, NULL, NULL"
    " FROM duckdb_views() WHERE database_name = current_database() AND NOT internal"
    " UNION ALL SELECT sequence_oid, sequence_name, schema_oid, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0,"
    " false, false, CASE WHEN temporary THEN 't' ELSE 'p' END, 'S', 3, 0,"
    " false, false, false, false, false, true, 'n', false, 0, 0, 0, NULL, NULL, NULL"
    " FROM duckdb_sequences() WHERE database_name = current_database()"
    " UNION ALL SELECT index_oid, index_name, schema_oid, 0, 0, 10, 403, 0, 0, 0, 0, 0, 0,"
    " false, false, 'p', 'i', 1, 0,"
    " false, false, false, false, false, true, 'n', false, 0, 0, 0, NULL, NULL, NULL"
    " FROM duckdb_indexes() WHERE database_name = current_database()"
    " UNION ALL SELECT oid, name, schema_oid, 0, 0, 10, 403, 0, 0, 0, 0, 0, 0,"
    " false, false, 'p', 'i', 1, 0,"
    " false, false, false, false, false, true, 'n', false, 0, 0, 0, NULL, NULL, NULL"
    " FROM " OVERLAY ".con_index",

    "CREATE OR REPLACE VIEW " OVERLAY ".pg_attribute AS SELECT"
    " table_oid AS attrelid, column_name AS attname,"
    " " OVERLAY ".type_oid(data_type, data_type_id) AS atttypid, -1 AS attstattarget,"
    " -1 AS attlen, column_index AS attnum, 0 AS attndims, -1 AS attcacheoff,"
    " " OVERLAY ".type_mod(data_type, numeric_precision, numeric_scale) AS atttypmod,"
    " false AS attbyval, 'p' AS attalign, 'x' AS attstorage, '' AS attcompression,"
    " NOT is_nullable AS attnotnull, column_default IS NOT NULL AS atthasdef,"
    " false AS atthasmissing, '' AS attidentity, '' AS attgenerated,"
    " false AS attisdropped, true AS attislocal, 0 AS attinhcount,"
    " CASE WHEN data_type = 'VARCHAR' THEN 100 ELSE 0 END AS attcollation,"
    " CAST(NULL AS VARCHAR[]) AS attacl, CAST(NULL AS VARCHAR[]) AS attoptions,"
    " CAST(NULL AS VARCHAR[]) AS attfdwoptions, CAST(NULL AS VARCHAR) AS attmissingval"
    " FROM duckdb_columns() WHERE database_name = current_database() AND NOT internal",

    "CREATE OR REPLACE VIEW " OVERLAY ".pg_attrdef AS SELECT"
    " table_oid * 1000 + column_index AS oid, table_oid AS adrelid,"
    " column_index AS adnum, column_default AS adbin FROM duckdb_columns()"
    " WHERE database_name = current_database() AND column_default IS NOT NULL",

    "CREATE OR REPLACE VIEW " OVERLAY ".pg_index AS"
    " SELECT oid AS indexrelid, table_oid AS indrelid, 1 AS indnatts, 1 AS indnkeyatts,"
    " true AS indisunique, is_primary AS indisprimary, false AS indisexclusion,"
    " true AS indimmediate, false AS indisclustered, true AS indisvalid,"
    " false AS indcheckxmin, true AS indisready, true AS indislive,"
    " false AS indisreplident, CAST([] AS SMALLINT[]) AS indkey,"
    " CAST([] AS BIGINT[]) AS indcollation, CAST([] AS BIGINT[]) AS indclass,"
    " CAST([] AS SMALLINT[]) AS indoption, CAST(NULL AS VARCHAR) AS indexprs,"
    " CAST(NULL AS VARCHAR) AS indpred FROM " OVERLAY ".con_index"
    " UNION ALL SELECT index_oid, table_oid, 1, 1, is_unique, is_primary, false, true,"
    " false, true, false, true, true, false, [], [], [], [], expressions, NULL"
    " FROM duckdb_indexes() WHERE database_name = current_database()",

    "CREATE OR REPLACE VIEW " OVERLAY ".pg_constraint AS SELECT"
    " 2000000000 + c.table_oid * 1000 + c.constraint_index AS oid,"
    " CASE WHEN c.constraint_type = 'PRIMARY KEY' THEN c.table_name || '_pkey'"
    " ELSE c.constraint_name END AS conname, c.schema_oid AS connamespace,"
    " CASE c.constraint_type WHEN 'CHECK' THEN 'c' WHEN 'UNIQUE' THEN 'u'"
    " WHEN 'PRIMARY KEY' THEN 'p' WHEN 'FOREIGN KEY' THEN 'f' ELSE 'x' END AS contype,"
    " false AS condeferrable, false AS condeferred, true AS convalidated,"
    " c.table_oid AS conrelid, 0 AS contypid,"
    " CASE WHEN c.constraint_type IN ('PRIMARY KEY', 'UNIQUE')"
    " THEN 1000000000 + c.table_oid * 1000 + c.constraint_index ELSE 0 END AS conindid,"
    " 0 AS conparentid, 0 AS confrelid, ' ' AS confupdtype, ' ' AS confdeltype,"
    " ' ' AS confmatchtype, true AS conislocal, 0 AS coninhcount, true AS connoinherit,"
    " CAST(c.constraint_column_indexes AS SMALLINT[]) AS conkey,"
    " CAST(NULL AS SMALLINT[]) AS confkey, c.constraint_text AS condef,"
    " CAST(c.expression AS VARCHAR) AS conbin"
    " FROM duckdb_constraints() c WHERE c.database_name = current_database()"
    " AND c.constraint_type <> 'NOT NULL'",

    "CREATE OR REPLACE VIEW " OVERLAY ".pg_roles AS SELECT 10 AS oid,"
    " " OVERLAY ".user_name() AS rolname, true AS rolsuper, true AS rolinherit,"
    " true AS rolcreaterole, true AS rolcreatedb, true AS rolcanlogin,"
    " false AS rolreplication, -1 AS rolconnlimit, '********' AS rolpassword,"
    " CAST(NULL AS TIMESTAMPTZ) AS rolvaliduntil, false AS rolbypassrls,"
    " CAST(NULL AS VARCHAR[]) AS rolconfig",
    "CREATE OR REPLACE VIEW " OVERLAY ".pg_user AS SELECT rolname AS usename,"
    " oid AS usesysid, rolcreatedb AS usecreatedb, rolsuper AS usesuper,"
    " rolreplication AS userepl, rolbypassrls AS usebypassrls, rolpassword AS passwd,"
    " rolvaliduntil AS valuntil, rolconfig AS useconfig FROM " OVERLAY ".pg_roles",
    "CREATE OR REPLACE VIEW " OVERLAY ".pg_auth_members AS SELECT 0 AS oid,"
    " 0 AS roleid, 0 AS member, 0 AS grantor, false AS admin_option WHERE false",

    "CREATE OR REPLACE VIEW " OVERLAY ".pg_database AS SELECT database_oid AS oid,"
    " database_name AS datname, 10 AS datdba, 6 AS encoding, 'c' AS datlocprovider,"
    " false AS datistemplate, true AS datallowconn, -1 AS datconnlimit,"
    " 0 AS datfrozenxid, 0 AS datminmxid, 1663 AS dattablespace,"
    " 'C' AS datcollate, 'C' AS datctype, CAST(NULL AS VARCHAR) AS daticulocale,"
    " CAST(NULL AS VARCHAR) AS datcollversion, CAST(NULL AS VARCHAR[]) AS datacl"
    " FROM duckdb_databases() WHERE NOT internal AND database_name <> '" OVERLAY "'",

    "CREATE OR REPLACE VIEW " OVERLAY ".pg_am AS SELECT * FROM (VALUES"
    " (2, 'heap', 'heap_tableam_handler', 't'), (403, 'btree', 'bthandler', 'i'))"
    " t(oid, amname, amhandler, amtype)",
    "CREATE OR REPLACE VIEW " OVERLAY ".pg_collation AS SELECT * FROM (VALUES"
    " (100, 'default', 11, 10, 'd', true, -1, CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR)),"
    " (950, 'C', 11, 10, 'c', true, -1, 'C', 'C'))"
    " t(oid, collname, collnamespace, collowner, collprovider, collisdeterministic,"
    " collencoding, collcollate, collctype)",
    "CREATE OR REPLACE VIEW " OVERLAY ".pg_tablespace AS SELECT * FROM (VALUES"
    " (1663, 'pg_default', 10), (1664, 'pg_global', 10)) t(oid, spcname, spcowner)",

    /* Always empty: no inheritance, partitions, policies, publications, ... */
    "CREATE OR REPLACE VIEW " OVERLAY ".pg_inherits AS SELECT 0 AS inhrelid,"
    " 0 AS inhparent, 0 AS inhseqno, false AS inhdetachpending WHERE false",
    "CREATE OR REPLACE VIEW " OVERLAY ".pg_partitioned_table AS SELECT 0 AS partrelid,"
    " 'h' AS partstrat, 0 AS partnatts, 0 AS partdefid, CAST([] AS SMALLINT[]) AS partattrs,"
    " CAST(NULL AS VARCHAR) AS partexprs WHERE false",
    "CREATE OR REPLACE VIEW " OVERLAY ".pg_policy AS SELECT 0 AS oid, '' AS polname,"
    " 0 AS polrelid, 'r' AS polcmd, true AS polpermissive, CAST([] AS BIGINT[]) AS polroles,"
    " CAST(NULL AS VARCHAR) AS polqual, CAST(NULL AS VARCHAR) AS polwithcheck WHERE false",
    "CREATE OR REPLACE VIEW " OVERLAY ".pg_statistic_ext AS SELECT 0 AS oid,"
    " 0 AS stxrelid, '' AS stxname, 0 AS stxnamespace, 0 AS stxowner,"
    " -1 AS stxstattarget, CAST([] AS SMALLINT[]) AS stxkeys,"
    " CAST([] AS VARCHAR[]) AS stxkind, CAST(NULL AS VARCHAR) AS stxexprs WHERE false",
    "CREATE OR REPLACE VIEW " OVERLAY ".pg_publication AS SELECT 0 AS oid, '' AS pubname,"
    " 10 AS pubowner, false AS puballtables, false AS pubinsert, false AS pubupdate,"
    " false AS pubdelete, false AS pubtruncate, false AS pubviaroot WHERE false",
    "CREATE OR REPLACE VIEW " OVERLAY ".pg_publication_namespace AS SELECT 0 AS oid,"
    " 0 AS pnpubid, 0 AS pnnspid WHERE false",
    "CREATE OR REPLACE VIEW " OVERLAY ".pg_publication_rel AS SELECT 0 AS oid,"
    " 0 AS prpubid, 0 AS prrelid, CAST(NULL AS VARCHAR) AS prqual,"
    " CAST([] AS SMALLINT[]) AS prattrs WHERE false",
    "CREATE OR REPLACE VIEW " OVERLAY ".pg_trigger AS SELECT 0 AS oid, 0 AS tgrelid,"
    " 0 AS tgparentid, '' AS tgname, 0 AS tgfoid, 0 AS tgtype, 'O' AS tgenabled,"
    " false AS tgisinternal, 0 AS tgconstrrelid, 0 AS tgconstrindid,"
    " 0 AS tgconstraint WHERE false",
    "CREATE OR REPLACE VIEW " OVERLAY ".pg_rewrite AS SELECT 0 AS oid, '' AS rulename,"
    " 0 AS ev_class, '1' AS ev_type, 'O' AS ev_enabled, false AS is_instead WHERE false",
    "CREATE OR REPLACE VIEW " OVERLAY ".pg_extension AS SELECT 0 AS oid, '' AS extname,"
    " 10 AS extowner, 11 AS extnamespace, false AS extrelocatable,"
    " '' AS extversion WHERE false",
    "CREATE OR REPLACE VIEW " OVERLAY ".pg_foreign_table AS SELECT 0 AS ftrelid,"
    " 0 AS ftserver, CAST(NULL AS VARCHAR[]) AS ftoptions WHERE false",
    "CREATE OR REPLACE VIEW " OVERLAY ".pg_description AS SELECT 0 AS objoid,"
    " 0 AS classoid, 0 AS objsubid, '' AS description WHERE false",

    "CREATE OR REPLACE VIEW " OVERLAY ".pg_tables AS SELECT "
    OVERLAY ".nsp_name(schema_name) AS schemaname, table_name AS tablename,"
    " " OVERLAY ".user_name() AS tableowner, CAST(NULL AS VARCHAR) AS tablespace,"
    " index_count > 0 OR has_primary_key AS hasindexes, false AS hasrules,"
    " false AS hastriggers, false AS rowsecurity FROM duckdb_tables()"
    " WHERE database_name = current_database() AND NOT internal"
    " AND NOT starts_with(table_name, 'duckpond_')",
    "CREATE OR REPLACE VIEW " OVERLAY ".pg_views AS SELECT "
    OVERLAY ".nsp_name(schema_name) AS schemaname, view_name AS viewname,"
    " " OVERLAY ".user_name() AS viewowner, sql AS definition FROM duckdb_views()"
    " WHERE database_name = current_database() AND NOT internal",

    /* Functions. */
    "CREATE OR REPLACE MACRO " OVERLAY ".pg_get_userbyid(id) AS " OVERLAY ".user_name()",
    "CREATE OR REPLACE MACRO " OVERLAY ".pg_table_is_visible(p_oid) AS coalesce((SELECT"
    " n.nspname = 'public' FROM " OVERLAY ".pg_class c JOIN " OVERLAY ".pg_namespace n"
    " ON c.relnamespace = n.oid WHERE c.oid = p_oid LIMIT 1), false)",
    "CREATE OR REPLACE MACRO " OVERLAY ".pg_type_is_visible(id) AS true",
    "CREATE OR REPLACE MACRO " OVERLAY ".format_type(p_oid, p_typmod) AS"
    " (SELECT CASE WHEN t.oid = 1700 AND p_typmod >= 4 THEN 'numeric(' ||"
    " ((p_typmod - 4) // 65536) || ',' || ((p_typmod - 4) % 65536) || ')'"
    " WHEN t.oid IN (1043, 1042) AND p_typmod >= 4 THEN t.fmt || '(' || (p_typmod - 4) || ')'"
    " ELSE t.fmt END FROM " OVERLAY ".types t WHERE t.oid = p_oid)",
    "CREATE OR REPLACE MACRO " OVERLAY ".pg_get_expr(expr, rel) AS CAST(expr AS VARCHAR),"
    " (expr, rel, pretty) AS CAST(expr AS VARCHAR)",
    "CREATE OR REPLACE MACRO " OVERLAY ".indexdef(p_oid) AS coalesce("
    "(SELECT 'CREATE UNIQUE INDEX ' || ci.name || ' ON ' || " OVERLAY ".nsp_name(ci.schema_name) ||"
    " '.' || ci.table_name || ' USING btree (' || ci.cols || ')' FROM " OVERLAY ".con_index ci"
    " WHERE ci.oid = p_oid),"
    " (SELECT 'CREATE ' || CASE WHEN i.is_unique THEN 'UNIQUE ' ELSE '' END || 'INDEX ' ||"
    " i.index_name || ' ON ' || " OVERLAY ".nsp_name(i.schema_name) || '.' || i.table_name ||"
    " ' USING art (' || coalesce(regexp_extract(i.sql, '\\((.*)\\)', 1), '') || ')'"
    " FROM duckdb_indexes() i WHERE i.index_oid = p_oid))",
    "CREATE OR REPLACE MACRO " OVERLAY ".pg_get_indexdef(id) AS " OVERLAY ".indexdef(id),"
    " (id, col, pretty) AS " OVERLAY ".indexdef(id)",
    "CREATE OR REPLACE MACRO " OVERLAY ".constraintdef(p_oid) AS (SELECT regexp_replace(regexp_replace(c.condef, '^(PRIMARY KEY|UNIQUE|CHECK|FOREIGN KEY)\\(',"
    " '\\1 ('), '^CHECK \\(\\((.*)\\)\\)$', 'CHECK (\\1)') FROM " OVERLAY ".pg_constraint c"
    " WHERE c.oid = p_oid)",
    "CREATE OR REPLACE MACRO " OVERLAY ".pg_get_constraintdef(id) AS " OVERLAY ".constraintdef(id),"
    " (id, pretty) AS " OVERLAY ".constraintdef(id)",
    "CREATE OR REPLACE MACRO " OVERLAY ".pg_get_statisticsobjdef_columns(id) AS CAST(NULL AS VARCHAR)",
    "CREATE OR REPLACE MACRO " OVERLAY ".pg_relation_is_publishable(id) AS false",
    "CREATE OR REPLACE MACRO " OVERLAY ".pg_encoding_to_char(enc) AS"
    " CASE WHEN enc = 6 THEN 'UTF8' WHEN enc = 0 THEN 'SQL_ASCII' ELSE '' END",
    "CREATE OR REPLACE MACRO " OVERLAY ".pg_backend_pid() AS"
    " coalesce(CAST(getvariable('duckpond_pid') AS INTEGER), 0)",
    "CREATE OR REPLACE MACRO " OVERLAY ".pg_is_in_recovery() AS false",
    "CREATE OR REPLACE MACRO " OVERLAY ".pg_table_size(id) AS 0",
    "CREATE OR REPLACE MACRO " OVERLAY ".pg_total_relation_size(id) AS 0",
    "CREATE OR REPLACE MACRO " OVERLAY ".pg_relation_size(id) AS 0",
    "CREATE OR REPLACE MACRO " OVERLAY ".obj_description(id) AS CAST(NULL AS VARCHAR),"
    " (id, cat) AS CAST(NULL AS VARCHAR)",
    "CREATE OR REPLACE MACRO " OVERLAY ".col_description(id, n) AS CAST(NULL AS VARCHAR)",
    "CREATE OR REPLACE MACRO " OVERLAY ".shobj_description(id, cat) AS CAST(NULL AS VARCHAR)",
    "CREATE OR REPLACE MACRO " OVERLAY ".array_upper(l, d) AS"
    " CASE WHEN len(l) = 0 THEN NULL ELSE len(l) END",
    "CREATE OR REPLACE MACRO " OVERLAY ".array_lower(l, d) AS"
    " CASE WHEN len(l) = 0 THEN NULL ELSE 1 END",
    "CREATE OR REPLACE MACRO " OVERLAY ".current_schemas(implicit) AS"
    " CASE WHEN implicit THEN ['pg_catalog', 'public'] ELSE ['public'] END",
    "CREATE OR REPLACE MACRO " OVERLAY ".current_schema() AS"
    " " OVERLAY ".nsp_name(system.main.current_schema())",
    "CREATE OR REPLACE MACRO " OVERLAY ".version() AS 'PostgreSQL 16.4 (duckpond on DuckDB '"
    " || system.main.version() || ') on x86_64-pc-linux-gnu, 64-bit'",
    /* The reg* types: name -> oid for literals and parameters, oid -> name otherwise. */
    "CREATE OR REPLACE MACRO " OVERLAY ".regclass_oid(p_name) AS (SELECT c.oid FROM " OVERLAY
    ".pg_class c JOIN " OVERLAY ".pg_namespace n ON c.relnamespace = n.oid"
    " WHERE c.relname = split_part(replace(CAST(p_name AS VARCHAR), '\"', ''), '.', -1)"
    " AND (NOT contains(CAST(p_name AS VARCHAR), '.') OR n.nspname ="
    " split_part(replace(CAST(p_name AS VARCHAR), '\"', ''), '.', 1))"
    " ORDER BY n.nspname = 'public' DESC LIMIT 1)",
    "CREATE OR REPLACE MACRO " OVERLAY ".regclass_name(p_oid) AS coalesce((SELECT CASE"
    " WHEN n.nspname = 'public' THEN c.relname ELSE n.nspname || '.' || c.relname END"
    " FROM " OVERLAY ".pg_class c JOIN " OVERLAY ".pg_namespace n ON c.relnamespace = n.oid"
    " WHERE c.oid = p_oid LIMIT 1), CAST(p_oid AS VARCHAR))",
    "CREATE OR REPLACE MACRO " OVERLAY ".regtype_oid(p_name) AS (SELECT t.oid FROM " OVERLAY
    ".types t WHERE t.typname = lower(CAST(p_name AS VARCHAR)) OR t.fmt = lower(CAST(p_name AS VARCHAR))"
    " LIMIT 1)",
    "CREATE OR REPLACE MACRO " OVERLAY ".regtype_name(p_oid) AS coalesce((SELECT t.fmt FROM " OVERLAY
    ".types t WHERE t.oid = p_oid), CAST(p_oid AS VARCHAR))",
    "CREATE OR REPLACE MACRO " OVERLAY ".regnamespace_name(p_oid) AS coalesce((SELECT n.nspname"
    " FROM " OVERLAY ".pg_namespace n WHERE n.oid = p_oid), CAST(p_oid AS VARCHAR))",
    "CREATE OR REPLACE MACRO " OVERLAY ".regrole_name(id) AS " OVERLAY ".user_name()",
    "CREATE OR REPLACE MACRO " OVERLAY ".regproc_name(p_name) AS"
    " regexp_replace(CAST(p_name AS VARCHAR), '^pg_catalog\\.', '')",
};

int pgcatalog_install(duckdb_connection con, char *err, size_t errlen)
{
    size_t n = sizeof overlay_sql / sizeof overlay_sql[0];
    for (size_t i = 0; i < n; i++) {
        duckdb_result res;
        if (duckdb_query(con, overlay_sql[i], &res) != DuckDBSuccess) {
            const char *msg = duckdb_result_error(&res);
            snprintf(err, errlen, "pgcatalog: overlay statement %zu (%.60s) failed: %s", i,
                     overlay_sql[i], msg ? msg : "unknown error");
            duckdb_destroy_result(&res);
            return -1;
        }
        duckdb_destroy_result(&res);
    }
    return 0;
}

/* Runs one statement that returns nothing of interest. */
static int run_simple(duckdb_connection con, const char *sql, char *err, size_t errlen)
{
    duckdb_result res;
    int rc = 0;
    if (duckdb_query(con, sql, &res) != DuckDBSuccess) {
        const char *msg = duckdb_result_error(&res);
        snprintf(err, errlen, "pgcatalog: %s", msg ? msg : "unknown error");
        rc = -1;
    }
    duckdb_destroy_result(&res);
    return rc;
}

int pgcatalog_session_init(duckdb_connection con, char *err, size_t errlen)
{
    duckdb_result res;
    if (duckdb_query(con, "SELECT current_database()", &res) != DuckDBSuccess) {
        const char *msg = duckdb_result_error(&res);
        snprintf(err, errlen, "pgcatalog: %s", msg ? msg : "unknown error");
        duckdb_destroy_result(&res);
        return -1;
    }
    char *db = duckdb_value_varchar(&res, 0, 0);
    duckdb_destroy_result(&res);
    if (!db) {
        snprintf(err, errlen, "pgcatalog: no current database");
        return -1;
    }
    /* The user's database first: it stays the default for CREATE. */
    char sql[512];
    size_t k = 0;
    k += (size_t)snprintf(sql, sizeof sql, "SET search_path = '\"");
    for (const char *p = db; *p && k + 8 < sizeof sql; p++) {
        if (*p == '"')
            sql[k++] = '"'; /* doubled inside the quoted name */
        if (*p == '\'')
            sql[k++] = '\'';
        sql[k++] = *p;
    }
    duckdb_free(db);
    if (k + 64 >= sizeof sql) {
        snprintf(err, errlen, "pgcatalog: database name too long");
        return -1;
    }
    snprintf(sql + k, sizeof sql - k, "\".main," OVERLAY ".main'");
    return run_simple(con, sql, err, errlen);
}

/* ------------------------------------------------------------------ */
/* Tokenizer                                                           */
/* ------------------------------------------------------------------ */

enum tok_kind {
    TK_IDENT,  /* unquoted word, case-insensitive */
    TK_QIDENT, /* "quoted" name */
    TK_STRING, /* '...', E'...', B'...', X'...', N'...', U&'...' */
    TK_DOLLAR, /* $tag$...$tag$ */
    TK_PARAM,  /* $1 */
    TK_NUMBER,
    TK_OP,    /* operator characters, including :: */
    TK_PUNCT, /* ( ) [ ] , ; . : */
};

struct tok {
    enum tok_kind kind;
    size_t start, len;
    /* Edits: text put before, instead of (when repl_set), and after it. */
    char *pre, *repl, *post;
    bool repl_set;
};

struct toks {
    const char *src;
    size_t srclen;
    struct tok *v;
    size_t n, cap;
    bool edited;
    bool oom;
};

static bool is_ident_start(unsigned char c)
{
    return isalpha(c) || c == '_' || c >= 0x80;
}

static bool is_ident_char(unsigned char c)
{
    return isalnum(c) || c == '_' || c == '$' || c >= 0x80;
}

static bool is_op_char(char c)
{
    return c && strchr("+-*/<>=~!@#%^&|`?", c) != NULL;
}

static int toks_push(struct toks *t, enum tok_kind kind, size_t start, size_t len)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        struct tok *v = realloc(t->v, cap * sizeof *v);
        if (!v)
            return -1;
        t->v = v;
        t->cap = cap;
    }
    t->v[t->n++] = (struct tok){.kind = kind, .start = start, .len = len};
    return 0;
}

/* End of a quoted run starting after the opening quote q; backslash
 * escapes count when esc. Returns the index after the closing quote, or
 * 0 when unterminated. */
static size_t scan_quoted(const char *s, size_t n, size_t i, char q, bool esc)
{
    while (i < n) {
        if (esc && s[i] == '\\' && i + 1 < n) {
            i += 2;
            continue;
        }
        if (s[i] == q) {
            if (i + 1 < n && s[i + 1] == q) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i++;
    }
    return 0;
}

/* A dollar-quote opener "$tag$" at i: returns its length, or 0. */
static size_t dollar_tag_len(const char *s, size_t n, size_t i)
{
    size_t j = i + 1;
    if (j < n && s[j] == '$')
        return 2;
    if (j >= n || !is_ident_start((unsigned char)s[j]))
        return 0;
    while (j < n && is_ident_char((unsigned char)s[j]) && s[j] != '$')
        j++;
    return j < n && s[j] == '$' ? j - i + 1 : 0;
}

/* Skips whitespace and comments; returns the new index, or 0 with *bad set
 * on an unterminated block comment. */
static size_t skip_gap(const char *s, size_t n, size_t i, bool *bad)
{
    while (i < n) {
        if (isspace((unsigned char)s[i])) {
            i++;
        } else if (s[i] == '-' && i + 1 < n && s[i + 1] == '-') {
            while (i < n && s[i] != '\n')
                i++;
        } else if (s[i] == '/' && i + 1 < n && s[i + 1] == '*') {
            int depth = 1;
            i += 2;
            while (i < n && depth > 0) {
                if (s[i] == '/' && i + 1 < n && s[i + 1] == '*')
                    depth++, i += 2;
                else if (s[i] == '*' && i + 1 < n && s[i + 1] == '/')
                    depth--, i += 2;
                else
                    i++;
            }
            if (depth > 0) {
                *bad = true;
                return n;
            }
        } else {
            break;
        }
    }
    return i;
}

/* Length of an operator at i, by PostgreSQL's rules: stops before a
 * comment start; a trailing + or - stays only with one of ~!@#%^&|`?. */
static size_t scan_op(const char *s, size_t n, size_t i)
{
    size_t j = i;
    while (j < n && is_op_char(s[j])) {
        if (j > i && ((s[j] == '-' && s[j - 1] == '-') || (s[j] == '*' && s[j - 1] == '/')))
            return j - 1 - i > 0 ? j - 1 - i : 1;
        j++;
    }
    size_t len = j - i;
    bool special = false;
    for (size_t k = i; k < j; k++)
        if (strchr("~!@#%^&|`?", s[k]))
            special = true;
    while (len > 1 && !special && (s[i + len - 1] == '+' || s[i + len - 1] == '-'))
        len--;
    return len;
}

/* Splits src into tokens. Returns 0, or -1 on unterminated input or
 * out of memory (the statement is then passed through untouched). */
static int tokenize(struct toks *t)
{
    const char *s = t->src;
    size_t n = t->srclen, i = 0;
    while (i < n) {
        bool bad = false;
        i = skip_gap(s, n, i, &bad);
        if (bad)
            return -1;
        if (i >= n)
            break;
        size_t st = i;
        unsigned char c = (unsigned char)s[i];
        enum tok_kind kind;
        if ((c == 'E' || c == 'e' || c == 'B' || c == 'b' || c == 'X' || c == 'x' || c == 'N' ||
             c == 'n') &&
            i + 1 < n && s[i + 1] == '\'') {
            size_t e = scan_quoted(s, n, i + 2, '\'', c == 'E' || c == 'e');
            if (!e)
                return -1;
            i = e, kind = TK_STRING;
        } else if ((c == 'U' || c == 'u') && i + 2 < n && s[i + 1] == '&' &&
                   (s[i + 2] == '\'' || s[i + 2] == '"')) {
            size_t e = scan_quoted(s, n, i + 3, s[i + 2], false);
            if (!e)
                return -1;
            kind = s[i + 2] == '\'' ? TK_STRING : TK_QIDENT;
            i = e;
        } else if (is_ident_start(c)) {
            while (i < n && is_ident_char((unsigned char)s[i]))
                i++;
            kind = TK_IDENT;
        } else if (c == '\'') {
            size_t e = scan_quoted(s, n, i + 1, '\'', false);
            if (!e)
                return -1;
            i = e, kind = TK_STRING;
        } else if (c == '"') {
            size_t e = scan_quoted(s, n, i + 1, '"', false);
            if (!e)
                return -1;
            i = e, kind = TK_QIDENT;
        } else if (c == '$' && i + 1 < n && isdigit((unsigned char)s[i + 1])) {
            i++;
            while (i < n && isdigit((unsigned char)s[i]))
                i++;
            kind = TK_PARAM;
        } else if (c == '$') {
            size_t tl = dollar_tag_len(s, n, i);
            if (!tl)
                return -1;
            size_t j = i + tl;
            for (;;) {
                if (j + tl > n)
                    return -1;
                if (memcmp(s + j, s + i, tl) == 0)
                    break;
                j++;
            }
            i = j + tl, kind = TK_DOLLAR;
        } else if (isdigit(c) || (c == '.' && i + 1 < n && isdigit((unsigned char)s[i + 1]))) {
            while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '.' || s[i] == '_' ||
                             ((s[i] == '+' || s[i] == '-') && (s[i - 1] == 'e' || s[i - 1] == 'E'))))
                i++;
            kind = TK_NUMBER;
        } else if (c == ':' && i + 1 < n && s[i + 1] == ':') {
            i += 2, kind = TK_OP;
        } else if (is_op_char((char)c)) {
            i += scan_op(s, n, i), kind = TK_OP;
        } else {
            i++, kind = TK_PUNCT;
        }
        if (toks_push(t, kind, st, i - st) != 0)
            return -1;
    }
    return 0;
}

static void toks_free(struct toks *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].pre);
        free(t->v[i].repl);
        free(t->v[i].post);
    }
    free(t->v);
}

/* ------------------------------------------------------------------ */
/* Token helpers                                                       */
/* ------------------------------------------------------------------ */

/* The token at i is the word w: unquoted (any case) or quoted (exact). */
static bool tok_is(const struct toks *t, size_t i, const char *w)
{
    if (i >= t->n)
        return false;
    const struct tok *k = &t->v[i];
    size_t wl = strlen(w);
    if (k->kind == TK_IDENT)
        return k->len == wl && strncasecmp(t->src + k->start, w, wl) == 0;
    if (k->kind == TK_QIDENT)
        return k->len == wl + 2 && memcmp(t->src + k->start + 1, w, wl) == 0;
    return false;
}

static bool tok_punct(const struct toks *t, size_t i, char c)
{
    return i < t->n && t->v[i].kind == TK_PUNCT && t->src[t->v[i].start] == c;
}

static bool tok_op(const struct toks *t, size_t i, const char *op)
{
    return i < t->n && t->v[i].kind == TK_OP && t->v[i].len == strlen(op) &&
           memcmp(t->src + t->v[i].start, op, t->v[i].len) == 0;
}

static bool tok_is_name(const struct toks *t, size_t i)
{
    return i < t->n && (t->v[i].kind == TK_IDENT || t->v[i].kind == TK_QIDENT);
}

/* Copies the token's name, lower-cased when unquoted, into buf. */
static void tok_name(const struct toks *t, size_t i, char *buf, size_t cap)
{
    const struct tok *k = &t->v[i];
    const char *p = t->src + k->start;
    size_t len = k->len;
    if (k->kind == TK_QIDENT && len >= 2)
        p++, len -= 2;
    if (len >= cap)
        len = cap - 1;
    for (size_t j = 0; j < len; j++)
        buf[j] = k->kind == TK_IDENT ? (char)tolower((unsigned char)p[j]) : p[j];
    buf[len] = '\0';
}

/* A malloc'd printf; NULL when memory runs out. */
static char *xstrdup_printf(const char *fmt, ...)
{
    char *s;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    return n < 0 ? NULL : s;
}

/* Edits: replace, prefix, suffix. Text is copied. */
static void set_edit(struct toks *t, char **slot, const char *text, bool append)
{
    char *cur = *slot;
    char *next = append && cur ? xstrdup_printf("%s%s", cur, text) : xstrdup_printf("%s", text);
    if (!next) {
        t->oom = true;
        return;
    }
    free(cur);
    *slot = next;
    t->edited = true;
}

static void tok_replace(struct toks *t, size_t i, const char *text)
{
    set_edit(t, &t->v[i].repl, text, false);
    t->v[i].repl_set = true;
}

static void tok_delete(struct toks *t, size_t i)
{
    tok_replace(t, i, "");
}

/* Prefixes go outermost-last: a later wrap encloses an earlier one. */
static void tok_prefix(struct toks *t, size_t i, const char *text)
{
    char *cur = t->v[i].pre;
    char *next = xstrdup_printf("%s%s", text, cur ? cur : "");
    if (!next) {
        t->oom = true;
        return;
    }
    free(cur);
    t->v[i].pre = next;
    t->edited = true;
}

static void tok_suffix(struct toks *t, size_t i, const char *text)
{
    set_edit(t, &t->v[i].post, text, true);
}

static bool tok_deleted(const struct toks *t, size_t i)
{
    return t->v[i].repl_set && t->v[i].repl && !t->v[i].repl[0] && !t->v[i].pre && !t->v[i].post;
}

/* Index of the token matching the bracket at i (searching forward for
 * an opener, backward for a closer), or (size_t)-1. */
static size_t match_bracket(const struct toks *t, size_t i)
{
    char c = t->src[t->v[i].start];
    char open = c == ')' || c == '(' ? '(' : '[';
    char close = open == '(' ? ')' : ']';
    int step = c == open ? 1 : -1, depth = 0;
    for (size_t j = i; j < t->n; j += (size_t)step) {
        if (tok_punct(t, j, open))
            depth += step;
        else if (tok_punct(t, j, close))
            depth -= step;
        if (depth == 0)
            return j;
        if (j == 0 && step < 0)
            break;
    }
    return (size_t)-1;
}

/* Renders the tokens with their edits into a malloc'd string. */
static char *toks_render(const struct toks *t)
{
    size_t cap = t->srclen + 64, len = 0;
    for (size_t i = 0; i < t->n; i++) {
        const struct tok *k = &t->v[i];
        cap += (k->pre ? strlen(k->pre) : 0) + (k->repl ? strlen(k->repl) : 0) +
               (k->post ? strlen(k->post) : 0);
    }
    char *out = malloc(cap + 1);
    if (!out)
        return NULL;
    size_t prev = 0;
    for (size_t i = 0; i < t->n; i++) {
        const struct tok *k = &t->v[i];
        memcpy(out + len, t->src + prev, k->start - prev);
        len += k->start - prev;
        if (k->pre)
            len += (size_t)sprintf(out + len, "%s", k->pre);
        if (k->repl_set) {
            len += (size_t)sprintf(out + len, "%s", k->repl ? k->repl : "");
        } else {
            memcpy(out + len, t->src + k->start, k->len);
            len += k->len;
        }
        if (k->post)
            len += (size_t)sprintf(out + len, "%s", k->post);
        prev = k->start + k->len;
    }
    memcpy(out + len, t->src + prev, t->srclen - prev);
    len += t->srclen - prev;
    out[len] = '\0';
    return out;
}

/* ------------------------------------------------------------------ */
/* Token-level rewrites                                                */
/* ------------------------------------------------------------------ */

/* The overlay's relations and functions: pg_catalog.X names these go to it. */
static const char *const overlay_names[] = {
    "pg_namespace", "pg_type", "pg_class", "pg_attribute", "pg_attrdef", "pg_index",
    "pg_constraint", "pg_roles", "pg_user", "pg_auth_members", "pg_database", "pg_am",
    "pg_collation", "pg_tablespace", "pg_inherits", "pg_partitioned_table", "pg_policy",
    "pg_statistic_ext", "pg_publication", "pg_publication_namespace", "pg_publication_rel",
    "pg_trigger", "pg_rewrite", "pg_extension", "pg_foreign_table", "pg_description",
    "pg_tables", "pg_views",
    /* functions */
    "pg_get_userbyid", "pg_table_is_visible", "pg_type_is_visible", "format_type",
    "pg_get_expr", "pg_get_indexdef", "pg_get_constraintdef", "pg_get_statisticsobjdef_columns",
    "pg_relation_is_publishable", "pg_encoding_to_char", "pg_backend_pid", "pg_is_in_recovery",
    "pg_table_size", "pg_total_relation_size", "pg_relation_size", "obj_description",
    "col_description", "shobj_description", "array_upper", "array_lower", "current_schemas",
    "current_schema", "version",
};

static bool is_overlay_name(const char *name)
{
    for (size_t i = 0; i < sizeof overlay_names / sizeof overlay_names[0]; i++)
        if (strcmp(overlay_names[i], name) == 0)
            return true;
    return false;
}

/* Functions that are only ever ours: qualified even when written bare. */
static bool is_overlay_function(const char *name)
{
    static const char *const fns[] = {
        "pg_get_userbyid", "pg_table_is_visible", "format_type", "pg_get_expr",
        "pg_get_indexdef", "pg_get_constraintdef", "pg_get_statisticsobjdef_columns",
        "pg_relation_is_publishable", "pg_encoding_to_char", "pg_backend_pid",
        "pg_is_in_recovery", "array_upper", "array_lower", "current_schemas",
        "current_schema", "version", "obj_description", "col_description",
        "shobj_description", "pg_table_size", "pg_total_relation_size", "pg_relation_size",
    };
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
        if (strcmp(fns[i], name) == 0)
            return true;
    return false;
}

/* pg_catalog.X -> duckpond_pg.X for the overlay's names, plain X otherwise;
 * public.X -> main.X (DuckDB's default schema). */
static void rw_qualifiers(struct toks *t)
{
    char name[128];
    for (size_t i = 0; i + 2 < t->n; i++) {
        if (!tok_punct(t, i + 1, '.') || !tok_is_name(t, i + 2))
            continue;
        if (i > 0 && tok_punct(t, i - 1, '.'))
            continue; /* db.pg_catalog.x: leave alone */
        if (tok_is(t, i, "pg_catalog")) {
            tok_name(t, i + 2, name, sizeof name);
            if (is_overlay_name(name)) {
                tok_replace(t, i, OVERLAY);
            } else {
                tok_delete(t, i);
                tok_delete(t, i + 1);
            }
        } else if (tok_is(t, i, "public")) {
            tok_replace(t, i, "main");
        }
    }
}

/* Bare calls of the overlay's functions: f( -> duckpond_pg.f( so that a
 * session without our search_path still gets them. */
static void rw_bare_functions(struct toks *t)
{
    char name[128];
    for (size_t i = 0; i + 1 < t->n; i++) {
        if (t->v[i].kind != TK_IDENT || !tok_punct(t, i + 1, '('))
            continue;
        if (i > 0 && (tok_punct(t, i - 1, '.') || tok_deleted(t, i - 1)))
            continue;
        tok_name(t, i, name, sizeof name);
        if (is_overlay_function(name))
            tok_prefix(t, i, OVERLAY ".");
    }
}

/* OPERATOR(pg_catalog.op) -> op. */
static void rw_operator(struct toks *t)
{
    for (size_t i = 0; i + 3 < t->n; i++) {
        if (!tok_is(t, i, "operator") || !tok_punct(t, i + 1, '('))
            continue;
        size_t j = i + 2;
        if (tok_is(t, j, "pg_catalog") && tok_punct(t, j + 1, '.'))
            j += 2;
        if (j + 1 >= t->n || t->v[j].kind != TK_OP || !tok_punct(t, j + 1, ')'))
            continue;
        for (size_t k = i; k <= j + 1; k++)
            if (k != j)
                tok_delete(t, k);
        tok_prefix(t, j, " ");
        tok_suffix(t, j, " ");
        i = j + 1;
    }
}

/* COLLATE pg_catalog.default / COLLATE "default" -> nothing. */
static void rw_collate(struct toks *t)
{
    for (size_t i = 0; i + 1 < t->n; i++) {
        if (!tok_is(t, i, "collate"))
            continue;
        size_t j = i + 1;
        if (tok_is(t, j, "pg_catalog") && tok_punct(t, j + 1, '.'))
            j += 2;
        if (!tok_is(t, j, "default"))
            continue;
        for (size_t k = i; k <= j; k++)
            tok_delete(t, k);
    }
}

/* PostgreSQL's ~ finds a match anywhere; DuckDB's ~ must match the whole
 * string. With a literal or parameter pattern, wrap it so a whole-string
 * match means the same as PostgreSQL's search. ~* and !~* become
 * case-insensitive patterns. */
static void rw_regex(struct toks *t)
{
    for (size_t i = 0; i + 1 < t->n; i++) {
        bool ci;
        if (tok_op(t, i, "~") || tok_op(t, i, "!~"))
            ci = false;
        else if (tok_op(t, i, "~*") || tok_op(t, i, "!~*"))
            ci = true;
        else
            continue;
        size_t before = i;
        while (before > 0 && tok_deleted(t, before - 1))
            before--; /* OPERATOR(pg_catalog. ... ) already dropped */
        if (before == 0 || t->v[before - 1].kind == TK_OP || tok_punct(t, before - 1, '(') ||
            tok_punct(t, before - 1, ','))
            continue; /* prefix ~ is bitwise not */
        size_t p = i + 1;
        const struct tok *k = &t->v[p];
        const char *head = ci ? "(?s:.*)(?i:" : "(?s:.*)(?:";
        if (k->kind == TK_STRING && t->src[k->start] == '\'') {
            /* plain '...': splice the wrap inside the quotes */
            char *lit = xstrdup_printf("'%s%.*s)(?s:.*)'", head, (int)(k->len - 2),
                                       t->src + k->start + 1);
            if (!lit) {
                t->oom = true;
                return;
            }
            tok_replace(t, p, lit);
            free(lit);
        } else if (k->kind == TK_STRING || k->kind == TK_PARAM || k->kind == TK_DOLLAR) {
            char *pre = xstrdup_printf("('%s' || ", head);
            if (!pre) {
                t->oom = true;
                return;
            }
            tok_prefix(t, p, pre);
            free(pre);
            tok_suffix(t, p, " || ')(?s:.*)')");
        } else {
            continue;
        }
        if (ci)
            tok_replace(t, i, t->src[t->v[i].start] == '!' ? "!~" : "~");
    }
}

/* Start index of the primary expression that ends at token e (inclusive):
 * a name chain a.b.c, a literal, a call f(...), a parenthesised group,
 * subscripts, and casts already applied to it. (size_t)-1 if unknown. */
static size_t operand_start(const struct toks *t, size_t e)
{
    size_t s = e;
    for (;;) {
        if (tok_punct(t, s, ')') || tok_punct(t, s, ']')) {
            size_t o = match_bracket(t, s);
            if (o == (size_t)-1)
                return (size_t)-1;
            s = o;
            if (tok_punct(t, o, '(') && o > 0 && t->v[o - 1].kind == TK_IDENT)
                s = o - 1; /* a call */
            else if (tok_punct(t, o, '[') && o > 0) {
                s = o - 1; /* subscript: continue with what it applies to */
                continue;
            }
        } else if (t->v[s].kind == TK_PUNCT || t->v[s].kind == TK_OP) {
            return (size_t)-1;
        }
        while (s >= 2 && tok_punct(t, s - 1, '.') && tok_is_name(t, s - 2))
            s -= 2;
        while (s >= 2 && tok_punct(t, s - 1, '.') && tok_deleted(t, s - 1) && tok_deleted(t, s - 2))
            s -= 2;
        if (s >= 2 && tok_op(t, s - 1, "::")) {
            s -= 2; /* x::type::type2: the operand is x */
            continue;
        }
        return s;
    }
}

/* ::regclass and friends become calls of the overlay's functions; ::oid,
 * ::name, ::"char", ::regproc become the DuckDB types that hold them. */
static void rw_casts(struct toks *t)
{
    char name[64];
    for (size_t i = 1; i + 1 < t->n; i++) {
        if (!tok_op(t, i, "::"))
            continue;
        size_t ty = i + 1;
        if (tok_is(t, ty, "pg_catalog") && tok_punct(t, ty + 1, '.'))
            ty += 2;
        if (!tok_is_name(t, ty))
            continue;
        tok_name(t, ty, name, sizeof name);
        const char *simple = NULL;
        if (!strcmp(name, "oid") || !strcmp(name, "xid") || !strcmp(name, "regrole_oid"))
            simple = "BIGINT";
        else if (!strcmp(name, "name") || !strcmp(name, "char") || !strcmp(name, "bpchar"))
            simple = "VARCHAR";
        if (simple && t->v[ty].kind == TK_QIDENT && strcmp(name, "char") != 0)
            simple = NULL; /* a quoted user type */
        if (simple) {
            tok_replace(t, ty, simple);
            continue;
        }
        const char *fn = NULL;
        size_t s = operand_start(t, i - 1);
        if (s == (size_t)-1)
            continue;
        bool literal = s == i - 1 && (t->v[s].kind == TK_STRING || t->v[s].kind == TK_PARAM);
        if (!strcmp(name, "regclass"))
            fn = literal ? "regclass_oid" : "regclass_name";
        else if (!strcmp(name, "regtype"))
            fn = literal ? "regtype_oid" : "regtype_name";
        else if (!strcmp(name, "regnamespace"))
            fn = "regnamespace_name";
        else if (!strcmp(name, "regrole"))
            fn = "regrole_name";
        else if (!strcmp(name, "regproc") || !strcmp(name, "regprocedure"))
            fn = "regproc_name";
        if (!fn)
            continue;
        char pre[64];
        snprintf(pre, sizeof pre, OVERLAY ".%s(", fn);
        tok_prefix(t, s, pre);
        for (size_t k = i; k <= ty; k++)
            tok_delete(t, k);
        tok_suffix(t, ty, ")");
    }
}

/* Words that end a FROM item rather than name its alias. */
static bool is_clause_word(const struct toks *t, size_t i)
{
    static const char *const words[] = {
        "where", "join", "left", "right", "inner", "outer", "cross", "full", "natural",
        "on", "using", "group", "order", "limit", "offset", "union", "except", "intersect",
        "having", "window", "fetch", "for", "lateral", "with", "returning", "as", "select",
    };
    for (size_t k = 0; k < sizeof words / sizeof words[0]; k++)
        if (tok_is(t, i, words[k]) && t->v[i].kind == TK_IDENT)
            return true;
    return false;
}

/* FROM generate_series(...) s -> ... s(s): PostgreSQL names the single
 * column after the alias, and queries then use s as a value. */
static void rw_srf_alias(struct toks *t)
{
    for (size_t i = 0; i + 1 < t->n; i++) {
        if (!tok_is(t, i, "generate_series") || !tok_punct(t, i + 1, '('))
            continue;
        size_t close = match_bracket(t, i + 1);
        if (close == (size_t)-1)
            continue;
        size_t a = close + 1;
        if (tok_is(t, a, "as") && t->v[a].kind == TK_IDENT)
            a++;
        if (!tok_is_name(t, a) || is_clause_word(t, a) || tok_punct(t, a + 1, '('))
            continue;
        if (tok_punct(t, a + 1, '.'))
            continue;
        char *col = xstrdup_printf("(%.*s)", (int)t->v[a].len, t->src + t->v[a].start);
        if (!col) {
            t->oom = true;
            return;
        }
        tok_suffix(t, a, col);
        free(col);
    }
}

/* polroles = '{0}' (psql's \d): PostgreSQL's array literal as DuckDB's. */
static void rw_array_literal(struct toks *t)
{
    for (size_t i = 0; i + 2 < t->n; i++) {
        if (!tok_is(t, i, "polroles") || !tok_op(t, i + 1, "="))
            continue;
        const struct tok *k = &t->v[i + 2];
        if (k->kind != TK_STRING || k->len < 4 || t->src[k->start] != '\'' ||
            t->src[k->start + 1] != '{' || t->src[k->start + k->len - 2] != '}')
            continue;
        char *lit = xstrdup_printf("'[%.*s]'", (int)(k->len - 4), t->src + k->start + 2);
        if (!lit) {
            t->oom = true;
            return;
        }
        tok_replace(t, i + 2, lit);
        free(lit);
    }
}

/* ------------------------------------------------------------------ */
/* Statement-level rewrites                                            */
/* ------------------------------------------------------------------ */

struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/* Source text of tokens a..b inclusive. */
static void sb_toks(struct sbuf *b, const struct toks *t, size_t a, size_t z)
{
    sb_add(b, t->src + t->v[a].start, t->v[z].start + t->v[z].len - t->v[a].start);
}

/* Reads a comma-separated list of (possibly qualified) names from *i up
 * to the end or a stop word; stores [start, end] token pairs. Returns the
 * count, or -1 if something else is in the way. */
static int read_name_list(const struct toks *t, size_t *i, size_t (*items)[2], int max,
                          const char *const *stops)
{
    int n = 0;
    while (*i < t->n) {
        size_t a = *i;
        if (!tok_is_name(t, a))
            return -1;
        size_t z = a;
        while (tok_punct(t, z + 1, '.') && tok_is_name(t, z + 2))
            z += 2;
        if (tok_op(t, z + 1, "*"))
            z++; /* TRUNCATE t * (with descendants) */
        if (n == max)
            return -1;
        items[n][0] = a, items[n][1] = z;
        n++;
        *i = z + 1;
        if (tok_punct(t, *i, ',')) {
            (*i)++;
            continue;
        }
        break;
    }
    for (; *i < t->n; (*i)++) {
        bool ok = false;
        for (const char *const *w = stops; *w; w++)
            if (tok_is(t, *i, *w))
                ok = true;
        if (!ok && !tok_punct(t, *i, ';'))
            return -1;
    }
    return n;
}

/* Text of a table name, the trailing '*' (descendants) dropped, a leading
 * public. turned into main. */
static void sb_name(struct sbuf *b, const struct toks *t, size_t a, size_t z)
{
    if (tok_op(t, z, "*"))
        z--;
    if (a + 2 <= z && tok_is(t, a, "public") && tok_punct(t, a + 1, '.')) {
        sb_str(b, "main.");
        a += 2;
    }
    sb_toks(b, t, a, z);
}

#define MAX_LIST 256

/* DROP kind [IF EXISTS] a, b [CASCADE|RESTRICT] -> one DROP per name. */
static enum pgcatalog_action st_drop(const struct toks *t, char **out, const char **tag)
{
    static const struct {
        const char *word, *tag;
    } kinds[] = {
        {"table", "DROP TABLE"}, {"view", "DROP VIEW"}, {"sequence", "DROP SEQUENCE"},
        {"index", "DROP INDEX"}, {"schema", "DROP SCHEMA"}, {"type", "DROP TYPE"},
    };
    size_t i = 1;
    const char *kind_tag = NULL;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        if (tok_is(t, i, kinds[k].word))
            kind_tag = kinds[k].tag;
    if (!kind_tag)
        return PGCATALOG_PASS;
    size_t kind_tok = i++;
    bool if_exists = tok_is(t, i, "if") && tok_is(t, i + 1, "exists");
    if (if_exists)
        i += 2;
    static const char *const stops[] = {"cascade", "restrict", NULL};
    size_t list_start = i;
    size_t(*items)[2] = malloc(MAX_LIST * sizeof *items);
    if (!items)
        return PGCATALOG_PASS;
    int n = read_name_list(t, &i, items, MAX_LIST, stops);
    if (n < 2) {
        free(items);
        return PGCATALOG_PASS;
    }
    bool cascade = false;
    for (size_t k = list_start; k < t->n; k++)
        if (tok_is(t, k, "cascade"))
            cascade = true;
    struct sbuf b = {0};
    for (int k = 0; k < n; k++) {
        sb_str(&b, "DROP ");
        sb_toks(&b, t, kind_tok, kind_tok);
        sb_str(&b, if_exists ? " IF EXISTS " : " ");
        sb_name(&b, t, items[k][0], items[k][1]);
        sb_str(&b, cascade ? " CASCADE;\n" : ";\n");
    }
    free(items);
    if (b.oom) {
        free(b.p);
        return PGCATALOG_PASS;
    }
    *out = b.p;
    *tag = kind_tag;
    return PGCATALOG_REWRITE;
}

/* TRUNCATE [TABLE] [ONLY] a, b [RESTART|CONTINUE IDENTITY] [CASCADE|RESTRICT]. */
static enum pgcatalog_action st_truncate(const struct toks *t, char **out, const char **tag)
{
    size_t i = 1;
    if (tok_is(t, i, "table"))
        i++;
    if (tok_is(t, i, "only"))
        i++;
    static const char *const stops[] = {"restart", "continue", "identity", "cascade", "restrict",
                                        NULL};
    size_t(*items)[2] = malloc(MAX_LIST * sizeof *items);
    if (!items)
        return PGCATALOG_PASS;
    int n = read_name_list(t, &i, items, MAX_LIST, stops);
    if (n < 1 || (n == 1 && i == t->n && t->n <= 3 && !tok_is(t, 1, "only"))) {
        free(items); /* nothing to split: TRUNCATE [TABLE] t is DuckDB's too */
        return PGCATALOG_PASS;
    }
    struct sbuf b = {0};
    for (int k = 0; k < n; k++) {
        sb_str(&b, "TRUNCATE ");
        sb_name(&b, t, items[k][0], items[k][1]);
        sb_str(&b, ";\n");
    }
    free(items);
    if (b.oom) {
        free(b.p);
        return PGCATALOG_PASS;
    }
    *out = b.p;
    *tag = "TRUNCATE TABLE";
    return PGCATALOG_REWRITE;
}

/* BEGIN/START TRANSACTION with PostgreSQL options -> plain BEGIN (READ ONLY kept). */
static enum pgcatalog_action st_begin(const struct toks *t, char **out, const char **tag)
{
    size_t i = 1;
    if (tok_is(t, 0, "start")) {
        if (!tok_is(t, 1, "transaction"))
            return PGCATALOG_PASS;
        i = 2;
    } else if (tok_is(t, i, "work") || tok_is(t, i, "transaction")) {
        i++;
    }
    if (i >= t->n)
        return PGCATALOG_PASS;
    bool read_only = false;
    for (size_t k = i; k < t->n; k++) {
        if (tok_is(t, k, "read") && tok_is(t, k + 1, "only"))
            read_only = true;
        if (!tok_is_name(t, k) && !tok_punct(t, k, ','))
            return PGCATALOG_PASS;
    }
    *out = xstrdup_printf("BEGIN TRANSACTION%s", read_only ? " READ ONLY" : "");
    if (!*out)
        return PGCATALOG_PASS;
    *tag = "BEGIN";
    return PGCATALOG_REWRITE;
}

/* Whole-statement forms; PASS when none applies. */
static enum pgcatalog_action rw_statement(const struct toks *t, char **out, const char **tag)
{
    if (t->n == 0)
        return PGCATALOG_PASS;
    if (tok_is(t, 0, "vacuum")) {
        *tag = "VACUUM";
        return PGCATALOG_NOOP;
    }
    if (tok_is(t, 0, "analyze") || tok_is(t, 0, "analyse")) {
        *tag = "ANALYZE";
        return PGCATALOG_NOOP;
    }
    if (tok_is(t, 0, "lock")) {
        *tag = "LOCK TABLE";
        return PGCATALOG_NOOP;
    }
    if (tok_is(t, 0, "drop"))
        return st_drop(t, out, tag);
    if (tok_is(t, 0, "truncate"))
        return st_truncate(t, out, tag);
    if (tok_is(t, 0, "begin") || tok_is(t, 0, "start"))
        return st_begin(t, out, tag);
    return PGCATALOG_PASS;
}

/* Cheap check: could any token-level rule apply? Avoids tokenizing the
 * common statement that has no trigger at all. */
static bool may_need_tokens(const char *sql, size_t len)
{
    static const char *const triggers[] = {
        "pg_", "~", "::", "operator", "OPERATOR", "collate", "COLLATE", "public", "PUBLIC",
        "generate_series", "array_upper", "array_lower", "current_schema", "version",
        "format_type", "description", "_size", "Public", "Operator", "Collate",
    };
    for (size_t k = 0; k < sizeof triggers / sizeof triggers[0]; k++) {
        size_t tl = strlen(triggers[k]);
        for (size_t i = 0; i + tl <= len; i++)
            if (sql[i] == triggers[k][0] && memcmp(sql + i, triggers[k], tl) == 0)
                return true;
    }
    return false;
}

/* The first word decides whether the statement-level pass can apply. */
static bool may_be_statement_form(const char *sql, size_t len)
{
    static const char *const words[] = {"vacuum", "analyze", "analyse", "lock", "drop",
                                        "truncate", "begin", "start"};
    size_t i = 0;
    while (i < len && (isspace((unsigned char)sql[i]) || sql[i] == '(' || sql[i] == '-' ||
                       sql[i] == '/'))
        i++;
    for (size_t k = 0; k < sizeof words / sizeof words[0]; k++) {
        size_t wl = strlen(words[k]);
        if (i + wl <= len && strncasecmp(sql + i, words[k], wl) == 0)
            return true;
    }
    return i < len && (sql[i] == '-' || sql[i] == '/'); /* a comment first: look closer */
}

enum pgcatalog_action pgcatalog_rewrite(const char *sql, size_t len, char **out, const char **tag)
{
    *out = NULL;
    *tag = NULL;
    if (!sql)
        return PGCATALOG_PASS;
    bool stmt = may_be_statement_form(sql, len);
    if (!stmt && !may_need_tokens(sql, len))
        return PGCATALOG_PASS;
    struct toks t = {.src = sql, .srclen = len};
    enum pgcatalog_action act = PGCATALOG_PASS;
    if (tokenize(&t) != 0)
        goto done;
    /* a trailing ';' is tolerated */
    while (t.n > 0 && tok_punct(&t, t.n - 1, ';'))
        t.n--;
    if (stmt) {
        act = rw_statement(&t, out, tag);
        if (act != PGCATALOG_PASS)
            goto done;
    }
    rw_operator(&t);
    rw_collate(&t);
    rw_casts(&t);
    rw_qualifiers(&t);
    rw_bare_functions(&t);
    rw_regex(&t);
    rw_srf_alias(&t);
    rw_array_literal(&t);
    if (t.edited && !t.oom) {
        *out = toks_render(&t);
        if (*out)
            act = PGCATALOG_REWRITE;
    }
done:
    toks_free(&t);
    return act;
}
