/* det_data.h: detection data that never stops training silently.
 *
 * Label files are darknet's: one object a line, "class cx cy w h", all
 * relative to the image size.  Each problem below is reported once per file
 * and line with a warning that names the file, counted, and summarised; the
 * line, or the whole image, is skipped:
 *   - a missing label file (the image is skipped);
 *   - a malformed line (not an integer and four numbers);
 *   - a class id outside [0, classes);
 *   - a box outside the image (an edge more than DET_BOX_SLACK outside
 *     [0, 1], or a width or height that is not positive); edges within the
 *     slack are clipped;
 *   - an unreadable or corrupt image (the image is skipped).
 *
 * Difficult objects (kept by the VOC conversion for evaluation only) live in
 * a parallel file: the label path with the "labels" folder named
 * "difficult".  It is optional.
 *
 * Images are decoded with stb_image in every build, so that a file that
 * cannot be decoded is detected (OpenCV's reader in upstream quietly gave a
 * blank image, stb's reader exited). */
#ifndef DET_DATA_H
#define DET_DATA_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "darknet.h"

#define DET_BOX_SLACK 0.005f

typedef enum {
    DET_MISSING_LABELS,
    DET_MALFORMED_LINE,
    DET_BAD_CLASS,
    DET_BAD_BOX,
    DET_BAD_IMAGE,
    DET_ISSUE_KINDS
} det_issue;

typedef struct det_object {
    int cls;
    float x, y, w, h;      /* centre and size, relative to the image */
} det_object;

/* The label file of an image: the same folder and extension substitutions
 * as upstream (images, JPEGImages, raw -> folder; image extension -> .txt).
 * folder is "labels" or "difficult". */
void det_label_path(const char *image, const char *folder, char *out, size_t size);

/* Reads a label file.  Returns the number of good objects (*out, to free),
 * or -1 when the file is missing; missing counts as an issue when required.
 * classes <= 0 skips the class check. */
int det_read_labels(const char *path, int classes, int required, det_object **out);

/* Decodes an image to 3 channels; 0 on success, -1 (reported) otherwise. */
int det_load_image(const char *path, image *out);
/* The image's size from its header, after checking that the file is
 * readable and, for a JPEG, complete; 0 on success, -1 (reported) otherwise. */
int det_image_size(const char *path, int *w, int *h);

/* Reports an issue: "warning: FILE[:LINE]: WHAT", printed and counted once
 * per kind, file and line; line 0 means the whole file. */
void det_issue_note(det_issue kind, const char *file, int line, const char *what);
int det_issue_count(det_issue kind);
int det_issue_total(void);
/* One line: "data issues: ..." or nothing when there were none. */
void det_issue_summary(FILE *fp);
void det_issue_reset(void);

/* Checks every image of a list: label file present and readable, image
 * file complete and its header readable (full decoding errors are caught
 * when the image is loaded).  Returns the usable paths (n_good of them; the strings
 * are shared with paths). */
/* The non-blank lines of a list file (image paths); *n gets their count. */
char **det_read_list(const char *file, int *n);

char **det_scan_list(char **paths, int n, int classes, int *n_good);

/* One batch of augmented training data, in the layout of upstream's
 * DETECTION_DATA: X is n images of w*h*3, y holds max_boxes records of
 * (x, y, w, h, class) per image.  Random choices come from (seed, index), so
 * the same seed gives the same batches whatever the thread timing. */
typedef struct det_batch_args {
    char **paths;
    int n_paths;
    int n, w, h;
    int classes, max_boxes;
    float jitter, hue, saturation, exposure;
    int flip;              /* random horizontal flips */
    uint64_t seed;
    uint64_t index;        /* batch number */
    int threads;
    /* Data-parallel training: only images [share_first, share_last) are
     * loaded (a rank's share; the others stay zero).  Both 0: all.  Each
     * image draws from (seed, batch, its index), so a share holds what the
     * same rows of the whole batch hold. */
    int share_first, share_last;
} det_batch_args;

data det_load_batch(det_batch_args a);
/* Loads in the background into *out; join the returned thread. */
pthread_t det_load_batch_async(det_batch_args a, data *out);

#endif
