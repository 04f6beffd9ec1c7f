/*
 * scram.h -- SCRAM-SHA-256 (RFC 5802, RFC 7677), knowing nothing of users:
 * the verifier a users file stores instead of a password, strict base64,
 * and the server side of one exchange against a given verifier.
 *
 * users.h builds on this (a user's verifier, and the exchange for a user
 * by name); this header never includes it.
 */
#ifndef DUCKPOND_SCRAM_H
#define DUCKPOND_SCRAM_H

#include <stddef.h>

#define SCRAM_KEY_LEN 32
#define SCRAM_SALT_MAX 64
#define SCRAM_ITER_DEFAULT 4096
#define SCRAM_ITER_MAX 10000000
#define SCRAM_MOCK_SALT_LEN 16 /* the length of salts `duckpond passwd` makes, and of made-up ones */

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
int scram_make_verifier(const char *password, const unsigned char *salt, size_t salt_len, int iterations,
                        struct scram_verifier *v);

/* Parses "SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>". 0 or -1 with why. */
int scram_parse_verifier(const char *text, struct scram_verifier *v, const char **why);

/* Formats a verifier as above into a malloc'd string, or NULL. */
char *scram_format_verifier(const struct scram_verifier *v);

/*
 * The server side of one exchange, one per connection.
 *   scram_begin_verifier: the client-first message -> the server-first
 *     message, against verifier v (copied). v NULL (an unknown user): the
 *     exchange runs with a made-up verifier and fails at the end, so the
 *     client cannot tell which users exist. server_nonce NULL: a fresh
 *     random one; else that one (printable, no ','), for test vectors.
 *   scram_finish: the client-final message -> the server-final message
 *     ("v=..."), or an error when the proof is wrong; one attempt only.
 * Each returns 0 or -1. Messages out are malloc'd (caller frees); *out is
 * freed with scram_free.
 */
struct scram;
int scram_begin_verifier(const struct scram_verifier *v, const char *client_first, size_t len,
                         const char *server_nonce, struct scram **out, char **server_first);
/*
 * Like scram_begin_verifier(NULL, ...), but the made-up verifier's salt is
 * mock_salt (from scram_mock_salt), so that an unknown name shows the same
 * salt on every try.
 */
int scram_begin_unknown(const unsigned char mock_salt[SCRAM_MOCK_SALT_LEN], const char *client_first,
                        size_t len, struct scram **out, char **server_first);
/*
 * The salt shown for an unknown user name: the first SCRAM_MOCK_SALT_LEN
 * bytes of HMAC-SHA-256(secret, name). The same secret and name give the
 * same salt; without the secret it cannot be told from a real one. 0 or -1.
 */
int scram_mock_salt(const unsigned char *secret, size_t secret_len, const char *name,
                    unsigned char salt[SCRAM_MOCK_SALT_LEN]);
int scram_finish(struct scram *s, const char *client_final, size_t len, char **server_final);
void scram_free(struct scram *s);

#endif
