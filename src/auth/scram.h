/*
 * scram.h -- the parts of scram.c that users.c and the tests share beyond
 * users.h: strict base64, the stored verifier, and the exchange with a
 * chosen server nonce (for the RFC 7677 test vector).
 */
#ifndef DUCKPOND_SCRAM_H
#define DUCKPOND_SCRAM_H

#include <stddef.h>

#include "users.h"

#define SCRAM_KEY_LEN 32
#define SCRAM_SALT_MAX 64
#define SCRAM_ITER_DEFAULT 4096
#define SCRAM_ITER_MAX 10000000

/* What a user's line stores: never the password. */
struct scram_verifier {
    int iterations;
    unsigned char salt[SCRAM_SALT_MAX];
    size_t salt_len;
    unsigned char stored_key[SCRAM_KEY_LEN];
    unsigned char server_key[SCRAM_KEY_LEN];
};

/* Base64 (RFC 4648, padded). encode: out needs 4 * ceil(n / 3) + 1 bytes.
 * decode: strict (no whitespace, correct padding); returns the decoded
 * length, or -1 when the input is not base64 or out (cap) is too small. */
size_t scram_b64_encode(const unsigned char *in, size_t n, char *out);
long scram_b64_decode(const char *in, size_t n, unsigned char *out, size_t cap);

/* Derives salt/StoredKey/ServerKey from a password. 0 or -1. */
int scram_make_verifier(const char *password, const unsigned char *salt, size_t salt_len,
                        int iterations, struct scram_verifier *v);

/* Parses "SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>". 0 or -1 with why. */
int scram_parse_verifier(const char *text, struct scram_verifier *v, const char **why);

/* Formats a verifier as above into a malloc'd string, or NULL. */
char *scram_format_verifier(const struct scram_verifier *v);

/* The user's verifier (users.c). */
const struct scram_verifier *user_verifier(const struct user *user);

/* scram_begin with a given server nonce (printable, no ','). */
int scram_begin_nonce(const struct user *user, const char *client_first, size_t len,
                      const char *server_nonce, struct scram **out, char **server_first);

#endif
