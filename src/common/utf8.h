/*
 * utf8.h -- the UTF-8 check the library and the server share.
 */
#ifndef DUCKPOND_UTF8_H
#define DUCKPOND_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True if text[0..len) is well-formed UTF-8 (no overlongs, no surrogates, nothing past U+10FFFF). */
bool dp_utf8_valid(const void *text, size_t len);

#endif
