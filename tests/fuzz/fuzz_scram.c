/*
 * fuzz_scram.c -- libFuzzer driver for the server side of SCRAM-SHA-256
 * (scram.c): the client-first message (GS2 header, user, nonce,
 * extensions) and the client-final message (channel binding, nonce,
 * proof), and the verifier text a users file holds.
 *
 * The input is the client-first message, a NUL, then the client-final
 * message; the exchange runs against a fixed verifier (password "pencil",
 * salt and iterations of RFC 7677's example) and its server nonce, so that a seed can carry a
 * correct proof and reach the end. Checks: an exchange succeeds only
 * with the proof of that password (the final message names the nonce the
 * server made, and the server's signature comes back as "v=..."), and
 * the input read as a verifier line either parses into a verifier that
 * formats back to a line that parses the same, or is refused.
 *
 * Built by `make fuzz` (build-fuzz/fuzz/), run on its seeds in
 * tests/fuzz/corpus/ by `make fuzz-run` and at the end of `make test`.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scram.h"

/* RFC 7677's example exchange: its messages make a seed that succeeds */
#define SERVER_NONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"

static struct scram_verifier verifier;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const unsigned char salt[] = "W22ZaJ0SNY7soEsUEjb6gQ==";
    unsigned char raw[32];
    long n = scram_b64_decode((const char *)salt, sizeof salt - 1, raw, sizeof raw);
    if (n < 0 || scram_make_verifier("pencil", raw, (size_t)n, 4096, &verifier) != 0)
        abort();
    return 0;
}

/* A verifier line: refused, or parsed into one that formats and parses back the same. */
static void verifier_line(const char *text)
{
    struct scram_verifier v, again;
    const char *why = NULL;
    if (scram_parse_verifier(text, &v, &why) != 0)
        return;
    char *line = scram_format_verifier(&v);
    if (!line || scram_parse_verifier(line, &again, &why) != 0 || again.iterations != v.iterations ||
        again.salt_len != v.salt_len || memcmp(again.salt, v.salt, v.salt_len) != 0 ||
        memcmp(again.stored_key, v.stored_key, SCRAM_KEY_LEN) != 0 ||
        memcmp(again.server_key, v.server_key, SCRAM_KEY_LEN) != 0)
        abort();
    free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    verifier_line(text);
    const char *cut = memchr(text, 0, size);
    size_t first_len = cut ? (size_t)(cut - text) : size;
    const char *final = cut ? cut + 1 : "";
    size_t final_len = cut ? size - first_len - 1 : 0;
    /* each message is its own allocation of exactly its bytes, so a read past one shows */
    char *first = malloc(first_len ? first_len : 1), *fin = malloc(final_len ? final_len : 1);
    memcpy(first, text, first_len);
    memcpy(fin, final, final_len);
    struct scram *s = NULL;
    char *server_first = NULL, *server_final = NULL;
    if (scram_begin_verifier(&verifier, first, first_len, SERVER_NONCE, &s, &server_first) == 0) {
        if (!server_first || strncmp(server_first, "r=", 2) != 0 || !strstr(server_first, SERVER_NONCE))
            abort();
        if (scram_finish(s, fin, final_len, &server_final) == 0) {
            /* accepted: the final message carries the nonce made here, and the proof of "pencil" */
            if (!server_final || strncmp(server_final, "v=", 2) != 0 ||
                !memmem(fin, final_len, SERVER_NONCE, strlen(SERVER_NONCE)))
                abort();
        }
    }
    free(server_first);
    free(server_final);
    scram_free(s);
    free(first);
    free(fin);
    free(text);
    return 0;
}
