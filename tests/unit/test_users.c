/*
 * test_users.c -- the users file and SCRAM-SHA-256: the RFC 7677 vector,
 * a full client-side exchange against `passwd`'s verifiers, tokens, and
 * bad input of every kind.
 */
#include "scram.h"
#include "testlib.h"
#include "users.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

/* RFC 7677 section 3. */
#define RFC_CLIENT_FIRST "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define RFC_SERVER_NONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_SERVER_FIRST \
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define RFC_CLIENT_FINAL \
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_SERVER_FINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static const char hash_of_abc[] = /* sha256("abc") */
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

static void write_text(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return;
    fwrite(text, 1, len, f);
    fclose(f);
}

/* A users file holding "user" with the RFC's password, salt and iterations. */
static int write_rfc_user(const char *path, const char *role)
{
    unsigned char salt[32];
    long sl = scram_b64_decode("W22ZaJ0SNY7soEsUEjb6gQ==", 24, salt, sizeof salt);
    struct scram_verifier v;
    if (sl != 16 || scram_make_verifier("pencil", salt, (size_t)sl, 4096, &v) != 0)
        return -1;
    char *ver = scram_format_verifier(&v);
    if (!ver)
        return -1;
    char line[512];
    int n = snprintf(line, sizeof line, "# comment\n\nuser:%s:%s:%s\n", role, ver, hash_of_abc);
    free(ver);
    write_text(path, line, (size_t)n);
    return 0;
}

static void test_rfc7677_vector(void)
{
    const char *path = test_path("users");
    CHECK_OK(write_rfc_user(path, "rw"));
    struct users *u;
    char err[256];
    CHECK_OK(users_load(path, &u, err, sizeof err));
    const struct user *user = users_find(u, "user");
    CHECK(user != NULL);
    CHECK(strcmp(user_name(user), "user") == 0);
    CHECK(!user_read_only(user));
    struct scram *s;
    char *sf, *fin;
    CHECK_OK(scram_begin_verifier(user_verifier(user), RFC_CLIENT_FIRST, strlen(RFC_CLIENT_FIRST),
                                  RFC_SERVER_NONCE, &s, &sf));
    CHECK(strcmp(sf, RFC_SERVER_FIRST) == 0);
    CHECK_OK(scram_finish(s, RFC_CLIENT_FINAL, strlen(RFC_CLIENT_FINAL), &fin));
    CHECK(strcmp(fin, RFC_SERVER_FINAL) == 0);
    /* one attempt per exchange */
    char *again;
    CHECK(scram_finish(s, RFC_CLIENT_FINAL, strlen(RFC_CLIENT_FINAL), &again) != 0);
    CHECK(again == NULL);
    free(sf);
    free(fin);
    scram_free(s);
    users_free(u);
}

static void test_rfc_wrong_proof_and_nonce(void)
{
    const char *path = test_path("users");
    CHECK_OK(write_rfc_user(path, "ro"));
    struct users *u;
    char err[256];
    CHECK_OK(users_load(path, &u, err, sizeof err));
    const struct user *user = users_find(u, "user");
    CHECK(user && user_read_only(user));
    static const char *const bad[] = {
        /* one proof bit flipped */
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVU=",
        /* nonce not ours */
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k1,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        /* channel binding differs from the GS2 header */
        "c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        /* proof not base64, too short, missing */
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=!!!!",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
        "",
        "c=",
        "garbage",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct scram *s;
        char *sf, *fin = (char *)1;
        CHECK_OK(scram_begin_verifier(user_verifier(user), RFC_CLIENT_FIRST, strlen(RFC_CLIENT_FIRST),
                                      RFC_SERVER_NONCE, &s, &sf));
        CHECK(scram_finish(s, bad[i], strlen(bad[i]), &fin) != 0);
        CHECK(fin == NULL);
        free(sf);
        scram_free(s);
    }
    users_free(u);
}

/* The client's half of SCRAM, as libpq computes it. */
static int client_final_for(const char *password, const char *client_first_bare, const char *server_first,
                            char *out, size_t cap, unsigned char server_sig[32])
{
    const char *r = strstr(server_first, "r="), *s = strstr(server_first, ",s="),
               *i = strstr(server_first, ",i=");
    if (!r || !s || !i)
        return -1;
    unsigned char salt[64], salted[32], ck[32], stored[32], sig[32], sk[32];
    long sl = scram_b64_decode(s + 3, (size_t)(i - s - 3), salt, sizeof salt);
    int iter = atoi(i + 3);
    if (sl <= 0 || iter <= 0)
        return -1;
    PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)sl, iter, EVP_sha256(), 32, salted);
    unsigned int l;
    HMAC(EVP_sha256(), salted, 32, (const unsigned char *)"Client Key", 10, ck, &l);
    HMAC(EVP_sha256(), salted, 32, (const unsigned char *)"Server Key", 10, sk, &l);
    SHA256(ck, 32, stored);
    char without[400], auth[1024];
    snprintf(without, sizeof without, "c=biws,r=%.*s", (int)(s - r - 2), r + 2);
    snprintf(auth, sizeof auth, "%s,%s,%s", client_first_bare, server_first, without);
    HMAC(EVP_sha256(), stored, 32, (const unsigned char *)auth, strlen(auth), sig, &l);
    unsigned char proof[32];
    for (int k = 0; k < 32; k++)
        proof[k] = ck[k] ^ sig[k];
    char p64[64];
    scram_b64_encode(proof, 32, p64);
    snprintf(out, cap, "%s,p=%s", without, p64);
    HMAC(EVP_sha256(), sk, 32, (const unsigned char *)auth, strlen(auth), server_sig, &l);
    return 0;
}

/* A whole exchange for name/password against the file; 0 when accepted. */
static int login(const struct users *u, const char *name, const char *password)
{
    const struct user *user = users_find(u, name);
    const char *cf = "n,,n=,r=fyko+d2lbbFgONRv9qkxdawL";
    struct scram *s;
    char *sf, *fin = NULL, final[1024];
    unsigned char ssig[32];
    if (scram_begin(user, cf, strlen(cf), &s, &sf) != 0)
        return -2;
    int rc = -1;
    if (strncmp(sf, "r=fyko+d2lbbFgONRv9qkxdawL", 26) != 0 || strlen(sf) < 40)
        goto out;
    if (client_final_for(password, cf + 3, sf, final, sizeof final, ssig) != 0)
        goto out;
    if (scram_finish(s, final, strlen(final), &fin) != 0)
        goto out;
    char want[64] = "v=";
    scram_b64_encode(ssig, 32, want + 2);
    rc = strcmp(fin, want) == 0 ? 0 : -3;
out:
    free(fin);
    free(sf);
    scram_free(s);
    return rc;
}

static void test_passwd_and_full_exchange(void)
{
    const char *path = test_path("users");
    char err[256], *tok_a, *tok_b, *tok_a2;
    CHECK_OK(users_passwd(path, "alice", "s3cret pass", false, &tok_a, err, sizeof err));
    CHECK_OK(users_passwd(path, "bob", "hunter2", true, &tok_b, err, sizeof err));
    CHECK_EQ_INT(strlen(tok_a), 64);
    struct stat st;
    CHECK_OK(stat(path, &st));
    CHECK_EQ_INT(st.st_mode & 0777, 0600);
    /* no clear password or token in the file */
    FILE *f = fopen(path, "r");
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    CHECK(!strstr(buf, "s3cret") && !strstr(buf, "hunter2") && !strstr(buf, tok_a));
    struct users *u;
    CHECK_OK(users_load(path, &u, err, sizeof err));
    CHECK_EQ_INT(login(u, "alice", "s3cret pass"), 0);
    CHECK_EQ_INT(login(u, "bob", "hunter2"), 0);
    CHECK(login(u, "alice", "hunter2") != 0);
    CHECK(login(u, "nobody", "hunter2") != 0); /* made-up verifier, same shape */
    CHECK(users_by_token(u, tok_a) == users_find(u, "alice"));
    CHECK(users_by_token(u, tok_b) == users_find(u, "bob"));
    CHECK(user_read_only(users_by_token(u, tok_b)));
    CHECK(users_by_token(u, "nope") == NULL);
    CHECK(users_by_token(u, "") == NULL);
    CHECK(users_by_token(u, NULL) == NULL);
    users_free(u);
    /* replacing alice: new password and token, bob untouched */
    CHECK_OK(users_passwd(path, "alice", "other", true, &tok_a2, err, sizeof err));
    CHECK_OK(users_load(path, &u, err, sizeof err));
    CHECK(login(u, "alice", "s3cret pass") != 0);
    CHECK_EQ_INT(login(u, "alice", "other"), 0);
    CHECK(user_read_only(users_find(u, "alice")));
    CHECK_EQ_INT(login(u, "bob", "hunter2"), 0);
    CHECK(users_by_token(u, tok_a) == NULL);
    CHECK(users_by_token(u, tok_a2) == users_find(u, "alice"));
    users_free(u);
    free(tok_a);
    free(tok_a2);
    free(tok_b);
}

/* Each bad file fails with "path:line: why". */
static void test_load_errors(void)
{
    const char *path = test_path("users");
    const char *good_ver = "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
                           "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
                           "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";
    struct {
        const char *text; /* {V}: a good verifier, {H}: a good token hash */
        int line;
        const char *why;
    } cases[] = {
        {"a:rw\n", 1, "expected"},
        {"# ok\n\na:xx:{V}:{H}\n", 3, "role"},
        {"a:rw:{V}:{H}:extra\n", 1, "too many"},
        {":rw:{V}:{H}\n", 1, "user name"},
        {"a:rw:{V}:abc\n", 1, "token hash"},
        {"a:rw:{V}:{H}\na:ro:{V}:{H}\n", 2, "twice"},
        {"a:rw:SCRAM-SHA-256$0:W22ZaJ0SNY7soEsUEjb6gQ==$AAAA:AAAA:{H}\n", 1, "iteration"},
        {"a:rw:SCRAM-SHA-256$4096:W22Z*J0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
         "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=:{H}\n",
         1, "base64"},
        {"a:rw:SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$AAAA:"
         "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=:{H}\n",
         1, "32 bytes"},
        {"a:rw:MD5$x:y:z:{H}\n", 1, "SCRAM-SHA-256"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[2048];
        size_t n = 0;
        for (const char *p = cases[i].text; *p && n < 1500;) {
            const char *sub = !strncmp(p, "{V}", 3) ? good_ver : !strncmp(p, "{H}", 3) ? hash_of_abc : NULL;
            if (sub) {
                n += (size_t)snprintf(text + n, sizeof text - n, "%s", sub);
                p += 3;
            } else {
                text[n++] = *p++;
            }
        }
        write_text(path, text, n);
        struct users *u = (struct users *)1;
        char err[512], want[600];
        CHECK(users_load(path, &u, err, sizeof err) != 0);
        CHECK(u == NULL);
        snprintf(want, sizeof want, "%s:%d: ", path, cases[i].line);
        CHECK_STR_CONTAINS(err, want);
        CHECK_STR_CONTAINS(err, cases[i].why);
    }
    /* a NUL byte, an over-long line, a missing file, no path */
    char err[512];
    struct users *u;
    write_text(path, "a:rw\0x\n", 7);
    CHECK(users_load(path, &u, err, sizeof err) != 0);
    CHECK_STR_CONTAINS(err, ":1: NUL");
    char *big = malloc(5000);
    memset(big, 'a', 4999);
    big[4999] = '\n';
    write_text(path, big, 5000);
    free(big);
    CHECK(users_load(path, &u, err, sizeof err) != 0);
    CHECK_STR_CONTAINS(err, ":1: line longer");
    CHECK(users_load(test_path("missing"), &u, err, sizeof err) != 0);
    CHECK_STR_CONTAINS(err, "missing: No such file");
    CHECK(users_load(NULL, &u, err, sizeof err) != 0);
    /* an empty file is no users, not an error; CRLF lines are fine */
    write_text(path, "", 0);
    CHECK_OK(users_load(path, &u, err, sizeof err));
    CHECK(users_find(u, "a") == NULL);
    CHECK(users_find(u, NULL) == NULL);
    users_free(u);
    char text[512];
    int n = snprintf(text, sizeof text, "a:rw:%s:%s\r\n", good_ver, hash_of_abc);
    write_text(path, text, (size_t)n);
    CHECK_OK(users_load(path, &u, err, sizeof err));
    CHECK(users_find(u, "a") != NULL);
    CHECK(users_by_token(u, "abc") == users_find(u, "a"));
    users_free(u);
}

static void test_passwd_bad_input(void)
{
    const char *path = test_path("users");
    char err[256], *tok = (char *)1;
    CHECK(users_passwd(path, "a:b", "pw", false, &tok, err, sizeof err) != 0);
    CHECK(tok == NULL);
    CHECK_STR_CONTAINS(err, "bad user name");
    CHECK(users_passwd(path, "", "pw", false, &tok, err, sizeof err) != 0);
    CHECK(users_passwd(path, "a\nb", "pw", false, &tok, err, sizeof err) != 0);
    CHECK(users_passwd(path, "a", "", false, &tok, err, sizeof err) != 0);
    CHECK_STR_CONTAINS(err, "password");
    CHECK(users_passwd(NULL, "a", "pw", false, &tok, err, sizeof err) != 0);
    CHECK(users_passwd(path, NULL, "pw", false, &tok, err, sizeof err) != 0);
    CHECK(users_passwd(path, "a", NULL, false, &tok, err, sizeof err) != 0);
    CHECK(access(path, F_OK) != 0); /* nothing written */
    /* a broken file is left alone */
    write_text(path, "junk\n", 5);
    CHECK(users_passwd(path, "a", "pw", false, &tok, err, sizeof err) != 0);
    CHECK_STR_CONTAINS(err, ":1: ");
    FILE *f = fopen(path, "r");
    char buf[16] = {0};
    CHECK(fread(buf, 1, sizeof buf - 1, f) == 5);
    fclose(f);
    CHECK(strcmp(buf, "junk\n") == 0);
    /* a directory that does not exist */
    CHECK(users_passwd("/nonexistent-dir/users", "a", "pw", false, &tok, err, sizeof err) != 0);
    CHECK(tok == NULL);
}

static void test_scram_bad_client_first(void)
{
    const char *path = test_path("users");
    CHECK_OK(write_rfc_user(path, "rw"));
    struct users *u;
    char err[256];
    CHECK_OK(users_load(path, &u, err, sizeof err));
    const struct user *user = users_find(u, "user");
    static const char *const bad[] = {
        "",
        "n",
        "n,,",
        "n,,n=user",
        "n,,n=user,r=",
        "p=tls-server-end-point,,n=,r=abc",
        "x,,n=,r=abc",
        "n,,r=abc",
        "n,,n=,r=a,b",
        "n,,n=,r=a b",
        "n,zz,n=,r=abc",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct scram *s = (struct scram *)1;
        char *sf = (char *)1;
        CHECK(scram_begin(user, bad[i], strlen(bad[i]), &s, &sf) != 0);
        CHECK(s == NULL && sf == NULL);
    }
    struct scram *s;
    char *sf, *fin;
    CHECK(scram_begin(user, NULL, 0, &s, &sf) != 0);
    char *huge = malloc(100000);
    memset(huge, 'a', 100000);
    memcpy(huge, "n,,n=,r=", 8);
    CHECK(scram_begin(user, huge, 100000, &s, &sf) != 0);
    free(huge);
    CHECK(scram_begin(user, "n,,n=\0,r=abc", 12, &s, &sf) != 0);
    /* accepted forms: y,, and an authzid; extensions after the nonce */
    CHECK_OK(scram_begin(user, "y,,n=,r=abc", 11, &s, &sf));
    free(sf);
    CHECK(scram_finish(s, NULL, 0, &fin) != 0);
    scram_free(s);
    CHECK_OK(scram_begin(NULL, "n,a=x,n=,r=abc,e=1", 18, &s, &sf));
    CHECK_STR_CONTAINS(sf, "r=abc");
    CHECK_STR_CONTAINS(sf, ",i=4096");
    free(sf);
    CHECK(scram_finish(s, "c=biws,r=abc,p=AAAA", 19, &fin) != 0);
    scram_free(s);
    CHECK(scram_finish(NULL, "x", 1, &fin) != 0);
    scram_free(NULL);
    users_free(u);
    users_free(NULL);
}

static void test_base64(void)
{
    unsigned char out[16];
    char enc[32];
    CHECK_EQ_INT(scram_b64_decode("biws", 4, out, sizeof out), 3);
    CHECK(memcmp(out, "n,,", 3) == 0);
    CHECK_EQ_INT(scram_b64_decode("YQ==", 4, out, sizeof out), 1);
    CHECK_EQ_INT(scram_b64_decode("YWI=", 4, out, sizeof out), 2);
    CHECK_EQ_INT(scram_b64_decode("", 0, out, sizeof out), 0);
    CHECK_EQ_INT(scram_b64_decode("YQ=", 3, out, sizeof out), -1);
    CHECK_EQ_INT(scram_b64_decode("Y===", 4, out, sizeof out), -1);
    CHECK_EQ_INT(scram_b64_decode("YQ==YQ==", 8, out, sizeof out), -1);
    CHECK_EQ_INT(scram_b64_decode("Y Q=", 4, out, sizeof out), -1);
    CHECK_EQ_INT(scram_b64_decode("YWJjZGVmZ2hpamtsbW5vcHFy", 24, out, 4), -1);
    scram_b64_encode((const unsigned char *)"ab", 2, enc);
    CHECK(strcmp(enc, "YWI=") == 0);
}

/* The salt (s=...) of the server-first message users_scram_begin gives for name, into out. */
static void salt_for(const struct users *u, const char *name, char *out, size_t n)
{
    struct scram *s = NULL;
    char *sf = NULL;
    *out = 0;
    if (users_scram_begin(u, name, RFC_CLIENT_FIRST, strlen(RFC_CLIENT_FIRST), &s, &sf) == 0) {
        const char *p = strstr(sf, ",s="), *e = p ? strstr(p, ",i=") : NULL;
        if (p && e)
            snprintf(out, n, "%.*s", (int)(e - p - 3), p + 3);
    }
    free(sf);
    scram_free(s);
}

/* An unknown name shows the same salt on every try, another for another name or another file. */
static void test_scram_mock_salt(void)
{
    const char *path = test_path("users");
    CHECK_OK(write_rfc_user(path, "rw"));
    struct users *u;
    char err[256], a[64], b[64], c[64], known[64];
    CHECK_OK(users_load(path, &u, err, sizeof err));
    salt_for(u, "nobody", a, sizeof a);
    salt_for(u, "nobody", b, sizeof b);
    salt_for(u, "somebody", c, sizeof c);
    salt_for(u, "user", known, sizeof known);
    CHECK(strlen(a) == 24); /* 16 bytes, like the salts `duckpond passwd` makes */
    CHECK(strcmp(a, b) == 0);
    CHECK(strcmp(a, c) != 0);
    CHECK(strcmp(known, "W22ZaJ0SNY7soEsUEjb6gQ==") == 0);
    /* the exchange of an unknown user still fails at the proof, even the right one of a known salt */
    CHECK(login(u, "nobody", "pencil") != 0);
    users_free(u);
    /* another server secret (another file): another salt for the same name */
    CHECK_OK(write_rfc_user(path, "ro"));
    CHECK_OK(users_load(path, &u, err, sizeof err));
    salt_for(u, "nobody", b, sizeof b);
    CHECK(strlen(b) == 24 && strcmp(a, b) != 0);
    users_free(u);
    unsigned char s1[SCRAM_MOCK_SALT_LEN], s2[SCRAM_MOCK_SALT_LEN];
    CHECK_OK(scram_mock_salt((const unsigned char *)"k", 1, "x", s1));
    CHECK_OK(scram_mock_salt((const unsigned char *)"k", 1, "x", s2));
    CHECK(memcmp(s1, s2, sizeof s1) == 0);
    CHECK(scram_mock_salt(NULL, 0, "x", s1) != 0);
}

TEST_MAIN(TEST_ENTRY(test_rfc7677_vector), TEST_ENTRY(test_rfc_wrong_proof_and_nonce),
          TEST_ENTRY(test_passwd_and_full_exchange), TEST_ENTRY(test_load_errors),
          TEST_ENTRY(test_passwd_bad_input), TEST_ENTRY(test_scram_bad_client_first), TEST_ENTRY(test_base64),
          TEST_ENTRY(test_scram_mock_salt))
