/*
 * test_sync.c -- the PostgreSQL sync's pure parts: the pgoutput decoder
 * and the replication frames, fed hand-built messages (well-formed,
 * truncated at every length, with lying counts), the standby status
 * update, LSN text, COPY text unescaping and the type map's conversions.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "pgoutput.h"
#include "sync_int.h"
#include "synctype.h"
#include "testlib.h"

/* A message under construction, big-endian as the protocol is. */
struct msg {
    uint8_t b[1024];
    size_t n;
};

static void put8(struct msg *m, uint8_t v)
{
    m->b[m->n++] = v;
}

static void putn(struct msg *m, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--)
        put8(m, (uint8_t)(v >> (8 * i)));
}

static void puts_(struct msg *m, const char *s)
{
    memcpy(m->b + m->n, s, strlen(s) + 1);
    m->n += strlen(s) + 1;
}

static void put_text(struct msg *m, const char *s)
{
    put8(m, 't');
    putn(m, strlen(s), 4);
    memcpy(m->b + m->n, s, strlen(s));
    m->n += strlen(s);
}

static void test_begin_commit(void)
{
    struct msg m = {.n = 0};
    put8(&m, 'B');
    putn(&m, 0x16B374D848ULL, 8);
    putn(&m, 123456789, 8);
    putn(&m, 42, 4);
    struct pgo_msg d = {0};
    char err[128];
    CHECK_EQ_INT(pgo_decode(m.b, m.n, &d, err, sizeof err), 0);
    CHECK(d.kind == PGO_BEGIN && d.lsn == 0x16B374D848ULL && d.commit_time == 123456789 && d.xid == 42);
    m.n = 0;
    put8(&m, 'C');
    put8(&m, 0);
    putn(&m, 100, 8);
    putn(&m, 200, 8);
    putn(&m, 300, 8);
    CHECK_EQ_INT(pgo_decode(m.b, m.n, &d, err, sizeof err), 0);
    CHECK(d.kind == PGO_COMMIT && d.lsn == 100 && d.end_lsn == 200 && d.commit_time == 300);
    pgo_msg_free(&d);
}

/* Relation 16384 public.t (id int4 key, v text) with REPLICA IDENTITY DEFAULT. */
static void relation_msg(struct msg *m)
{
    m->n = 0;
    put8(m, 'R');
    putn(m, 16384, 4);
    puts_(m, "public");
    puts_(m, "t");
    put8(m, 'd');
    putn(m, 2, 2);
    put8(m, 1);
    puts_(m, "id");
    putn(m, 23, 4);
    putn(m, 0xffffffff, 4);
    put8(m, 0);
    puts_(m, "v");
    putn(m, 25, 4);
    putn(m, 0xffffffff, 4);
}

static void test_relation(void)
{
    struct msg m;
    relation_msg(&m);
    struct pgo_msg d = {0};
    char err[128];
    CHECK_EQ_INT(pgo_decode(m.b, m.n, &d, err, sizeof err), 0);
    CHECK(d.kind == PGO_RELATION && d.relid == 16384 && !strcmp(d.nspname, "public") &&
          !strcmp(d.relname, "t"));
    CHECK(d.replident == 'd' && d.ncols == 2);
    CHECK(d.cols[0].key && !strcmp(d.cols[0].name, "id") && d.cols[0].type == 23 && d.cols[0].typmod == -1);
    CHECK(!d.cols[1].key && !strcmp(d.cols[1].name, "v") && d.cols[1].type == 25);
    pgo_msg_free(&d);
}

static void test_insert_update_delete(void)
{
    struct msg m = {.n = 0};
    struct pgo_msg d = {0};
    char err[128];
    put8(&m, 'I');
    putn(&m, 16384, 4);
    put8(&m, 'N');
    putn(&m, 3, 2);
    put_text(&m, "7");
    put8(&m, 'n');
    put8(&m, 'u');
    CHECK_EQ_INT(pgo_decode(m.b, m.n, &d, err, sizeof err), 0);
    CHECK(d.kind == PGO_INSERT && d.relid == 16384 && d.old_kind == 0 && d.new_tuple.ncols == 3);
    CHECK(d.new_tuple.vals[0].kind == 't' && d.new_tuple.vals[0].len == 1 &&
          d.new_tuple.vals[0].data[0] == '7');
    CHECK(d.new_tuple.vals[1].kind == 'n' && d.new_tuple.vals[2].kind == 'u');
    /* an update that changed the key: K old key, then N */
    m.n = 0;
    put8(&m, 'U');
    putn(&m, 16384, 4);
    put8(&m, 'K');
    putn(&m, 2, 2);
    put_text(&m, "1");
    put8(&m, 'n');
    put8(&m, 'N');
    putn(&m, 2, 2);
    put_text(&m, "2");
    put_text(&m, "x");
    CHECK_EQ_INT(pgo_decode(m.b, m.n, &d, err, sizeof err), 0);
    CHECK(d.kind == PGO_UPDATE && d.old_kind == 'K' && d.old_tuple.ncols == 2 && d.new_tuple.ncols == 2);
    CHECK(d.old_tuple.vals[0].data[0] == '1' && d.new_tuple.vals[1].data[0] == 'x');
    /* an update without the old row */
    m.n = 0;
    put8(&m, 'U');
    putn(&m, 16384, 4);
    put8(&m, 'N');
    putn(&m, 1, 2);
    put_text(&m, "abc");
    CHECK_EQ_INT(pgo_decode(m.b, m.n, &d, err, sizeof err), 0);
    CHECK(d.old_kind == 0 && d.new_tuple.ncols == 1 && d.new_tuple.vals[0].len == 3);
    /* a delete under REPLICA IDENTITY FULL */
    m.n = 0;
    put8(&m, 'D');
    putn(&m, 16384, 4);
    put8(&m, 'O');
    putn(&m, 1, 2);
    put_text(&m, "");
    CHECK_EQ_INT(pgo_decode(m.b, m.n, &d, err, sizeof err), 0);
    CHECK(d.kind == PGO_DELETE && d.old_kind == 'O' && d.old_tuple.vals[0].len == 0);
    /* a delete must name the row */
    m.n = 0;
    put8(&m, 'D');
    putn(&m, 16384, 4);
    put8(&m, 'N');
    putn(&m, 0, 2);
    CHECK_EQ_INT(pgo_decode(m.b, m.n, &d, err, sizeof err), -1);
    pgo_msg_free(&d);
}

static void test_truncate(void)
{
    struct msg m = {.n = 0};
    put8(&m, 'T');
    putn(&m, 2, 4);
    put8(&m, 2);
    putn(&m, 16384, 4);
    putn(&m, 16390, 4);
    struct pgo_msg d = {0};
    char err[128];
    CHECK_EQ_INT(pgo_decode(m.b, m.n, &d, err, sizeof err), 0);
    CHECK(d.kind == PGO_TRUNCATE && d.nrelids == 2 && d.relids[1] == 16390 && d.truncate_flags == 2);
    pgo_msg_free(&d);
}

/* Every message cut short at every length fails cleanly, and lying counts never read past the end. */
static void test_truncated_and_lying(void)
{
    struct msg m;
    relation_msg(&m);
    struct pgo_msg d = {0};
    char err[128];
    for (size_t n = 0; n < m.n; n++)
        CHECK_EQ_INT(pgo_decode(m.b, n, &d, err, sizeof err), -1);
    m.n = 0;
    put8(&m, 'I');
    putn(&m, 1, 4);
    put8(&m, 'N');
    putn(&m, 60000, 2); /* 60,000 columns in 3 bytes */
    put_text(&m, "");
    CHECK_EQ_INT(pgo_decode(m.b, m.n, &d, err, sizeof err), -1);
    m.n = 0;
    put8(&m, 'I');
    putn(&m, 1, 4);
    put8(&m, 'N');
    putn(&m, 1, 2);
    put8(&m, 't');
    putn(&m, 0x7fffffff, 4); /* a value longer than the message */
    CHECK_EQ_INT(pgo_decode(m.b, m.n, &d, err, sizeof err), -1);
    m.n = 0;
    put8(&m, 'T');
    putn(&m, 0xffffffff, 4);
    put8(&m, 0);
    CHECK_EQ_INT(pgo_decode(m.b, m.n, &d, err, sizeof err), -1);
    uint8_t unknown = 'Z';
    CHECK_EQ_INT(pgo_decode(&unknown, 1, &d, err, sizeof err), -1);
    CHECK(strstr(err, "unknown") != NULL);
    pgo_msg_free(&d);
}

static void test_frames_and_status(void)
{
    struct msg m = {.n = 0};
    put8(&m, 'w');
    putn(&m, 10, 8);
    putn(&m, 20, 8);
    putn(&m, 30, 8);
    put8(&m, 'B');
    struct pgo_frame f;
    char err[128];
    CHECK_EQ_INT(pgo_frame_decode(m.b, m.n, &f, err, sizeof err), 0);
    CHECK(f.kind == 'w' && f.wal_start == 10 && f.wal_end == 20 && f.send_time == 30 && f.len == 1 &&
          f.data[0] == 'B');
    m.n = 0;
    put8(&m, 'k');
    putn(&m, 99, 8);
    putn(&m, 5, 8);
    put8(&m, 1);
    CHECK_EQ_INT(pgo_frame_decode(m.b, m.n, &f, err, sizeof err), 0);
    CHECK(f.kind == 'k' && f.wal_end == 99 && f.reply_requested);
    CHECK_EQ_INT(pgo_frame_decode(m.b, m.n - 1, &f, err, sizeof err), -1);
    uint8_t st[PGO_STATUS_LEN];
    CHECK_EQ_INT(pgo_status_encode(st, 0x0102030405060708ULL, 2, 3, 4, true), PGO_STATUS_LEN);
    CHECK(st[0] == 'r' && st[1] == 1 && st[8] == 8 && st[16] == 2 && st[24] == 3 && st[32] == 4 &&
          st[33] == 1);
    char lsn[32];
    pgo_lsn_format(0x16B374D848ULL, lsn, sizeof lsn);
    CHECK(!strcmp(lsn, "16/B374D848"));
    uint64_t back = 0;
    CHECK(pgo_lsn_parse(lsn, &back) == 0 && back == 0x16B374D848ULL);
    CHECK(pgo_lsn_parse("16/", &back) == -1 && pgo_lsn_parse("x", &back) == -1);
}

static void test_copy_unescape(void)
{
    char f[] = "a\\tb\\\\c\\nd\\101\\x41\\N";
    size_t n = synccopy_unescape(f, strlen(f));
    CHECK_EQ_INT(n, 10);
    CHECK(!memcmp(f, "a\tb\\c\ndAAN", 10));
}

/* Converts text with the map of oid/typmod; returns the DuckDB text (static) or NULL when refused. */
static const char *conv(uint32_t oid, int32_t typmod, const char *in)
{
    static char out[512];
    struct synctype t;
    char why[256];
    struct dp_buf b = DP_BUF_INIT;
    if (synctype_map(oid, typmod, SYNCTYPE_USER_NONE, &t, why, sizeof why) != 0)
        return NULL;
    int rc = synctype_text(&t, in, strlen(in), &b, why, sizeof why);
    snprintf(out, sizeof out, "%s", rc < 0 ? "" : rc == 1 ? in : b.data);
    dp_buf_free(&b);
    return rc < 0 ? NULL : out;
}

static void test_type_map(void)
{
    struct synctype t;
    char why[256];
    CHECK(synctype_map(1700, ((12 << 16) | 3) + 4, SYNCTYPE_USER_NONE, &t, why, sizeof why) == 0);
    CHECK(!strcmp(t.duck, "DECIMAL(12,3)") && t.decimal);
    CHECK(synctype_map(1700, -1, SYNCTYPE_USER_NONE, &t, why, sizeof why) == 0 && !strcmp(t.duck, "DOUBLE"));
    CHECK(synctype_map(1700, ((60 << 16) | 3) + 4, SYNCTYPE_USER_NONE, &t, why, sizeof why) == 0 &&
          !strcmp(t.duck, "DOUBLE"));
    CHECK(synctype_map(1007, -1, SYNCTYPE_USER_NONE, &t, why, sizeof why) == 0 &&
          !strcmp(t.duck, "INTEGER[]"));
    CHECK(synctype_map(3802, -1, SYNCTYPE_USER_NONE, &t, why, sizeof why) == 0 && !strcmp(t.duck, "JSON"));
    CHECK(synctype_map(99999, -1, SYNCTYPE_USER_ENUM, &t, why, sizeof why) == 0 &&
          !strcmp(t.duck, "VARCHAR"));
    CHECK(synctype_map(600, -1, SYNCTYPE_USER_NONE, &t, why, sizeof why) == -1 &&
          strstr(why, "600")); /* point */
}

static void test_value_text(void)
{
    CHECK(!strcmp(conv(17, -1, "\\x00ff"), "\\x00\\xFF"));
    CHECK(conv(17, -1, "\\x0") == NULL);
    CHECK(!strcmp(conv(1186, -1, "1 year 2 mons -3 days +04:05:06.5"),
                  "14 months -3 days 14706500000 microseconds"));
    CHECK(!strcmp(conv(1186, -1, "-00:00:01"), "0 months 0 days -1000000 microseconds"));
    CHECK(!strcmp(conv(1082, -1, "0044-03-15 BC"), "0044-03-15 (BC)"));
    CHECK(!strcmp(conv(1082, -1, "2026-11-29"), "2026-11-29"));
    CHECK(conv(1700, ((12 << 16) | 3) + 4, "NaN") == NULL);
    CHECK(conv(1700, ((12 << 16) | 3) + 4, "-Infinity") == NULL);
    CHECK(!strcmp(conv(1700, -1, "NaN"), "NaN"));
    CHECK(!strcmp(conv(1009, -1, "{\"a b\",NULL,\"c\\\"d\",\"NULL\",x}"),
                  "[\"a b\", NULL, \"c\\\"d\", \"NULL\", \"x\"]"));
    CHECK(!strcmp(conv(1007, -1, "{}"), "[]"));
    CHECK(conv(1007, -1, "{{1,2},{3,4}}") == NULL);
    CHECK(!strcmp(conv(1187, -1, "{\"1 day\",NULL}"), "[\"0 months 1 days 0 microseconds\", NULL]"));
}

static void test_hashset(void)
{
    struct hashset h = {0};
    for (uint64_t i = 0; i < 5000; i++)
        CHECK(hashset_add(&h, i * 2654435761u));
    for (uint64_t i = 0; i < 5000; i++)
        CHECK(hashset_has(&h, i * 2654435761u));
    CHECK(!hashset_has(&h, 3));
    hashset_clear(&h);
    CHECK(!hashset_has(&h, 2654435761u));
    hashset_free(&h);
}

TEST_MAIN(TEST_ENTRY(test_begin_commit), TEST_ENTRY(test_relation), TEST_ENTRY(test_insert_update_delete),
          TEST_ENTRY(test_truncate), TEST_ENTRY(test_truncated_and_lying), TEST_ENTRY(test_frames_and_status),
          TEST_ENTRY(test_copy_unescape), TEST_ENTRY(test_type_map), TEST_ENTRY(test_value_text),
          TEST_ENTRY(test_hashset))
