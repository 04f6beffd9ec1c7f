/*
 * users.h -- the users file: who may connect, how they prove it, and what
 * they may do. Shared by the PostgreSQL protocol (SCRAM-SHA-256) and HTTP
 * (bearer tokens).
 *
 * One line per user, written by `duckpond passwd`:
 *   name:role:SCRAM-SHA-256$<iter>:<salt b64>$<StoredKey b64>:<ServerKey b64>:<token sha256 hex>
 * role is "ro", "rw" or "admin" (access.h). A line of a file written
 * before roles had no role field (name:SCRAM-...:tokenhash): that user is
 * read-write, as they all were then. No clear password or token is ever
 * stored. Lines starting with '#' and empty lines are ignored.
 */
#ifndef DUCKPOND_USERS_H
#define DUCKPOND_USERS_H

#include <stdbool.h>
#include <stddef.h>

#include "access.h"
#include "scram.h"

struct users;
struct user;

/* Loads path. On failure returns non-zero with a message (file, line, why). */
int users_load(const char *path, struct users **out, char *err, size_t errlen);
void users_free(struct users *u);

/* The user called name, or NULL. Owned by u. */
const struct user *users_find(const struct users *u, const char *name);
const char *user_name(const struct user *user);
/* The user's role; a NULL user (none) is read-only. */
enum access_role user_role(const struct user *user);
bool user_read_only(const struct user *user);

/* The user whose token this is (constant-time compare of hashes), or NULL. */
const struct user *users_by_token(const struct users *u, const char *token);

/*
 * Adds or replaces a user in the file at path (created 0600 if missing):
 * a fresh random salt, 4096 iterations, and a fresh random token, written
 * to *token_out (hex, caller frees) so that it can be shown once.
 */
int users_passwd_role(const char *path, const char *name, const char *password, enum access_role role,
                      char **token_out, char *err, size_t errlen);
/* users_passwd_role with role ro (read_only) or rw. */
int users_passwd(const char *path, const char *name, const char *password, bool read_only, char **token_out,
                 char *err, size_t errlen);

/* The user's SCRAM verifier (owned by the users), or NULL for a NULL user. */
const struct scram_verifier *user_verifier(const struct user *user);

/*
 * SCRAM-SHA-256 for a user of the file (RFC 5802/7677): the client-first
 * message -> the server-first message, with a fresh server nonce. user
 * may be NULL (unknown user): the exchange then runs with a made-up
 * verifier and fails at the end, so the client cannot tell which users
 * exist. scram_finish and scram_free (scram.h) carry the exchange on.
 * 0 or -1; *server_first is malloc'd (caller frees).
 */
int scram_begin(const struct user *user, const char *client_first, size_t len, struct scram **out,
                char **server_first);

/*
 * scram_begin for the user called name in u. An unknown name gets a
 * made-up verifier whose salt comes from the file's secret and the name
 * (scram_mock_salt): the same on every try, another for another name,
 * like a real user's, so a prober cannot tell which names exist. 0 or -1.
 */
int users_scram_begin(const struct users *u, const char *name, const char *client_first, size_t len,
                      struct scram **out, char **server_first);

#endif
