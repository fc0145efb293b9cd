/* key_set.c: see key_set.h. */
#include <stdlib.h>

#include "input/key_set.h"
#include "utils.h"

uint64_t key_of(const char *text, uint64_t number)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)text; *p; ++p) h = (h ^ *p) * 0x100000001b3ULL;
    for (int i = 0; i < 8; ++i) h = (h ^ ((number >> (8 * i)) & 0xff)) * 0x100000001b3ULL;
    return h ? h : 1;
}

static void grow(key_set *s)
{
    size_t cap = s->cap ? 2 * s->cap : 256;
    uint64_t *t = calloc(cap, sizeof(*t));
    if (!t) malloc_error();
    for (size_t i = 0; i < s->cap; ++i) {
        if (!s->keys[i]) continue;
        size_t j = s->keys[i] & (cap - 1);
        while (t[j]) j = (j + 1) & (cap - 1);
        t[j] = s->keys[i];
    }
    free(s->keys);
    s->keys = t;
    s->cap = cap;
}

int key_set_add(key_set *s, uint64_t k)
{
    if (2 * (s->used + 1) > s->cap) grow(s);
    size_t j = k & (s->cap - 1);
    for (; s->keys[j]; j = (j + 1) & (s->cap - 1)) {
        if (s->keys[j] == k) return 0;
    }
    s->keys[j] = k;
    s->used++;
    return 1;
}

int key_set_has(const key_set *s, uint64_t k)
{
    if (!s->cap) return 0;
    for (size_t j = k & (s->cap - 1); s->keys[j]; j = (j + 1) & (s->cap - 1)) {
        if (s->keys[j] == k) return 1;
    }
    return 0;
}

void key_set_clear(key_set *s)
{
    free(s->keys);
    s->keys = NULL;
    s->cap = s->used = 0;
}
