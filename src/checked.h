/* checked.h: the calls that either succeed or end the program, written once
 * (checked.c): allocation, opening a file, and the error line.  Each failure
 * prints one line, "darknet: error: ...", and exits with status 1, as every
 * fatal error of this project does (docs/robustness.md). */
#ifndef CHECKED_H
#define CHECKED_H

#include <stddef.h>
#include <stdio.h>

/* malloc, calloc and realloc that never return NULL; 0 bytes gives a
 * pointer that can be freed. */
void *dn_malloc(size_t bytes);
void *dn_calloc(size_t n, size_t size);
void *dn_realloc(void *p, size_t bytes);

/* fopen, or the error "cannot open PATH for reading|writing: REASON". */
FILE *dn_fopen(const char *path, const char *mode);

/* Prints "darknet: error: " and the formatted message (which ends with its
 * own newline), then exits with status 1.  A message that starts with a
 * newline gets it before "darknet: error: ", which ends a progress line
 * first. */
__attribute__((noreturn, format(printf, 1, 2)))
void dn_fatal(const char *fmt, ...);

/* Prints a command's usage (formatted, ending with its own newline) to
 * stderr and exits with status 1. */
__attribute__((noreturn, format(printf, 1, 2)))
void dn_usage(const char *fmt, ...);

#endif
