/*
 * test_common.c -- the byte buffer, array growth, malloc'd printf and SQL
 * quoting of src/common/buf.c: contents, NUL termination, the sticky
 * failure (a limit passed), and growth that would overflow.
 */
#include <stdint.h>

#include "buf.h"
#include "fdpath.h"

#include "testlib.h"

static void test_buf_appends_and_terminates(void)
{
    struct dp_buf b = DP_BUF_INIT;
    dp_buf_str(&b, "abc");
    dp_buf_byte(&b, '-');
    dp_buf_printf(&b, "%d/%s", 42, "x");
    CHECK_EQ_INT(b.len, 8);
    CHECK(strcmp(b.data, "abc-42/x") == 0);
    /* a printf longer than the room left grows the buffer once */
    char big[1000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    dp_buf_printf(&b, "[%s]", big);
    CHECK_EQ_INT(b.len, 8 + 1001);
    CHECK(b.data[b.len] == '\0' && b.data[8] == '[' && b.data[b.len - 1] == ']');
    dp_buf_truncate(&b, 3);
    CHECK(strcmp(b.data, "abc") == 0);
    size_t len = 0;
    char *s = dp_buf_take(&b, &len);
    CHECK(s && len == 3 && strcmp(s, "abc") == 0);
    CHECK(b.data == NULL && b.len == 0);
    free(s);
    s = dp_buf_take(&b, &len); /* an empty buffer gives an empty string */
    CHECK(s && len == 0 && s[0] == '\0');
    free(s);
}

static void test_buf_limit_is_sticky(void)
{
    struct dp_buf b = DP_BUF_INIT;
    b.limit = 10;
    dp_buf_str(&b, "0123456789");
    CHECK(!b.failed);
    dp_buf_str(&b, "x");
    CHECK(b.failed);
    dp_buf_str(&b, ""); /* nothing more is added once failed */
    dp_buf_printf(&b, "%s", "more");
    CHECK_EQ_INT(b.len, 10);
    CHECK(strcmp(b.data, "0123456789") == 0);
    CHECK(dp_buf_take(&b, NULL) == NULL);
    /* a printf that passes the limit leaves the old text terminated */
    b.limit = 6;
    dp_buf_str(&b, "abc");
    dp_buf_printf(&b, "%s", "defghij");
    CHECK(b.failed);
    CHECK(strcmp(b.data, "abc") == 0);
    dp_buf_clear(&b, 0);
    CHECK(!b.failed && b.len == 0);
    dp_buf_free(&b);
}

static void test_grow_doubles_and_refuses_overflow(void)
{
    int *a = NULL;
    size_t cap = 0;
    CHECK_OK(dp_grow(&a, &cap, 1, sizeof *a));
    CHECK_EQ_INT(cap, 8);
    for (int i = 0; i < 8; i++)
        a[i] = i;
    CHECK_OK(dp_grow(&a, &cap, 9, sizeof *a));
    CHECK_EQ_INT(cap, 16);
    CHECK(a[7] == 7);
    CHECK_OK(dp_grow(&a, &cap, 16, sizeof *a)); /* enough already: unchanged */
    CHECK_EQ_INT(cap, 16);
    int *before = a;
    CHECK(dp_grow(&a, &cap, SIZE_MAX / 2, sizeof *a) == -1);
    CHECK(a == before && cap == 16);
    free(a);
}

static void test_asprintf(void)
{
    char *s = dp_asprintf("%s=%d", "n", 7);
    CHECK(s && strcmp(s, "n=7") == 0);
    free(s);
    s = dp_asprintf("%s", "");
    CHECK(s && s[0] == '\0');
    free(s);
}

static void test_sql_quoting(void)
{
    struct dp_buf b = DP_BUF_INIT;
    dp_sql_ident(&b, "we\"ird");
    dp_buf_byte(&b, ' ');
    dp_sql_literal(&b, "it's ''", 7);
    dp_buf_byte(&b, ' ');
    dp_sql_literal(&b, "", 0);
    CHECK(strcmp(b.data, "\"we\"\"ird\" 'it''s ''''' ''") == 0);
    dp_buf_free(&b);
}

/* A link to a descriptor opens what the descriptor holds (a pipe here), and goes with fdpath_free. */
static void test_fdpath(void)
{
    int fds[2];
    CHECK_OK(pipe(fds));
    const char *dir = test_path("");
    char *link = fdpath_new(dir, fds[0]);
    CHECK(link != NULL);
    CHECK(strncmp(link, dir, strlen(dir)) == 0 && strstr(link, "/fd-") != NULL);
    char *other = fdpath_new(dir, fds[0]);
    CHECK(other != NULL && strcmp(other, link) != 0); /* random names: two links, two names */
    fdpath_free(other);
    CHECK(write(fds[1], "rows\n", 5) == 5);
    close(fds[1]);
    FILE *f = fopen(link, "r");
    char got[16] = "";
    CHECK(f != NULL);
    CHECK(fgets(got, sizeof got, f) != NULL);
    fclose(f);
    CHECK(strcmp(got, "rows\n") == 0);
    char path[4096];
    snprintf(path, sizeof path, "%s", link);
    fdpath_free(link);
    CHECK(access(path, F_OK) != 0);
    close(fds[0]);
    CHECK(fdpath_new("/nonexistent-dir", 0) == NULL);
    CHECK(fdpath_new(dir, -1) == NULL);
    fdpath_free(NULL);
}

TEST_MAIN(TEST_ENTRY(test_buf_appends_and_terminates), TEST_ENTRY(test_buf_limit_is_sticky),
          TEST_ENTRY(test_grow_doubles_and_refuses_overflow), TEST_ENTRY(test_asprintf),
          TEST_ENTRY(test_sql_quoting), TEST_ENTRY(test_fdpath))
