/* image_check.h: classification images that cannot be read are skipped with
 * a warning, counted and summarised (image_check.c).
 *
 * A file is usable when it opens, its header gives a size, and a PNG or
 * JPEG is complete (PNG: an IEND chunk at its end; JPEG: an end-of-image
 * marker after its scan data).  Each bad file is reported once:
 *     warning: PATH: WHY, image skipped
 * and counted by kind; image_issue_summary() writes one closing line.
 * The training loader's hook (ext_load_augment_image, patches/0042) draws
 * a replacement from the registered list for an image it cannot load. */
#ifndef IMAGE_CHECK_H
#define IMAGE_CHECK_H

#include <stdio.h>
#include "darknet.h"

typedef enum {
    IMAGE_UNREADABLE,      /* missing, not a regular file, cannot be read */
    IMAGE_NOT_AN_IMAGE,    /* no header stb_image knows (a text file named .png) */
    IMAGE_CUT_SHORT,       /* a PNG or JPEG that ends early */
    IMAGE_UNDECODABLE,     /* passed the checks, but the decoder failed */
    IMAGE_ISSUE_KINDS
} image_issue;

/* 0 with the size from the header, or -1 with the kind and a reason
 * (nothing is reported). */
int image_check_file(const char *path, int *w, int *h, image_issue *kind, const char **why);
/* 1 when usable; otherwise reports it and returns 0. */
int image_usable(const char *path);
/* The usable paths of a list, n_good of them (the strings are shared). */
char **image_scan_list(char **paths, int n, int *n_good);
/* Checks, then decodes to 3 channels as upstream's load_image_color(path,
 * 0, 0); 0 on success, -1 (reported) otherwise. */
int image_load_checked(const char *path, image *out);

/* Reports an issue once per path. */
void image_issue_note(image_issue kind, const char *path, const char *why);
int image_issue_total(void);
/* "image issues (each image skipped with a warning): 1 unreadable file, ..."
 * or nothing when there were none. */
void image_issue_summary(FILE *fp);
void image_issue_reset(void);

/* The list the training loader draws replacements from (its strings must
 * outlive training); n = 0: none, a bad image then stays upstream's blank
 * image, with its warning.  It also opens the decoded-image cache for
 * these paths (image_cache.h), and n = 0 closes it. */
void image_set_replacements(char **paths, int n);

#endif
