-- pgcatalog.sql -- the catalog overlay: enough of PostgreSQL's pg_catalog
-- on top of DuckDB for psql, pgbench, psycopg2, node-postgres and JDBC.
--
-- It lives in an in-memory database attached as duckpond_pg, so nothing of
-- it is ever written into the user's file: views that answer like
-- PostgreSQL's pg_catalog (PostgreSQL type OIDs in pg_attribute and
-- pg_type, schema main shown as "public", one role, constraint-backed
-- indexes) and macros for the functions DuckDB lacks. Each session puts it
-- on its search_path after the user's database (pgcatalog.c), so
-- unqualified names find it and new tables still land in the user's
-- database; the rewriter sends pg_catalog.X here for the names it holds.
--
-- The server runs this file, embedded at build time, statement by
-- statement once per database at start. It runs on its own too:
--   duckdb my.duckdb < src/pg/pgcatalog.sql
--   SET search_path = 'my.main,duckpond_pg.main';
--
-- Names inside are fully qualified: view bodies must not depend on the
-- caller's search_path. Oids: 10 is the one role, 11 pg_catalog, 2 the heap
-- access method, 403 btree; indexes behind PRIMARY KEY/UNIQUE constraints
-- get 1e9 + table_oid * 1000 + constraint_index, constraints 2e9 + the same.
-- Every name the rewriter sends here (overlay_names in pgcatalog.c) must be
-- created below; test_pgcatalog checks it.

ATTACH IF NOT EXISTS ':memory:' AS duckpond_pg (READ_WRITE);

-- The PostgreSQL types we emit or that clients look up, one row each: oid,
-- typname, format_type() name, typlen, category, typelem, typarray,
-- typinput. Element types first, then their arrays.
CREATE OR REPLACE TABLE duckpond_pg.types AS SELECT * FROM (VALUES
    (16,'bool','boolean',1,'B',0,1000,'boolin'),
    (17,'bytea','bytea',-1,'U',0,1001,'byteain'),
    (18,'char','"char"',1,'S',0,1002,'charin'),
    (19,'name','name',64,'S',0,1003,'namein'),
    (20,'int8','bigint',8,'N',0,1016,'int8in'),
    (21,'int2','smallint',2,'N',0,1005,'int2in'),
    (22,'int2vector','int2vector',-1,'A',21,1006,'int2vectorin'),
    (23,'int4','integer',4,'N',0,1007,'int4in'),
    (24,'regproc','regproc',4,'N',0,1008,'regprocin'),
    (25,'text','text',-1,'S',0,1009,'textin'),
    (26,'oid','oid',4,'N',0,1028,'oidin'),
    (30,'oidvector','oidvector',-1,'A',26,1013,'oidvectorin'),
    (114,'json','json',-1,'U',0,199,'json_in'),
    (700,'float4','real',4,'N',0,1021,'float4in'),
    (701,'float8','double precision',8,'N',0,1022,'float8in'),
    (705,'unknown','unknown',-2,'X',0,0,'unknownin'),
    (1042,'bpchar','character',-1,'S',0,1014,'bpcharin'),
    (1043,'varchar','character varying',-1,'S',0,1015,'varcharin'),
    (1082,'date','date',4,'D',0,1182,'date_in'),
    (1083,'time','time without time zone',8,'D',0,1183,'time_in'),
    (1114,'timestamp','timestamp without time zone',8,'D',0,1115,'timestamp_in'),
    (1184,'timestamptz','timestamp with time zone',8,'D',0,1185,'timestamptz_in'),
    (1186,'interval','interval',16,'T',0,1187,'interval_in'),
    (1266,'timetz','time with time zone',12,'D',0,1270,'timetz_in'),
    (1560,'bit','bit',-1,'V',0,1561,'bit_in'),
    (1562,'varbit','bit varying',-1,'V',0,1563,'varbit_in'),
    (1700,'numeric','numeric',-1,'N',0,1231,'numeric_in'),
    (2205,'regclass','regclass',4,'N',0,2210,'regclassin'),
    (2206,'regtype','regtype',4,'N',0,2211,'regtypein'),
    (2249,'record','record',-1,'P',0,2287,'record_in'),
    (2278,'void','void',4,'P',0,0,'void_in'),
    (2950,'uuid','uuid',16,'U',0,2951,'uuid_in'),
    (3802,'jsonb','jsonb',-1,'U',0,3807,'jsonb_in'),
    (1000,'_bool','boolean[]',-1,'A',16,0,'array_in'),
    (1001,'_bytea','bytea[]',-1,'A',17,0,'array_in'),
    (1002,'_char','"char"[]',-1,'A',18,0,'array_in'),
    (1003,'_name','name[]',-1,'A',19,0,'array_in'),
    (1005,'_int2','smallint[]',-1,'A',21,0,'array_in'),
    (1006,'_int2vector','int2vector[]',-1,'A',22,0,'array_in'),
    (1007,'_int4','integer[]',-1,'A',23,0,'array_in'),
    (1008,'_regproc','regproc[]',-1,'A',24,0,'array_in'),
    (1009,'_text','text[]',-1,'A',25,0,'array_in'),
    (1013,'_oidvector','oidvector[]',-1,'A',30,0,'array_in'),
    (1014,'_bpchar','character[]',-1,'A',1042,0,'array_in'),
    (1015,'_varchar','character varying[]',-1,'A',1043,0,'array_in'),
    (1016,'_int8','bigint[]',-1,'A',20,0,'array_in'),
    (1021,'_float4','real[]',-1,'A',700,0,'array_in'),
    (1022,'_float8','double precision[]',-1,'A',701,0,'array_in'),
    (1028,'_oid','oid[]',-1,'A',26,0,'array_in'),
    (1115,'_timestamp','timestamp without time zone[]',-1,'A',1114,0,'array_in'),
    (1182,'_date','date[]',-1,'A',1082,0,'array_in'),
    (1183,'_time','time without time zone[]',-1,'A',1083,0,'array_in'),
    (1185,'_timestamptz','timestamp with time zone[]',-1,'A',1184,0,'array_in'),
    (1187,'_interval','interval[]',-1,'A',1186,0,'array_in'),
    (1231,'_numeric','numeric[]',-1,'A',1700,0,'array_in'),
    (1270,'_timetz','time with time zone[]',-1,'A',1266,0,'array_in'),
    (1561,'_bit','bit[]',-1,'A',1560,0,'array_in'),
    (1563,'_varbit','bit varying[]',-1,'A',1562,0,'array_in'),
    (199,'_json','json[]',-1,'A',114,0,'array_in'),
    (2210,'_regclass','regclass[]',-1,'A',2205,0,'array_in'),
    (2211,'_regtype','regtype[]',-1,'A',2206,0,'array_in'),
    (2287,'_record','record[]',-1,'A',2249,0,'array_in'),
    (2951,'_uuid','uuid[]',-1,'A',2950,0,'array_in'),
    (3807,'_jsonb','jsonb[]',-1,'A',3802,0,'array_in')
    ) t(oid, typname, fmt, typlen, typcategory, typelem, typarray, typinput);

-- DuckDB type name (duckdb_columns().data_type) -> PostgreSQL OID.
CREATE OR REPLACE MACRO duckpond_pg.scalar_oid(p_dt, p_id) AS CASE
    WHEN p_id = 104 THEN 1043
    WHEN p_dt = 'BOOLEAN' THEN 16
    WHEN p_dt IN ('TINYINT','SMALLINT','UTINYINT') THEN 21
    WHEN p_dt IN ('INTEGER','USMALLINT') THEN 23
    WHEN p_dt IN ('BIGINT','UINTEGER') THEN 20
    WHEN p_dt IN ('HUGEINT','UBIGINT','UHUGEINT','VARINT','BIGNUM') OR p_dt LIKE 'DECIMAL%' THEN 1700
    WHEN p_dt = 'FLOAT' THEN 700 WHEN p_dt = 'DOUBLE' THEN 701
    WHEN p_dt = 'VARCHAR' THEN 25 WHEN p_dt = 'JSON' THEN 114 WHEN p_dt = 'BLOB' THEN 17
    WHEN p_dt = 'DATE' THEN 1082 WHEN p_dt = 'TIME' THEN 1083
    WHEN p_dt = 'TIME WITH TIME ZONE' THEN 1266
    WHEN p_dt IN ('TIMESTAMP','TIMESTAMP_S','TIMESTAMP_MS','TIMESTAMP_NS') THEN 1114
    WHEN p_dt = 'TIMESTAMP WITH TIME ZONE' THEN 1184
    WHEN p_dt = 'INTERVAL' THEN 1186 WHEN p_dt = 'UUID' THEN 2950 WHEN p_dt = 'BIT' THEN 1562
    WHEN p_dt LIKE 'STRUCT%' OR p_dt LIKE 'MAP%' OR p_dt LIKE 'UNION%' THEN 114
    ELSE 25 END;

CREATE OR REPLACE MACRO duckpond_pg.type_oid(p_dt, p_id) AS CASE
    WHEN regexp_matches(p_dt, '\[\d*\]$') AND NOT regexp_matches(p_dt, '^(STRUCT|MAP|UNION)') THEN
    coalesce((SELECT t.typarray FROM duckpond_pg.types t
    WHERE t.oid = duckpond_pg.scalar_oid(regexp_replace(p_dt, '(\[\d*\])+$', ''), 0) AND t.typarray <> 0), 114)
    ELSE duckpond_pg.scalar_oid(p_dt, p_id) END;

-- atttypmod as PostgreSQL encodes it: numeric ((p << 16) | s) + 4.
CREATE OR REPLACE MACRO duckpond_pg.type_mod(dt, prec, scale) AS CASE
    WHEN dt LIKE 'DECIMAL(%' THEN prec * 65536 + scale + 4 ELSE -1 END;

CREATE OR REPLACE MACRO duckpond_pg.user_name() AS
    coalesce(CAST(getvariable('duckpond_user') AS VARCHAR), 'duckpond');

-- current_setting(name) as PostgreSQL answers it: the session's own
-- settings (application_name, DateStyle, statement_timeout, duckpond.*),
-- which the session hands DuckDB as the variable duckpond_settings (a map
-- by lower-case name) before a statement that names current_setting, else
-- DuckDB's (TimeZone, search_path, threads ...), as text.
CREATE OR REPLACE MACRO duckpond_pg.current_setting(p_name) AS coalesce(
    getvariable('duckpond_settings')[lower(p_name)],
    (SELECT any_value(value) FROM duckdb_settings() WHERE lower(name) = lower(p_name)));

CREATE OR REPLACE MACRO duckpond_pg.nsp_name(s) AS CASE WHEN s = 'main' THEN 'public' ELSE s END;

CREATE OR REPLACE VIEW duckpond_pg.pg_namespace AS
    SELECT oid, duckpond_pg.nsp_name(schema_name) AS nspname, 10 AS nspowner,
    CAST(NULL AS VARCHAR[]) AS nspacl FROM duckdb_schemas()
    WHERE database_name = current_database()
    UNION ALL SELECT 11, 'pg_catalog', 10, NULL
    UNION ALL SELECT 13183, 'information_schema', 10, NULL;

CREATE OR REPLACE VIEW duckpond_pg.pg_type AS SELECT oid, typname,
    11 AS typnamespace, 10 AS typowner, typlen, typlen > 0 AND typlen <= 8 AS typbyval,
    CASE WHEN typcategory = 'P' THEN 'p' ELSE 'b' END AS typtype, typcategory,
    false AS typispreferred, true AS typisdefined, ',' AS typdelim, 0 AS typrelid,
    0 AS typsubscript, typelem, typarray, typinput,
    replace(typinput, 'in', 'out') AS typoutput, 0 AS typreceive, 0 AS typsend,
    0 AS typmodin, 0 AS typmodout, 0 AS typanalyze,
    CASE WHEN typlen = 8 THEN 'd' WHEN typlen = 4 THEN 'i' WHEN typlen = 2 THEN 's'
    WHEN typlen = 1 THEN 'c' ELSE 'i' END AS typalign,
    CASE WHEN typlen > 0 THEN 'p' ELSE 'x' END AS typstorage,
    false AS typnotnull, 0 AS typbasetype, -1 AS typtypmod, 0 AS typndims,
    CASE WHEN typcategory = 'S' AND oid <> 18 THEN 100 ELSE 0 END AS typcollation,
    CAST(NULL AS VARCHAR) AS typdefaultbin, CAST(NULL AS VARCHAR) AS typdefault,
    CAST(NULL AS VARCHAR[]) AS typacl FROM duckpond_pg.types;

-- Constraint-backed indexes: PRIMARY KEY and UNIQUE, as PostgreSQL makes them.
CREATE OR REPLACE VIEW duckpond_pg.con_index AS SELECT
    1000000000 + table_oid * 1000 + constraint_index AS oid,
    2000000000 + table_oid * 1000 + constraint_index AS con_oid,
    CASE WHEN constraint_type = 'PRIMARY KEY' THEN table_name || '_pkey'
    ELSE constraint_name END AS name, table_oid, schema_oid, schema_name, table_name,
    constraint_type = 'PRIMARY KEY' AS is_primary,
    regexp_extract(constraint_text, '\((.*)\)', 1) AS cols
    FROM duckdb_constraints() WHERE database_name = current_database()
    AND constraint_type IN ('PRIMARY KEY', 'UNIQUE');

CREATE OR REPLACE VIEW duckpond_pg.pg_class AS
    SELECT table_oid AS oid, table_name AS relname, schema_oid AS relnamespace,
    0 AS reltype, 0 AS reloftype, 10 AS relowner, 2 AS relam, 0 AS relfilenode,
    0 AS reltablespace, 0 AS relpages, CAST(estimated_size AS REAL) AS reltuples,
    0 AS relallvisible, 0 AS reltoastrelid,
    index_count > 0 OR has_primary_key
    OR EXISTS (SELECT 1 FROM duckpond_pg.con_index ci WHERE ci.table_oid = t.table_oid) AS relhasindex,
    false AS relisshared, CASE WHEN temporary THEN 't' ELSE 'p' END AS relpersistence,
    'r' AS relkind, column_count AS relnatts, check_constraint_count AS relchecks,
    false AS relhasrules, false AS relhastriggers, false AS relhassubclass,
    false AS relrowsecurity, false AS relforcerowsecurity, true AS relispopulated,
    'd' AS relreplident, false AS relispartition, 0 AS relrewrite,
    0 AS relfrozenxid, 0 AS relminmxid, CAST(NULL AS VARCHAR[]) AS relacl,
    CAST(NULL AS VARCHAR[]) AS reloptions, CAST(NULL AS VARCHAR) AS relpartbound
    FROM duckdb_tables() t WHERE database_name = current_database() AND NOT internal
    AND NOT starts_with(table_name, 'duckpond_') -- our own bookkeeping
    UNION ALL SELECT view_oid, view_name, schema_oid, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0,
    false, false, CASE WHEN temporary THEN 't' ELSE 'p' END, 'v', column_count, 0,
    false, false, false, false, false, true, 'n', false, 0, 0, 0, NULL, NULL, NULL
    FROM duckdb_views() WHERE database_name = current_database() AND NOT internal
    UNION ALL SELECT sequence_oid, sequence_name, schema_oid, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0,
    false, false, CASE WHEN temporary THEN 't' ELSE 'p' END, 'S', 3, 0,
    false, false, false, false, false, true, 'n', false, 0, 0, 0, NULL, NULL, NULL
    FROM duckdb_sequences() WHERE database_name = current_database()
    UNION ALL SELECT index_oid, index_name, schema_oid, 0, 0, 10, 403, 0, 0, 0, 0, 0, 0,
    false, false, 'p', 'i', 1, 0,
    false, false, false, false, false, true, 'n', false, 0, 0, 0, NULL, NULL, NULL
    FROM duckdb_indexes() WHERE database_name = current_database()
    UNION ALL SELECT oid, name, schema_oid, 0, 0, 10, 403, 0, 0, 0, 0, 0, 0,
    false, false, 'p', 'i', 1, 0,
    false, false, false, false, false, true, 'n', false, 0, 0, 0, NULL, NULL, NULL
    FROM duckpond_pg.con_index;

CREATE OR REPLACE VIEW duckpond_pg.pg_attribute AS SELECT
    table_oid AS attrelid, column_name AS attname,
    duckpond_pg.type_oid(data_type, data_type_id) AS atttypid, -1 AS attstattarget,
    -1 AS attlen, column_index AS attnum, 0 AS attndims, -1 AS attcacheoff,
    duckpond_pg.type_mod(data_type, numeric_precision, numeric_scale) AS atttypmod,
    false AS attbyval, 'p' AS attalign, 'x' AS attstorage, '' AS attcompression,
    NOT is_nullable AS attnotnull, column_default IS NOT NULL AS atthasdef,
    false AS atthasmissing, '' AS attidentity, '' AS attgenerated,
    false AS attisdropped, true AS attislocal, 0 AS attinhcount,
    CASE WHEN data_type = 'VARCHAR' THEN 100 ELSE 0 END AS attcollation,
    CAST(NULL AS VARCHAR[]) AS attacl, CAST(NULL AS VARCHAR[]) AS attoptions,
    CAST(NULL AS VARCHAR[]) AS attfdwoptions, CAST(NULL AS VARCHAR) AS attmissingval
    FROM duckdb_columns() WHERE database_name = current_database() AND NOT internal;

CREATE OR REPLACE VIEW duckpond_pg.pg_attrdef AS SELECT
    table_oid * 1000 + column_index AS oid, table_oid AS adrelid,
    column_index AS adnum, column_default AS adbin FROM duckdb_columns()
    WHERE database_name = current_database() AND column_default IS NOT NULL;

CREATE OR REPLACE VIEW duckpond_pg.pg_index AS
    SELECT oid AS indexrelid, table_oid AS indrelid, 1 AS indnatts, 1 AS indnkeyatts,
    true AS indisunique, is_primary AS indisprimary, false AS indisexclusion,
    true AS indimmediate, false AS indisclustered, true AS indisvalid,
    false AS indcheckxmin, true AS indisready, true AS indislive,
    false AS indisreplident, CAST([] AS SMALLINT[]) AS indkey,
    CAST([] AS BIGINT[]) AS indcollation, CAST([] AS BIGINT[]) AS indclass,
    CAST([] AS SMALLINT[]) AS indoption, CAST(NULL AS VARCHAR) AS indexprs,
    CAST(NULL AS VARCHAR) AS indpred FROM duckpond_pg.con_index
    UNION ALL SELECT index_oid, table_oid, 1, 1, is_unique, is_primary, false, true,
    false, true, false, true, true, false, [], [], [], [], expressions, NULL
    FROM duckdb_indexes() WHERE database_name = current_database();

CREATE OR REPLACE VIEW duckpond_pg.pg_constraint AS SELECT
    2000000000 + c.table_oid * 1000 + c.constraint_index AS oid,
    CASE WHEN c.constraint_type = 'PRIMARY KEY' THEN c.table_name || '_pkey'
    ELSE c.constraint_name END AS conname, c.schema_oid AS connamespace,
    CASE c.constraint_type WHEN 'CHECK' THEN 'c' WHEN 'UNIQUE' THEN 'u'
    WHEN 'PRIMARY KEY' THEN 'p' WHEN 'FOREIGN KEY' THEN 'f' ELSE 'x' END AS contype,
    false AS condeferrable, false AS condeferred, true AS convalidated,
    c.table_oid AS conrelid, 0 AS contypid,
    CASE WHEN c.constraint_type IN ('PRIMARY KEY', 'UNIQUE')
    THEN 1000000000 + c.table_oid * 1000 + c.constraint_index ELSE 0 END AS conindid,
    0 AS conparentid, 0 AS confrelid, ' ' AS confupdtype, ' ' AS confdeltype,
    ' ' AS confmatchtype, true AS conislocal, 0 AS coninhcount, true AS connoinherit,
    CAST(c.constraint_column_indexes AS SMALLINT[]) AS conkey,
    CAST(NULL AS SMALLINT[]) AS confkey, c.constraint_text AS condef,
    CAST(c.expression AS VARCHAR) AS conbin
    FROM duckdb_constraints() c WHERE c.database_name = current_database()
    AND c.constraint_type <> 'NOT NULL';

CREATE OR REPLACE VIEW duckpond_pg.pg_roles AS SELECT 10 AS oid,
    duckpond_pg.user_name() AS rolname, true AS rolsuper, true AS rolinherit,
    true AS rolcreaterole, true AS rolcreatedb, true AS rolcanlogin,
    false AS rolreplication, -1 AS rolconnlimit, '********' AS rolpassword,
    CAST(NULL AS TIMESTAMPTZ) AS rolvaliduntil, false AS rolbypassrls,
    CAST(NULL AS VARCHAR[]) AS rolconfig;

CREATE OR REPLACE VIEW duckpond_pg.pg_user AS SELECT rolname AS usename,
    oid AS usesysid, rolcreatedb AS usecreatedb, rolsuper AS usesuper,
    rolreplication AS userepl, rolbypassrls AS usebypassrls, rolpassword AS passwd,
    rolvaliduntil AS valuntil, rolconfig AS useconfig FROM duckpond_pg.pg_roles;

CREATE OR REPLACE VIEW duckpond_pg.pg_auth_members AS SELECT 0 AS oid,
    0 AS roleid, 0 AS member, 0 AS grantor, false AS admin_option WHERE false;

CREATE OR REPLACE VIEW duckpond_pg.pg_database AS SELECT database_oid AS oid,
    database_name AS datname, 10 AS datdba, 6 AS encoding, 'c' AS datlocprovider,
    false AS datistemplate, true AS datallowconn, -1 AS datconnlimit,
    0 AS datfrozenxid, 0 AS datminmxid, 1663 AS dattablespace,
    'C' AS datcollate, 'C' AS datctype, CAST(NULL AS VARCHAR) AS daticulocale,
    CAST(NULL AS VARCHAR) AS datcollversion, CAST(NULL AS VARCHAR[]) AS datacl
    FROM duckdb_databases() WHERE NOT internal AND database_name <> 'duckpond_pg';

CREATE OR REPLACE VIEW duckpond_pg.pg_am AS SELECT * FROM (VALUES
    (2, 'heap', 'heap_tableam_handler', 't'), (403, 'btree', 'bthandler', 'i'))
    t(oid, amname, amhandler, amtype);

CREATE OR REPLACE VIEW duckpond_pg.pg_collation AS SELECT * FROM (VALUES
    (100, 'default', 11, 10, 'd', true, -1, CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR)),
    (950, 'C', 11, 10, 'c', true, -1, 'C', 'C'))
    t(oid, collname, collnamespace, collowner, collprovider, collisdeterministic,
    collencoding, collcollate, collctype);

CREATE OR REPLACE VIEW duckpond_pg.pg_tablespace AS SELECT * FROM (VALUES
    (1663, 'pg_default', 10), (1664, 'pg_global', 10)) t(oid, spcname, spcowner);

-- Always empty: no inheritance, partitions, policies, publications, ...
CREATE OR REPLACE VIEW duckpond_pg.pg_inherits AS SELECT 0 AS inhrelid,
    0 AS inhparent, 0 AS inhseqno, false AS inhdetachpending WHERE false;

CREATE OR REPLACE VIEW duckpond_pg.pg_partitioned_table AS SELECT 0 AS partrelid,
    'h' AS partstrat, 0 AS partnatts, 0 AS partdefid, CAST([] AS SMALLINT[]) AS partattrs,
    CAST(NULL AS VARCHAR) AS partexprs WHERE false;

CREATE OR REPLACE VIEW duckpond_pg.pg_policy AS SELECT 0 AS oid, '' AS polname,
    0 AS polrelid, 'r' AS polcmd, true AS polpermissive, CAST([] AS BIGINT[]) AS polroles,
    CAST(NULL AS VARCHAR) AS polqual, CAST(NULL AS VARCHAR) AS polwithcheck WHERE false;

CREATE OR REPLACE VIEW duckpond_pg.pg_statistic_ext AS SELECT 0 AS oid,
    0 AS stxrelid, '' AS stxname, 0 AS stxnamespace, 0 AS stxowner,
    -1 AS stxstattarget, CAST([] AS SMALLINT[]) AS stxkeys,
    CAST([] AS VARCHAR[]) AS stxkind, CAST(NULL AS VARCHAR) AS stxexprs WHERE false;

CREATE OR REPLACE VIEW duckpond_pg.pg_publication AS SELECT 0 AS oid, '' AS pubname,
    10 AS pubowner, false AS puballtables, false AS pubinsert, false AS pubupdate,
    false AS pubdelete, false AS pubtruncate, false AS pubviaroot WHERE false;

CREATE OR REPLACE VIEW duckpond_pg.pg_publication_namespace AS SELECT 0 AS oid,
    0 AS pnpubid, 0 AS pnnspid WHERE false;

CREATE OR REPLACE VIEW duckpond_pg.pg_publication_rel AS SELECT 0 AS oid,
    0 AS prpubid, 0 AS prrelid, CAST(NULL AS VARCHAR) AS prqual,
    CAST([] AS SMALLINT[]) AS prattrs WHERE false;

CREATE OR REPLACE VIEW duckpond_pg.pg_trigger AS SELECT 0 AS oid, 0 AS tgrelid,
    0 AS tgparentid, '' AS tgname, 0 AS tgfoid, 0 AS tgtype, 'O' AS tgenabled,
    false AS tgisinternal, 0 AS tgconstrrelid, 0 AS tgconstrindid,
    0 AS tgconstraint WHERE false;

CREATE OR REPLACE VIEW duckpond_pg.pg_rewrite AS SELECT 0 AS oid, '' AS rulename,
    0 AS ev_class, '1' AS ev_type, 'O' AS ev_enabled, false AS is_instead WHERE false;

CREATE OR REPLACE VIEW duckpond_pg.pg_extension AS SELECT 0 AS oid, '' AS extname,
    10 AS extowner, 11 AS extnamespace, false AS extrelocatable,
    '' AS extversion WHERE false;

CREATE OR REPLACE VIEW duckpond_pg.pg_foreign_table AS SELECT 0 AS ftrelid,
    0 AS ftserver, CAST(NULL AS VARCHAR[]) AS ftoptions WHERE false;

CREATE OR REPLACE VIEW duckpond_pg.pg_description AS SELECT 0 AS objoid,
    0 AS classoid, 0 AS objsubid, '' AS description WHERE false;

CREATE OR REPLACE VIEW duckpond_pg.pg_tables AS SELECT
    duckpond_pg.nsp_name(schema_name) AS schemaname, table_name AS tablename,
    duckpond_pg.user_name() AS tableowner, CAST(NULL AS VARCHAR) AS tablespace,
    index_count > 0 OR has_primary_key AS hasindexes, false AS hasrules,
    false AS hastriggers, false AS rowsecurity FROM duckdb_tables()
    WHERE database_name = current_database() AND NOT internal
    AND NOT starts_with(table_name, 'duckpond_');

CREATE OR REPLACE VIEW duckpond_pg.pg_views AS SELECT
    duckpond_pg.nsp_name(schema_name) AS schemaname, view_name AS viewname,
    duckpond_pg.user_name() AS viewowner, sql AS definition FROM duckdb_views()
    WHERE database_name = current_database() AND NOT internal;

-- Functions.
CREATE OR REPLACE MACRO duckpond_pg.pg_get_userbyid(id) AS duckpond_pg.user_name();

CREATE OR REPLACE MACRO duckpond_pg.pg_table_is_visible(p_oid) AS coalesce((SELECT
    n.nspname = 'public' FROM duckpond_pg.pg_class c JOIN duckpond_pg.pg_namespace n
    ON c.relnamespace = n.oid WHERE c.oid = p_oid LIMIT 1), false);

CREATE OR REPLACE MACRO duckpond_pg.pg_type_is_visible(id) AS true;

CREATE OR REPLACE MACRO duckpond_pg.format_type(p_oid, p_typmod) AS
    (SELECT CASE WHEN t.oid = 1700 AND p_typmod >= 4 THEN 'numeric(' ||
    ((p_typmod - 4) // 65536) || ',' || ((p_typmod - 4) % 65536) || ')'
    WHEN t.oid IN (1043, 1042) AND p_typmod >= 4 THEN t.fmt || '(' || (p_typmod - 4) || ')'
    ELSE t.fmt END FROM duckpond_pg.types t WHERE t.oid = p_oid);

CREATE OR REPLACE MACRO duckpond_pg.pg_get_expr(expr, rel) AS CAST(expr AS VARCHAR),
    (expr, rel, pretty) AS CAST(expr AS VARCHAR);

CREATE OR REPLACE MACRO duckpond_pg.indexdef(p_oid) AS coalesce(
    (SELECT 'CREATE UNIQUE INDEX ' || ci.name || ' ON ' || duckpond_pg.nsp_name(ci.schema_name) ||
    '.' || ci.table_name || ' USING btree (' || ci.cols || ')' FROM duckpond_pg.con_index ci
    WHERE ci.oid = p_oid),
    (SELECT 'CREATE ' || CASE WHEN i.is_unique THEN 'UNIQUE ' ELSE '' END || 'INDEX ' ||
    i.index_name || ' ON ' || duckpond_pg.nsp_name(i.schema_name) || '.' || i.table_name ||
    ' USING art (' || coalesce(regexp_extract(i.sql, '\((.*)\)', 1), '') || ')'
    FROM duckdb_indexes() i WHERE i.index_oid = p_oid));

CREATE OR REPLACE MACRO duckpond_pg.pg_get_indexdef(id) AS duckpond_pg.indexdef(id),
    (id, col, pretty) AS duckpond_pg.indexdef(id);

CREATE OR REPLACE MACRO duckpond_pg.constraintdef(p_oid) AS (SELECT
    regexp_replace(regexp_replace(c.condef, '^(PRIMARY KEY|UNIQUE|CHECK|FOREIGN KEY)\(',
    '\1 ('), '^CHECK \(\((.*)\)\)$', 'CHECK (\1)') FROM duckpond_pg.pg_constraint c
    WHERE c.oid = p_oid);

CREATE OR REPLACE MACRO duckpond_pg.pg_get_constraintdef(id) AS duckpond_pg.constraintdef(id),
    (id, pretty) AS duckpond_pg.constraintdef(id);

CREATE OR REPLACE MACRO duckpond_pg.pg_get_statisticsobjdef_columns(id) AS CAST(NULL AS VARCHAR);

CREATE OR REPLACE MACRO duckpond_pg.pg_relation_is_publishable(id) AS false;

CREATE OR REPLACE MACRO duckpond_pg.pg_encoding_to_char(enc) AS
    CASE WHEN enc = 6 THEN 'UTF8' WHEN enc = 0 THEN 'SQL_ASCII' ELSE '' END;

CREATE OR REPLACE MACRO duckpond_pg.pg_backend_pid() AS
    coalesce(CAST(getvariable('duckpond_pid') AS INTEGER), 0);

CREATE OR REPLACE MACRO duckpond_pg.pg_is_in_recovery() AS false;

CREATE OR REPLACE MACRO duckpond_pg.pg_table_size(id) AS 0;

CREATE OR REPLACE MACRO duckpond_pg.pg_total_relation_size(id) AS 0;

CREATE OR REPLACE MACRO duckpond_pg.pg_relation_size(id) AS 0;

CREATE OR REPLACE MACRO duckpond_pg.obj_description(id) AS CAST(NULL AS VARCHAR),
    (id, cat) AS CAST(NULL AS VARCHAR);

CREATE OR REPLACE MACRO duckpond_pg.col_description(id, n) AS CAST(NULL AS VARCHAR);

CREATE OR REPLACE MACRO duckpond_pg.shobj_description(id, cat) AS CAST(NULL AS VARCHAR);

CREATE OR REPLACE MACRO duckpond_pg.array_upper(l, d) AS
    CASE WHEN len(l) = 0 THEN NULL ELSE len(l) END;

CREATE OR REPLACE MACRO duckpond_pg.array_lower(l, d) AS
    CASE WHEN len(l) = 0 THEN NULL ELSE 1 END;

CREATE OR REPLACE MACRO duckpond_pg.current_schemas(implicit) AS
    CASE WHEN implicit THEN ['pg_catalog', 'public'] ELSE ['public'] END;

CREATE OR REPLACE MACRO duckpond_pg.current_schema() AS
    duckpond_pg.nsp_name(system.main.current_schema());

CREATE OR REPLACE MACRO duckpond_pg.version() AS 'PostgreSQL 16.4 (duckpond on DuckDB '
    || system.main.version() || ') on x86_64-pc-linux-gnu, 64-bit';

-- The reg* types: name -> oid for literals and parameters, oid -> name otherwise.
CREATE OR REPLACE MACRO duckpond_pg.regclass_oid(p_name) AS (SELECT c.oid
    FROM duckpond_pg.pg_class c JOIN duckpond_pg.pg_namespace n ON c.relnamespace = n.oid
    WHERE c.relname = split_part(replace(CAST(p_name AS VARCHAR), '"', ''), '.', -1)
    AND (NOT contains(CAST(p_name AS VARCHAR), '.') OR n.nspname =
    split_part(replace(CAST(p_name AS VARCHAR), '"', ''), '.', 1))
    ORDER BY n.nspname = 'public' DESC LIMIT 1);

CREATE OR REPLACE MACRO duckpond_pg.regclass_name(p_oid) AS coalesce((SELECT CASE
    WHEN n.nspname = 'public' THEN c.relname ELSE n.nspname || '.' || c.relname END
    FROM duckpond_pg.pg_class c JOIN duckpond_pg.pg_namespace n ON c.relnamespace = n.oid
    WHERE c.oid = p_oid LIMIT 1), CAST(p_oid AS VARCHAR));

CREATE OR REPLACE MACRO duckpond_pg.regtype_oid(p_name) AS (SELECT t.oid FROM duckpond_pg.types t
    WHERE t.typname = lower(CAST(p_name AS VARCHAR)) OR t.fmt = lower(CAST(p_name AS VARCHAR))
    LIMIT 1);

CREATE OR REPLACE MACRO duckpond_pg.regtype_name(p_oid) AS
    coalesce((SELECT t.fmt FROM duckpond_pg.types t WHERE t.oid = p_oid), CAST(p_oid AS VARCHAR));

CREATE OR REPLACE MACRO duckpond_pg.regnamespace_name(p_oid) AS coalesce((SELECT n.nspname
    FROM duckpond_pg.pg_namespace n WHERE n.oid = p_oid), CAST(p_oid AS VARCHAR));

CREATE OR REPLACE MACRO duckpond_pg.regrole_name(id) AS duckpond_pg.user_name();

CREATE OR REPLACE MACRO duckpond_pg.regproc_name(p_name) AS
    regexp_replace(CAST(p_name AS VARCHAR), '^pg_catalog\.', '');
