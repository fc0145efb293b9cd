/* key_set.h: a set of 64-bit keys (hashes of what has been reported), so
 * that each bad file or line is warned about once.  Not locked: callers
 * that share one between threads hold their own lock. */
#ifndef KEY_SET_H
#define KEY_SET_H

#include <stddef.h>
#include <stdint.h>

typedef struct key_set {
    uint64_t *keys;        /* open addressing; 0 marks a free slot */
    size_t cap, used;
} key_set;

/* FNV-1a of a string, then of a number; never 0. */
uint64_t key_of(const char *text, uint64_t number);
/* 1 when k was not in the set (it is now); exits when out of memory. */
int key_set_add(key_set *s, uint64_t k);
int key_set_has(const key_set *s, uint64_t k);
void key_set_clear(key_set *s);

#endif
