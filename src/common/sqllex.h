/*
 * sqllex.h -- the one SQL lexer of duckpond.
 *
 * Everything that reads SQL text without parsing it (splitting a Query at
 * its semicolons, finding the VALUES of an INSERT, rewriting PostgreSQL's
 * dialect for DuckDB) lexes it here, so that no two of them can disagree
 * on where a string, a quoted name or a comment ends. The rules are
 * DuckDB's (its scanner is PostgreSQL's, with standard_conforming_strings
 * always on):
 *   - white space is space, tab, newline, carriage return and form feed;
 *     "--" comments end at a newline or carriage return; slash-star
 *     comments nest;
 *   - '...' doubles a quote inside and takes backslashes as they are;
 *     E'...' also escapes with a backslash; B'', X'', N'' and U&'' are
 *     strings too, "..." and U&"..." quoted names ("" inside);
 *   - $tag$...$tag$ (tag: an identifier without '$', or empty) is a
 *     string; $1 is a parameter;
 *   - identifiers are letters, '_' and bytes >= 0x80, then also digits
 *     and '$'; a number never takes letters (1abc is 1 and abc);
 *   - operators follow PostgreSQL (a trailing + or - stays only beside
 *     one of ~!@#%^&|`?, and an operator stops before a comment).
 * Pure text: no allocation except in sqllex_value, nothing read outside
 * the len bytes given (no NUL terminator is needed).
 */
#ifndef DUCKPOND_SQLLEX_H
#define DUCKPOND_SQLLEX_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

enum sqllex_kind {
    SQLLEX_IDENT,  /* a bare word (keywords too); case-insensitive */
    SQLLEX_QIDENT, /* "quoted name", U&"..." */
    SQLLEX_STRING, /* '...', E'...', B'...', X'...', N'...', U&'...' */
    SQLLEX_DOLLAR, /* $tag$...$tag$ */
    SQLLEX_PARAM,  /* $1 */
    SQLLEX_NUMBER, /* 42, 1_000, 3.14, .5, 1e-3 */
    SQLLEX_OP,     /* operator characters, and :: */
    SQLLEX_PUNCT,  /* any other single byte: ( ) [ ] , ; . : ... */
};

struct sqllex_token {
    enum sqllex_kind kind;
    size_t start, len; /* where it stands in the text */
    /* Unterminated (a string, quoted name or dollar quote; it then runs to
     * the end of the text), or a '$' that opens nothing (then PUNCT, 1 byte). */
    bool bad;
};

/* An iterator over the tokens of a text. */
struct sqllex {
    const char *text;
    size_t len, pos; /* pos: where the next token is looked for */
    bool bad;        /* sticky: a bad token or an unterminated comment was met */
};

void sqllex_init(struct sqllex *lx, const char *text, size_t len);

/*
 * The next token after white space and comments: true with *tok filled
 * in, false at the end of the text. A bad token is returned (and sets
 * lx->bad); an unterminated comment ends the text (and sets lx->bad).
 */
bool sqllex_next(struct sqllex *lx, struct sqllex_token *tok);

/*
 * The next statement: true with [*start, *start + *len) the text from
 * lx->pos up to the next ';' token (not included) or the end, false when
 * the rest of the text holds nothing but white space, comments and ';'.
 * A statement of nothing but white space and comments is passed over.
 * The text returned keeps its leading white space and comments.
 */
bool sqllex_next_statement(struct sqllex *lx, size_t *start, size_t *len);

/*
 * Where the white space and comments starting at s[i] end (s holds n
 * bytes). An unterminated comment runs to n and sets *bad (bad may be NULL).
 */
size_t sqllex_skip_space(const char *s, size_t n, size_t i, bool *bad);

/*
 * Reads the token that starts at s[i] (i < n; not at white space or a
 * comment) into *tok and returns where it ends. A token is read from its
 * first byte: a quote is never taken as the body of an E'...' before it.
 */
size_t sqllex_token(const char *s, size_t n, size_t i, struct sqllex_token *tok);

/* Whether c may stand inside an identifier (letters, digits, '_', '$', bytes >= 0x80). */
bool sqllex_ident_char(char c);

/* Whether tok is the bare word w (ASCII case-insensitive; w in any case). */
bool sqllex_is_word(const char *s, const struct sqllex_token *tok, const char *w);

/*
 * Reads the next token as a bare word, upper-cased (ASCII letters only)
 * into buf of n bytes: true, the token consumed. False, with buf "" and
 * nothing consumed, when the next token is not a bare word, is a word of
 * n bytes or more, or the text has ended. For matching keywords.
 */
bool sqllex_next_word(struct sqllex *lx, char *buf, size_t n);

/*
 * Appends the value a token stands for to out: a bare word folded to
 * lower case (ASCII letters only, as PostgreSQL does); a quoted name
 * without its quotes ("" as one); a '...' or N'...' string without its
 * quotes ('' as one); an E'...' string with its escapes resolved as
 * DuckDB does (\b \f \n \r \t, octal \ooo, hex \xhh, any other byte as
 * itself); a dollar quote's body. Returns 0, or -1 with nothing appended
 * for any other token, a bad one, an escape DuckDB refuses (\u, \U, or
 * an octal or hex one that makes a NUL or a byte >= 0x80), or when out
 * has failed.
 */
int sqllex_value(const char *s, const struct sqllex_token *tok, struct dp_buf *out);

/*
 * The table a write statement names as its target: the name after INSERT
 * [OR REPLACE|IGNORE] INTO, UPDATE [ONLY], DELETE FROM, COPY, MERGE INTO,
 * TRUNCATE [TABLE], ALTER TABLE or DROP TABLE [IF EXISTS], found outside
 * parentheses (so after a WITH's queries too). Its last part into table
 * and the part before it, or "", into schema (values as sqllex_value
 * gives them, cut to tn and sn bytes). False when the statement names no
 * table so (a SELECT, COPY (query) TO, DROP VIEW...). For refusing writes
 * to tables the server keeps to itself; DuckDB's statement type says
 * whether a statement writes at all.
 */
bool sqllex_write_target(const char *sql, char *schema, size_t sn, char *table, size_t tn);

#endif
