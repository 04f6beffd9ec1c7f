/*
 * testlib.h -- the small test harness of duckpond's C tests.
 *
 * Each test is a void function; a file lists its tests in a table and
 * calls test_main. Every test runs in a forked child (so a crash or a hang
 * fails that test alone, and each starts from a clean process) with a time
 * limit; `./test_x NAME` runs one test. The binary ends with the line
 * "N passed, N failed" and exits non-zero if any test failed.
 */
#ifndef TESTLIB_H
#define TESTLIB_H

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct test_case {
    const char *name;
    void (*fn)(void);
};

/* clang-format off */
#define TEST_ENTRY(fn) {#fn, fn}
/* clang-format on */

static int test_failed_flag;

static void test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "    %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    test_failed_flag = 1;
}

/* Fails the test and returns from the test function. */
#define CHECK(cond)                                                   \
    do {                                                              \
        if (!(cond)) {                                                \
            test_fail(__FILE__, __LINE__, "CHECK(%s) failed", #cond); \
            return;                                                   \
        }                                                             \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                             \
    do {                                                                               \
        long long va_ = (long long)(a), vb_ = (long long)(b);                          \
        if (va_ != vb_) {                                                              \
            test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, va_, vb_); \
            return;                                                                    \
        }                                                                              \
    } while (0)

#define CHECK_STR_CONTAINS(hay, needle)                                                              \
    do {                                                                                             \
        const char *h_ = (hay), *n_ = (needle);                                                      \
        if (!h_ || !strstr(h_, n_)) {                                                                \
            test_fail(__FILE__, __LINE__, "\"%s\" does not contain \"%s\"", h_ ? h_ : "(null)", n_); \
            return;                                                                                  \
        }                                                                                            \
    } while (0)

/* A status call that must succeed; prints the status on failure. */
#define CHECK_OK(expr)                                                   \
    do {                                                                 \
        int rc_ = (expr);                                                \
        if (rc_ != 0) {                                                  \
            test_fail(__FILE__, __LINE__, "%s returned %d", #expr, rc_); \
            return;                                                      \
        }                                                                \
    } while (0)

/* A scratch directory for the test, made fresh in the child. */
static char test_dir[256];

__attribute__((unused)) static const char *test_path(const char *name)
{
    static char buf[8][512];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, 512, "%s/%s", test_dir, name);
    return p;
}

static int test_run_one(const struct test_case *t, int timeout_s)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        snprintf(test_dir, sizeof test_dir, "/tmp/duckpond-test-%d", (int)getpid());
        if (mkdir(test_dir, 0700) != 0 && errno != EEXIST) {
            perror("mkdir");
            _exit(1);
        }
        alarm((unsigned)timeout_s);
        t->fn();
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", test_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "    could not remove %s\n", test_dir);
        fflush(NULL);
        exit(test_failed_flag ? 1 : 0); /* exit, not _exit: LeakSanitizer checks at exit */
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "    killed by signal %d%s\n", WTERMSIG(status),
                WTERMSIG(status) == SIGALRM ? " (time limit)" : "");
        return 1;
    }
    return WEXITSTATUS(status) != 0;
}

static int test_main(int argc, char **argv, const struct test_case *tests, size_t n)
{
    int passed = 0, failed = 0;
    const char *limit = getenv("TEST_TIMEOUT");
    int timeout_s = limit ? atoi(limit) : 120;
    for (size_t i = 0; i < n; i++) {
        if (argc > 1 && strcmp(argv[1], tests[i].name) != 0)
            continue;
        int bad = test_run_one(&tests[i], timeout_s);
        printf("%s %s\n", bad ? "FAIL" : "ok  ", tests[i].name);
        fflush(stdout);
        bad ? failed++ : passed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

#define TEST_MAIN(...)                                                          \
    int main(int argc, char **argv)                                             \
    {                                                                           \
        static const struct test_case tests_[] = {__VA_ARGS__};                 \
        return test_main(argc, argv, tests_, sizeof tests_ / sizeof tests_[0]); \
    }

#endif
