/*
 * status_page.h -- the HTML of the status page served at "/".
 *
 * The page is data: status_page.html (its opening comment says what it
 * shows and how it polls), embedded at build time by the Makefile as the
 * array status_page_html, so it can be read, edited and opened on its own.
 */
#ifndef DUCKPOND_STATUS_PAGE_H
#define DUCKPOND_STATUS_PAGE_H

/* status_page.html, NUL-terminated; generated from it by the Makefile. */
extern const char status_page_html[];

#endif
