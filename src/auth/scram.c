/*
 * scram.c -- SCRAM-SHA-256 (RFC 5802, RFC 7677) for the PostgreSQL
 * protocol: the server side of one exchange per connection, and the
 * verifiers the users file stores instead of passwords.
 *
 * Only what PostgreSQL clients send is accepted: a GS2 header without
 * channel binding ("n,," or "y,,"; "p=" needs TLS, which is not offered),
 * printable nonces, and a client-final message whose c= repeats the GS2
 * header. The proof is checked in constant time. An unknown user gets a
 * made-up verifier and fails only at the proof, like a wrong password;
 * its salt is derived from a server secret and the name (PostgreSQL's
 * scram_mock_salt), so that asking twice for the same name gives the
 * same salt, as a real user's would, and a prober learns nothing from it.
 */
#include "scram.h"

#include "buf.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCRAM_MSG_MAX 2048
#define SCRAM_NONCE_RAW 18

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t scram_b64_encode(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? b64_alphabet[v & 63] : '=';
    }
    out[o] = '\0';
    return o;
}

static int b64_value(char c)
{
    const char *p = c ? strchr(b64_alphabet, c) : NULL;
    return p ? (int)(p - b64_alphabet) : -1;
}

long scram_b64_decode(const char *in, size_t n, unsigned char *out, size_t cap)
{
    if (n % 4 != 0)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            if (in[i + k] == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
            } else if (pad) {
                return -1; /* data after padding */
            } else if ((v[k] = b64_value(in[i + k])) < 0) {
                return -1;
            }
        }
        unsigned w = (unsigned)v[0] << 18 | (unsigned)v[1] << 12 | (unsigned)v[2] << 6 | (unsigned)v[3];
        size_t take = 3 - (size_t)pad;
        if (o + take > cap)
            return -1;
        out[o++] = (unsigned char)(w >> 16);
        if (take > 1)
            out[o++] = (unsigned char)(w >> 8);
        if (take > 2)
            out[o++] = (unsigned char)w;
    }
    return (long)o;
}

static int hmac_sha256(const unsigned char *key, size_t keylen, const void *msg, size_t len,
                       unsigned char out[SCRAM_KEY_LEN])
{
    unsigned int outlen = 0;
    if (!HMAC(EVP_sha256(), key, (int)keylen, msg, len, out, &outlen) || outlen != SCRAM_KEY_LEN)
        return -1;
    return 0;
}

int scram_make_verifier(const char *password, const unsigned char *salt, size_t salt_len, int iterations,
                        struct scram_verifier *v)
{
    if (!password || !salt || salt_len == 0 || salt_len > SCRAM_SALT_MAX || iterations < 1 ||
        iterations > SCRAM_ITER_MAX)
        return -1;
    unsigned char salted[SCRAM_KEY_LEN], client_key[SCRAM_KEY_LEN];
    int rc = -1;
    if (!PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)salt_len, iterations, EVP_sha256(),
                           SCRAM_KEY_LEN, salted))
        goto out;
    if (hmac_sha256(salted, sizeof salted, "Client Key", 10, client_key) != 0 ||
        hmac_sha256(salted, sizeof salted, "Server Key", 10, v->server_key) != 0)
        goto out;
    SHA256(client_key, sizeof client_key, v->stored_key);
    memcpy(v->salt, salt, salt_len);
    v->salt_len = salt_len;
    v->iterations = iterations;
    rc = 0;
out:
    OPENSSL_cleanse(salted, sizeof salted);
    OPENSSL_cleanse(client_key, sizeof client_key);
    return rc;
}

/* Decodes exactly want bytes of base64 from [p, end). */
static int decode_key(const char *p, const char *end, unsigned char *out, size_t want)
{
    unsigned char buf[SCRAM_SALT_MAX + 4];
    long n = scram_b64_decode(p, (size_t)(end - p), buf, sizeof buf);
    if (n != (long)want)
        return -1;
    memcpy(out, buf, want);
    return 0;
}

int scram_parse_verifier(const char *text, struct scram_verifier *v, const char **why)
{
    static const char prefix[] = "SCRAM-SHA-256$";
    if (strncmp(text, prefix, sizeof prefix - 1) != 0) {
        *why = "verifier does not start with SCRAM-SHA-256$";
        return -1;
    }
    const char *p = text + sizeof prefix - 1;
    char *end;
    long iter = strtol(p, &end, 10);
    if (end == p || *end != ':' || iter < 1 || iter > SCRAM_ITER_MAX) {
        *why = "bad iteration count";
        return -1;
    }
    const char *salt = end + 1, *dollar = strchr(salt, '$');
    const char *colon = dollar ? strchr(dollar + 1, ':') : NULL;
    if (!dollar || !colon) {
        *why = "verifier is not <iter>:<salt>$<StoredKey>:<ServerKey>";
        return -1;
    }
    long sl = scram_b64_decode(salt, (size_t)(dollar - salt), v->salt, sizeof v->salt);
    if (sl <= 0) {
        *why = "salt is not valid base64";
        return -1;
    }
    if (decode_key(dollar + 1, colon, v->stored_key, SCRAM_KEY_LEN) != 0 ||
        decode_key(colon + 1, colon + 1 + strlen(colon + 1), v->server_key, SCRAM_KEY_LEN) != 0) {
        *why = "StoredKey/ServerKey are not 32 bytes of base64";
        return -1;
    }
    v->salt_len = (size_t)sl;
    v->iterations = (int)iter;
    return 0;
}

char *scram_format_verifier(const struct scram_verifier *v)
{
    char salt[SCRAM_SALT_MAX * 2], stored[64], server[64];
    scram_b64_encode(v->salt, v->salt_len, salt);
    scram_b64_encode(v->stored_key, SCRAM_KEY_LEN, stored);
    scram_b64_encode(v->server_key, SCRAM_KEY_LEN, server);
    return dp_asprintf("SCRAM-SHA-256$%d:%s$%s:%s", v->iterations, salt, stored, server);
}

/* ------------------------------------------------------------------ */
/* The exchange                                                        */
/* ------------------------------------------------------------------ */

enum scram_state { SCRAM_AWAIT_FINAL, SCRAM_DONE };

struct scram {
    enum scram_state state;
    bool known_user;
    struct scram_verifier v;
    char *gs2_header;   /* "n,," as the client sent it */
    char *client_bare;  /* client-first-message-bare */
    char *server_first; /* what we answered */
    char *nonce;        /* client nonce + server nonce */
};

void scram_free(struct scram *s)
{
    if (!s)
        return;
    free(s->gs2_header);
    free(s->client_bare);
    free(s->server_first);
    free(s->nonce);
    OPENSSL_cleanse(&s->v, sizeof s->v);
    free(s);
}

/* A nonce: printable ASCII except ','. */
static bool nonce_ok(const char *p, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x21 || p[i] > 0x7e || p[i] == ',')
            return false;
    return true;
}

/* Splits the client-first message: GS2 header length and the nonce
 * inside the bare part. Returns 0 or -1. */
static int parse_client_first(const char *m, size_t len, size_t *gs2_len, const char **nonce,
                              size_t *nonce_len)
{
    if (len < 3 || (m[0] != 'n' && m[0] != 'y') || m[1] != ',')
        return -1; /* 'p' (channel binding) is not offered */
    const char *c2 = memchr(m + 2, ',', len - 2);
    if (!c2)
        return -1;
    if (c2 != m + 2 && (c2 - m < 4 || m[2] != 'a' || m[3] != '='))
        return -1;
    *gs2_len = (size_t)(c2 - m) + 1;
    const char *bare = c2 + 1, *end = m + len;
    if (end - bare < 2 || bare[0] != 'n' || bare[1] != '=')
        return -1;
    const char *c3 = memchr(bare, ',', (size_t)(end - bare));
    if (!c3 || end - c3 < 3 || c3[1] != 'r' || c3[2] != '=')
        return -1;
    const char *r = c3 + 3;
    const char *rend = memchr(r, ',', (size_t)(end - r));
    if (!rend)
        rend = end;
    if (!nonce_ok(r, (size_t)(rend - r)))
        return -1;
    for (const char *x = rend; x < end; x++) /* extensions: ,a=... */
        if (*x == ',' && (end - x < 3 || !isalpha((unsigned char)x[1]) || x[2] != '='))
            return -1;
    *nonce = r;
    *nonce_len = (size_t)(rend - r);
    return 0;
}

/* A verifier nobody can match, for a user that does not exist: random keys, the salt made by the caller. */
static int fake_verifier(struct scram_verifier *v)
{
    v->iterations = SCRAM_ITER_DEFAULT;
    v->salt_len = SCRAM_MOCK_SALT_LEN;
    if (RAND_bytes(v->stored_key, SCRAM_KEY_LEN) != 1 || RAND_bytes(v->server_key, SCRAM_KEY_LEN) != 1)
        return -1;
    return 0;
}

int scram_mock_salt(const unsigned char *secret, size_t secret_len, const char *name,
                    unsigned char salt[SCRAM_MOCK_SALT_LEN])
{
    unsigned char mac[SCRAM_KEY_LEN];
    if (!secret || !name || hmac_sha256(secret, secret_len, name, strlen(name), mac) != 0)
        return -1;
    memcpy(salt, mac, SCRAM_MOCK_SALT_LEN);
    return 0;
}

/* A fresh server nonce: SCRAM_NONCE_RAW random bytes in base64, into out. 0 or -1. */
static int fresh_nonce(char out[SCRAM_NONCE_RAW * 2])
{
    unsigned char raw[SCRAM_NONCE_RAW];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return -1;
    scram_b64_encode(raw, sizeof raw, out);
    return 0;
}

/*
 * scram_begin_verifier and scram_begin_unknown: v is the user's verifier
 * (known) or NULL; for NULL, mock_salt (SCRAM_MOCK_SALT_LEN bytes) is the
 * made-up verifier's salt, or NULL for a random one.
 */
static int begin(const struct scram_verifier *v, const unsigned char *mock_salt, const char *client_first,
                 size_t len, const char *server_nonce, struct scram **out, char **server_first)
{
    *out = NULL;
    *server_first = NULL;
    char fresh[SCRAM_NONCE_RAW * 2];
    if (!server_nonce && fresh_nonce(fresh) == 0)
        server_nonce = fresh;
    if (!client_first || !server_nonce || len > SCRAM_MSG_MAX || memchr(client_first, '\0', len) ||
        !nonce_ok(server_nonce, strlen(server_nonce)))
        return -1;
    size_t gs2_len, cn_len;
    const char *cn;
    if (parse_client_first(client_first, len, &gs2_len, &cn, &cn_len) != 0)
        return -1;
    struct scram *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    s->known_user = v != NULL;
    if (v)
        s->v = *v;
    else if (fake_verifier(&s->v) != 0)
        goto fail;
    else if (mock_salt)
        memcpy(s->v.salt, mock_salt, SCRAM_MOCK_SALT_LEN);
    else if (RAND_bytes(s->v.salt, SCRAM_MOCK_SALT_LEN) != 1)
        goto fail;
    s->gs2_header = strndup(client_first, gs2_len);
    s->client_bare = strndup(client_first + gs2_len, len - gs2_len);
    s->nonce = dp_asprintf("%.*s%s", (int)cn_len, cn, server_nonce);
    if (!s->gs2_header || !s->client_bare || !s->nonce)
        goto fail;
    char salt[SCRAM_SALT_MAX * 2];
    scram_b64_encode(s->v.salt, s->v.salt_len, salt);
    s->server_first = dp_asprintf("r=%s,s=%s,i=%d", s->nonce, salt, s->v.iterations);
    *server_first = s->server_first ? strdup(s->server_first) : NULL;
    if (!*server_first)
        goto fail;
    s->state = SCRAM_AWAIT_FINAL;
    *out = s;
    return 0;
fail:
    scram_free(s);
    return -1;
}

int scram_begin_verifier(const struct scram_verifier *v, const char *client_first, size_t len,
                         const char *server_nonce, struct scram **out, char **server_first)
{
    return begin(v, NULL, client_first, len, server_nonce, out, server_first);
}

int scram_begin_unknown(const unsigned char mock_salt[SCRAM_MOCK_SALT_LEN], const char *client_first,
                        size_t len, struct scram **out, char **server_first)
{
    return begin(NULL, mock_salt, client_first, len, NULL, out, server_first);
}

/* Checks c= and r= of the client-final message and finds the proof.
 * *without_proof_len is the length before ",p=". Returns 0 or -1. */
static int parse_client_final(const struct scram *s, const char *m, size_t len, size_t *without_proof_len,
                              unsigned char proof[SCRAM_KEY_LEN])
{
    if (len < 2 || m[0] != 'c' || m[1] != '=')
        return -1;
    const char *c_end = memchr(m, ',', len);
    if (!c_end)
        return -1;
    unsigned char cb[SCRAM_MSG_MAX];
    long cbn = scram_b64_decode(m + 2, (size_t)(c_end - m - 2), cb, sizeof cb);
    if (cbn < 0 || (size_t)cbn != strlen(s->gs2_header) || memcmp(cb, s->gs2_header, (size_t)cbn))
        return -1;
    const char *end = m + len, *r = c_end + 1;
    if (end - r < 2 || r[0] != 'r' || r[1] != '=')
        return -1;
    const char *r_end = memchr(r, ',', (size_t)(end - r));
    size_t nl = strlen(s->nonce);
    if (!r_end || (size_t)(r_end - r - 2) != nl || memcmp(r + 2, s->nonce, nl) != 0)
        return -1;
    /* the proof is the last attribute */
    const char *p = NULL;
    for (const char *q = r_end; q + 3 <= end; q++)
        if (q[0] == ',' && q[1] == 'p' && q[2] == '=')
            p = q;
    if (!p)
        return -1;
    if (scram_b64_decode(p + 3, (size_t)(end - p - 3), proof, SCRAM_KEY_LEN) != SCRAM_KEY_LEN)
        return -1;
    *without_proof_len = (size_t)(p - m);
    return 0;
}

int scram_finish(struct scram *s, const char *client_final, size_t len, char **server_final)
{
    *server_final = NULL;
    if (!s || s->state != SCRAM_AWAIT_FINAL || !client_final || len > SCRAM_MSG_MAX ||
        memchr(client_final, '\0', len))
        return -1;
    s->state = SCRAM_DONE; /* one attempt per exchange */
    size_t wp_len;
    unsigned char proof[SCRAM_KEY_LEN];
    if (parse_client_final(s, client_final, len, &wp_len, proof) != 0)
        return -1;
    char *auth = dp_asprintf("%s,%s,%.*s", s->client_bare, s->server_first, (int)wp_len, client_final);
    if (!auth)
        return -1;
    size_t am_len = strlen(auth);
    unsigned char sig[SCRAM_KEY_LEN], client_key[SCRAM_KEY_LEN], stored[SCRAM_KEY_LEN];
    unsigned char server_sig[SCRAM_KEY_LEN];
    int rc = -1;
    if (hmac_sha256(s->v.stored_key, SCRAM_KEY_LEN, auth, am_len, sig) != 0 ||
        hmac_sha256(s->v.server_key, SCRAM_KEY_LEN, auth, am_len, server_sig) != 0)
        goto out;
    for (int i = 0; i < SCRAM_KEY_LEN; i++)
        client_key[i] = proof[i] ^ sig[i];
    SHA256(client_key, SCRAM_KEY_LEN, stored);
    bool match = CRYPTO_memcmp(stored, s->v.stored_key, SCRAM_KEY_LEN) == 0;
    if (!match || !s->known_user)
        goto out;
    char b64[64];
    scram_b64_encode(server_sig, SCRAM_KEY_LEN, b64);
    *server_final = dp_asprintf("v=%s", b64);
    if (*server_final)
        rc = 0;
out:
    OPENSSL_cleanse(client_key, sizeof client_key);
    free(auth);
    return rc;
}
