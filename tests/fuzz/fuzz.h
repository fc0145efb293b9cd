/* fuzz.h: the interface between harness.c and each fuzz target. */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Defined by each target. */
void fuzz_init(void);
void fuzz_one(const uint8_t *data, size_t size);

/* A private folder for the files the parsers read (made once). */
const char *fuzz_folder(void);
/* FOLDER/NAME into buf. */
char *fuzz_path(char *buf, size_t size, const char *name);
/* Writes data to path (aborts on failure: the harness, not the target, broke). */
void fuzz_write(const char *path, const uint8_t *data, size_t size);

#endif
