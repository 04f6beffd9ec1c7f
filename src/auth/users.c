/*
 * users.c -- the users file: loading it, finding a user by name or by
 * bearer token, and `duckpond passwd` adding or replacing a line.
 *
 * Line format (users.h): name:role:SCRAM-SHA-256$iter:salt$StoredKey:ServerKey:tokenhash
 * (or, written before roles, the same without role: read-write).
 * Loading is strict: any bad line fails the whole load with file:line and
 * the reason, so a typo never silently locks a user out or lets one in.
 * Writing goes to a temporary file in the same directory, fsync'd and
 * renamed over the old one, so a crash leaves the old or the new file.
 */
#include "users.h"

#include "buf.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define USERS_FILE_MAX (16u << 20)
#define USERS_LINE_MAX 1024
#define USER_NAME_MAX 63
#define USERS_PASSWORD_MAX 1024
#define TOKEN_BYTES 32

struct user {
    char *name;
    enum access_role role;
    struct scram_verifier v;
    unsigned char token_hash[SHA256_DIGEST_LENGTH];
};

struct users {
    struct user *v;
    size_t n;
    /* the key of unknown users' salts: a hash of the file, whose verifiers and
     * token hashes no client knows, so it stays the same across restarts */
    unsigned char mock_secret[SHA256_DIGEST_LENGTH];
};

const char *user_name(const struct user *user)
{
    return user ? user->name : NULL;
}

enum access_role user_role(const struct user *user)
{
    return user ? user->role : ACCESS_RO;
}

bool user_read_only(const struct user *user)
{
    return user_role(user) == ACCESS_RO;
}

const struct scram_verifier *user_verifier(const struct user *user)
{
    return user ? &user->v : NULL;
}

int scram_begin(const struct user *user, const char *client_first, size_t len, struct scram **out,
                char **server_first)
{
    return scram_begin_verifier(user_verifier(user), client_first, len, NULL, out, server_first);
}

int users_scram_begin(const struct users *u, const char *name, const char *client_first, size_t len,
                      struct scram **out, char **server_first)
{
    const struct user *user = users_find(u, name);
    if (user || !u)
        return scram_begin(user, client_first, len, out, server_first);
    unsigned char salt[SCRAM_MOCK_SALT_LEN];
    if (scram_mock_salt(u->mock_secret, sizeof u->mock_secret, name ? name : "", salt) != 0) {
        *out = NULL;
        *server_first = NULL;
        return -1;
    }
    return scram_begin_unknown(salt, client_first, len, out, server_first);
}

void users_free(struct users *u)
{
    if (!u)
        return;
    OPENSSL_cleanse(u->mock_secret, sizeof u->mock_secret);
    for (size_t i = 0; i < u->n; i++) {
        free(u->v[i].name);
        OPENSSL_cleanse(&u->v[i].v, sizeof u->v[i].v);
    }
    free(u->v);
    free(u);
}

/* A user name: 1..63 bytes, no ':' or control characters. */
static bool name_ok(const char *p, size_t n)
{
    if (n == 0 || n > USER_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (p[i] == ':' || (unsigned char)p[i] < 0x20 || p[i] == 0x7f)
            return false;
    return true;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int parse_hex32(const char *p, size_t n, unsigned char out[32])
{
    if (n != 64)
        return -1;
    for (size_t i = 0; i < 32; i++) {
        int hi = hex_value(p[2 * i]), lo = hex_value(p[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

/* Splits line at ':' into at most 6 fields: their count, or 7 when there are more. */
static int split_fields(char *line, char *f[6])
{
    int nf = 0;
    char *p = line;
    f[nf++] = p;
    while ((p = strchr(p, ':')) != NULL) {
        *p++ = '\0';
        if (nf == 6)
            return 7;
        f[nf++] = p;
    }
    return nf;
}

/* Parses one user line (no newline) into *u. Returns 0, or -1 with *why. */
static int parse_line(char *line, struct user *u, const char **why)
{
    /* name:role:SCRAM-SHA-256$iter:salt$stored:server:token -> 6 fields; without the role, 5 */
    char *f[6];
    int nf = split_fields(line, f);
    if (nf == 5) { /* a line written before roles: read-write */
        memmove(f + 2, f + 1, 4 * sizeof *f);
        f[1] = "rw";
    } else if (nf != 6) {
        *why = nf > 6 ? "too many ':'-separated fields (expected 6)"
                      : "expected name:role:SCRAM-SHA-256$iter:salt$StoredKey:ServerKey:tokenhash";
        return -1;
    }
    if (!name_ok(f[0], strlen(f[0]))) {
        *why = "bad user name (1-63 bytes, no ':' or control characters)";
        return -1;
    }
    if (access_role_parse(f[1], &u->role) != 0 || strchr(f[1], '-')) {
        *why = "role must be ro, rw or admin";
        return -1;
    }
    /* the verifier spans fields 2..4: put its ':' back */
    f[3][-1] = ':';
    f[4][-1] = ':';
    if (scram_parse_verifier(f[2], &u->v, why) != 0)
        return -1;
    if (parse_hex32(f[5], strlen(f[5]), u->token_hash) != 0) {
        *why = "token hash must be 64 hex digits";
        return -1;
    }
    u->name = strdup(f[0]);
    if (!u->name) {
        *why = "out of memory";
        return -1;
    }
    return 0;
}

/* Reads a whole file of at most USERS_FILE_MAX bytes. *missing is set when
 * it does not exist. Returns a malloc'd NUL-terminated buffer or NULL. */
static char *read_file(const char *path, size_t *len, bool *missing, char *err, size_t errlen)
{
    *missing = false;
    FILE *f = fopen(path, "rb");
    if (!f) {
        *missing = errno == ENOENT;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(USERS_FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, USERS_FILE_MAX + 1, f) : 0;
    bool bad = ferror(f);
    fclose(f);
    if (!buf || bad || n > USERS_FILE_MAX) {
        snprintf(err, errlen, "%s: %s", path,
                 !buf  ? "out of memory"
                 : bad ? "read error"
                       : "file larger than 16 MiB");
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Parses a whole file's text. Returns 0 or -1 with "path:line: why". */
static int parse_users(const char *path, char *text, size_t len, struct users *u, char *err, size_t errlen)
{
    size_t cap = 0, lineno = 0;
    char *p = text, *end = text + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        lineno++;
        if (le > p && le[-1] == '\r')
            le--;
        const char *why = NULL;
        if ((size_t)(le - p) > USERS_LINE_MAX)
            why = "line longer than 1024 bytes";
        else if (memchr(p, '\0', (size_t)(le - p)))
            why = "NUL byte in line";
        if (!why && le > p && *p != '#') {
            *le = '\0';
            if (dp_grow(&u->v, &cap, u->n + 1, sizeof *u->v) != 0) {
                snprintf(err, errlen, "%s: out of memory", path);
                return -1;
            }
            struct user *nu = &u->v[u->n];
            memset(nu, 0, sizeof *nu);
            if (parse_line(p, nu, &why) == 0) {
                if (users_find(u, nu->name)) {
                    why = "user listed twice";
                    free(nu->name);
                } else {
                    u->n++;
                }
            }
        }
        if (why) {
            snprintf(err, errlen, "%s:%zu: %s", path, lineno, why);
            return -1;
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}

int users_load(const char *path, struct users **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!path) {
        snprintf(err, errlen, "users file: no path given");
        return -1;
    }
    size_t len;
    bool missing;
    char *text = read_file(path, &len, &missing, err, errlen);
    if (!text)
        return -1;
    struct users *u = calloc(1, sizeof *u);
    if (!u) {
        free(text);
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    int rc = parse_users(path, text, len, u, err, errlen);
    SHA256((const unsigned char *)text, len, u->mock_secret);
    OPENSSL_cleanse(text, len);
    free(text);
    if (rc != 0) {
        users_free(u);
        return -1;
    }
    *out = u;
    return 0;
}

const struct user *users_find(const struct users *u, const char *name)
{
    if (!u || !name)
        return NULL;
    for (size_t i = 0; i < u->n; i++)
        if (strcmp(u->v[i].name, name) == 0)
            return &u->v[i];
    return NULL;
}

const struct user *users_by_token(const struct users *u, const char *token)
{
    if (!u || !token)
        return NULL;
    size_t n = strnlen(token, 1025);
    if (n == 0 || n > 1024)
        return NULL;
    unsigned char h[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)token, n, h);
    const struct user *found = NULL;
    for (size_t i = 0; i < u->n; i++) /* every entry compared: no early exit */
        if (CRYPTO_memcmp(h, u->v[i].token_hash, sizeof h) == 0)
            found = &u->v[i];
    return found;
}

/* ------------------------------------------------------------------ */
/* duckpond passwd                                                     */
/* ------------------------------------------------------------------ */

/* The line for a new user, and the token shown once. */
static char *make_line(const char *name, const char *password, enum access_role role, char **token_out)
{
    unsigned char salt[16], token[TOKEN_BYTES], h[SHA256_DIGEST_LENGTH];
    struct scram_verifier v;
    if (RAND_bytes(salt, sizeof salt) != 1 || RAND_bytes(token, sizeof token) != 1)
        return NULL;
    if (scram_make_verifier(password, salt, sizeof salt, SCRAM_ITER_DEFAULT, &v) != 0)
        return NULL;
    char hex[2 * TOKEN_BYTES + 1], hhex[2 * SHA256_DIGEST_LENGTH + 1];
    for (size_t i = 0; i < TOKEN_BYTES; i++)
        snprintf(hex + 2 * i, 3, "%02x", token[i]);
    SHA256((const unsigned char *)hex, strlen(hex), h);
    for (size_t i = 0; i < sizeof h; i++)
        snprintf(hhex + 2 * i, 3, "%02x", h[i]);
    char *verifier = scram_format_verifier(&v);
    OPENSSL_cleanse(&v, sizeof v);
    OPENSSL_cleanse(token, sizeof token);
    if (!verifier)
        return NULL;
    char *line = dp_asprintf("%s:%s:%s:%s\n", name, access_role_name(role), verifier, hhex);
    *token_out = line ? strdup(hex) : NULL;
    free(verifier);
    OPENSSL_cleanse(hex, sizeof hex);
    if (!*token_out) {
        free(line);
        return NULL;
    }
    return line;
}

/* Writes data to path through path.tmp + fsync + rename, mode 0600. */
static int write_atomically(const char *path, const char *data, size_t len, char *err, size_t errlen)
{
    char *tmp = dp_asprintf("%s.tmp", path);
    if (!tmp) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rc = -1;
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
            close(fd);
            unlink(tmp);
            goto out;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        unlink(tmp);
        goto out;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    rc = 0;
out:
    free(tmp);
    return rc;
}

/* Does this raw line belong to user name? */
static bool line_is_user(const char *p, size_t n, const char *name)
{
    size_t nl = strlen(name);
    return n > nl && *p != '#' && memcmp(p, name, nl) == 0 && p[nl] == ':';
}

int users_passwd(const char *path, const char *name, const char *password, bool read_only, char **token_out,
                 char *err, size_t errlen)
{
    return users_passwd_role(path, name, password, read_only ? ACCESS_RO : ACCESS_RW, token_out, err, errlen);
}

int users_passwd_role(const char *path, const char *name, const char *password, enum access_role role,
                      char **token_out, char *err, size_t errlen)
{
    if (token_out)
        *token_out = NULL;
    if (!path || !name || !password || !token_out) {
        snprintf(err, errlen, "users passwd: missing argument");
        return -1;
    }
    if (!name_ok(name, strlen(name))) {
        snprintf(err, errlen, "bad user name \"%.64s\" (1-63 bytes, no ':' or control characters)", name);
        return -1;
    }
    size_t pwlen = strlen(password);
    if (pwlen == 0 || pwlen > USERS_PASSWORD_MAX) {
        snprintf(err, errlen, "password must be 1-1024 bytes");
        return -1;
    }
    size_t len = 0;
    bool missing;
    char *text = read_file(path, &len, &missing, err, errlen);
    if (!text && !missing)
        return -1;
    if (text) { /* refuse to rewrite a file we could not load */
        char *copy = malloc(len + 1);
        struct users tmp = {0};
        int bad = !copy;
        if (copy) {
            memcpy(copy, text, len + 1);
            bad = parse_users(path, copy, len, &tmp, err, errlen);
            free(copy);
        }
        for (size_t i = 0; i < tmp.n; i++)
            free(tmp.v[i].name);
        free(tmp.v);
        if (bad) {
            free(text);
            return -1;
        }
    }
    char *line = make_line(name, password, role, token_out);
    if (!line) {
        free(text);
        snprintf(err, errlen, "%s: could not make a verifier (random source or memory)", path);
        return -1;
    }
    /* every other line kept as it is, the user's own replaced */
    struct dp_buf out = DP_BUF_INIT;
    for (char *p = text, *end = text ? text + len : NULL; p && p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (!line_is_user(p, n, name)) {
            dp_buf_add(&out, p, n);
            dp_buf_byte(&out, '\n');
        }
        p += n + (nl ? 1 : 0);
    }
    dp_buf_str(&out, line);
    int rc = -1;
    if (out.failed)
        snprintf(err, errlen, "%s: out of memory", path);
    else
        rc = write_atomically(path, out.data, out.len, err, errlen);
    if (rc != 0) {
        free(*token_out);
        *token_out = NULL;
    }
    dp_buf_free(&out);
    free(line);
    free(text);
    return rc;
}
