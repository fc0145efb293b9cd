/* image_cache.h: each image of the training list decoded once and kept in
 * memory as 8-bit pixels (image_cache.c), so that later draws of it skip
 * opening, checking and decoding the file.
 *
 * An image is kept only when every decoded float is exactly k/255 for an
 * integer k (8-bit PNG and JPEG, through OpenCV or stb_image), so a copy
 * from the cache has the same bits as a fresh decode.  The budget is
 * DARKNET_IMAGE_CACHE_MB (default 1024; 0 turns the cache off); images
 * beyond it are decoded each time.  Entries are never changed once
 * inserted; lookups and inserts may come from any number of threads. */
#ifndef IMAGE_CACHE_H
#define IMAGE_CACHE_H

#include <stddef.h>
#include <stdio.h>
#include "darknet.h"

#define IMAGE_CACHE_DEFAULT_MB 1024

typedef struct image_cache_stats {
    int listed;             /* distinct paths the cache may hold */
    int kept;               /* images held */
    int over_budget;        /* decodes not kept: the budget was spent */
    int not_8bit;           /* images whose floats are not all k/255 */
    size_t bytes, budget;   /* held, and the most that may be */
} image_cache_stats;

/* The paths the cache may hold (the strings must outlive it), with the
 * budget of DARKNET_IMAGE_CACHE_MB; closes any cache open before.  The
 * budget in megabytes is -1 when the variable is not a number >= 0. */
void image_cache_open(char **paths, int n);
long image_cache_budget_mb(void);
/* The same with a budget in bytes (0: nothing is kept). */
void image_cache_open_budget(char **paths, int n, size_t budget);
/* Frees every entry; no loader thread may be running. */
void image_cache_close(void);

/* 1 with a fresh image (the caller frees it) when path is held, else 0. */
int image_cache_get(const char *path, image *out);
/* Keeps a copy of im, just decoded from path, when path is listed, not
 * held yet, im is 8-bit and it fits in the budget. */
void image_cache_offer(const char *path, image im);

image_cache_stats image_cache_stat(void);
/* "image cache: K of N images kept (B MB of a M MB budget)..." or nothing
 * when the cache is off. */
void image_cache_summary(FILE *fp);

#endif
