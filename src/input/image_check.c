/* image_check.c: classification images that cannot be read are skipped,
 * never turned into blank images (image_check.h; patches/0042).
 *
 * Upstream's OpenCV loader gives a blank 10 x 10 image for a file it cannot
 * read (after appending its name to ./bad.list), and its stb loader exits
 * with status 0.  Here a file is checked before a decoder sees it: it must
 * open, its header must give a size (stb_image's reader, which knows PNG,
 * JPEG, BMP, GIF, TGA, PSD, HDR, PIC and PNM), and a PNG or JPEG must be
 * complete.  Checking reads the head of the file and its last bytes, not
 * the whole file, so a list of a million images is scanned in minutes. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ext.h"
#include "image.h"
#include "input/image_cache.h"
#include "input/image_check.h"
#include "input/key_set.h"
#include "stb_image.h"
#include "utils.h"

/* ---- issues: each file counted and warned about once ------------------------ */

static pthread_mutex_t issue_lock = PTHREAD_MUTEX_INITIALIZER;
static int issue_counts[IMAGE_ISSUE_KINDS];
static key_set reported;        /* the paths warned about */

static const char *const issue_words[IMAGE_ISSUE_KINDS] = {
    "unreadable file", "not an image", "image cut short", "image the decoder refused",
};

/* 1 when the path was reported already: it is not read again. */
static int known_bad(const char *path)
{
    pthread_mutex_lock(&issue_lock);
    int found = key_set_has(&reported, key_of(path, 0));
    pthread_mutex_unlock(&issue_lock);
    return found;
}

void image_issue_note(image_issue kind, const char *path, const char *why)
{
    pthread_mutex_lock(&issue_lock);
    if (key_set_add(&reported, key_of(path, 0))) {
        ++issue_counts[kind];
        fprintf(stderr, "warning: %s: %s, image skipped\n", path, why);
    }
    pthread_mutex_unlock(&issue_lock);
}

int image_issue_total(void)
{
    pthread_mutex_lock(&issue_lock);
    int n = 0;
    for (int k = 0; k < IMAGE_ISSUE_KINDS; ++k) n += issue_counts[k];
    pthread_mutex_unlock(&issue_lock);
    return n;
}

void image_issue_summary(FILE *fp)
{
    if (!image_issue_total()) return;
    pthread_mutex_lock(&issue_lock);
    fprintf(fp, "image issues (each image skipped with a warning):");
    const char *sep = " ";
    for (int k = 0; k < IMAGE_ISSUE_KINDS; ++k) {
        if (!issue_counts[k]) continue;
        fprintf(fp, "%s%d %s%s", sep, issue_counts[k], issue_words[k], issue_counts[k] > 1 ? "s" : "");
        sep = ", ";
    }
    fprintf(fp, "\n");
    pthread_mutex_unlock(&issue_lock);
}

void image_issue_reset(void)
{
    pthread_mutex_lock(&issue_lock);
    memset(issue_counts, 0, sizeof(issue_counts));
    key_set_clear(&reported);
    pthread_mutex_unlock(&issue_lock);
}

/* ---- one file ----------------------------------------------------------------- */

#define HEAD_BYTES (256 * 1024)   /* enough for the header, EXIF included */
#define TAIL_BYTES 4096

typedef struct file_ends {
    unsigned char *head, tail[TAIL_BYTES];
    size_t head_n, tail_n;
    long size;
} file_ends;

/* Reads the first HEAD_BYTES and the last TAIL_BYTES of the file; errno on failure. */
static int read_ends(const char *path, file_ends *f)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return -1;
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        errno = EISDIR;
        return -1;
    }
    f->size = (long)st.st_size;
    size_t want = f->size < HEAD_BYTES ? (size_t)f->size : HEAD_BYTES;
    f->head = malloc(want + 1);
    if (!f->head) malloc_error();
    f->head_n = fread(f->head, 1, want, fp);
    long from = f->size > TAIL_BYTES ? f->size - TAIL_BYTES : 0;
    f->tail_n = fseek(fp, from, SEEK_SET) == 0 ? fread(f->tail, 1, TAIL_BYTES, fp) : 0;
    fclose(fp);
    return 0;
}

static int has_bytes(const unsigned char *b, size_t n, const char *what, size_t len)
{
    for (size_t i = 0; i + len <= n; ++i) {
        if (memcmp(b + i, what, len) == 0) return 1;
    }
    return 0;
}

/* A JPEG ends with an end-of-image marker (FF D9) after its scan data; one
 * cut short does not, and decoders fill the rest with grey.  Within scan
 * data FF is only followed by 00 or a restart marker, so finding FF D9 in
 * the last bytes means the scan ended.  A file held whole in the head is
 * searched after its last start-of-scan, so that the marker of an EXIF
 * thumbnail does not count. */
static int jpeg_ends(const file_ends *f)
{
    if ((long)f->head_n < f->size) return has_bytes(f->tail, f->tail_n, "\xff\xd9", 2);
    size_t sos = 0;
    for (size_t i = 2; i + 1 < f->head_n; ++i) {
        if (f->head[i] == 0xFF && f->head[i + 1] == 0xDA) sos = i;
    }
    return sos && has_bytes(f->head + sos, f->head_n - sos, "\xff\xd9", 2);
}

int image_check_file(const char *path, int *w, int *h, image_issue *kind, const char **why)
{
    static const char png_sig[] = "\x89PNG";
    file_ends f = {0};
    if (read_ends(path, &f) != 0) {
        *kind = IMAGE_UNREADABLE;
        *why = errno == ENOENT ? "no such file" : errno == EISDIR ? "not a regular file" : "cannot be read";
        return -1;
    }
    int c, ok = stbi_info_from_memory(f.head, (int)f.head_n, w, h, &c) && *w > 0 && *h > 0;
    *kind = IMAGE_NOT_AN_IMAGE;
    *why = f.size == 0 ? "empty file" : "not an image (no PNG, JPEG, BMP, GIF, TGA or PNM header)";
    if (ok && f.head_n >= 4 && memcmp(f.head, png_sig, 4) == 0 && !has_bytes(f.tail, f.tail_n, "IEND", 4)) {
        ok = 0;
        *kind = IMAGE_CUT_SHORT;
        *why = "corrupt image (PNG data ends early)";
    } else if (ok && f.head_n >= 2 && f.head[0] == 0xFF && f.head[1] == 0xD8 && !jpeg_ends(&f)) {
        ok = 0;
        *kind = IMAGE_CUT_SHORT;
        *why = "corrupt image (JPEG data ends early)";
    }
    free(f.head);
    return ok ? 0 : -1;
}

int image_usable(const char *path)
{
    int w, h;
    image_issue kind;
    const char *why;
    if (image_check_file(path, &w, &h, &kind, &why) == 0) return 1;
    image_issue_note(kind, path, why);
    return 0;
}

char **image_scan_list(char **paths, int n, int *n_good)
{
    char **good = calloc(n + 1, sizeof(char *));
    if (!good) malloc_error();
    int k = 0;
    for (int i = 0; i < n; ++i) {
        if (image_usable(paths[i])) good[k++] = paths[i];
    }
    *n_good = k;
    return good;
}

/* ---- decoding ------------------------------------------------------------------ */

#ifdef OPENCV
/* Upstream's decoder (OpenCV), so that pixels stay what they were.  When it
 * fails it still returns a blank 10 x 10 image: a size other than the
 * header's (turned by the EXIF orientation, or not) gives it away. */
static int decode(const char *path, int w, int h, image *out)
{
    image im = load_image_color((char *)path, 0, 0);
    if ((im.w == w && im.h == h) || (im.w == h && im.h == w)) {
        *out = im;
        return 0;
    }
    free_image(im);
    return -1;
}
#else
/* stb_image, as upstream's load_image_stb() reads it (the same division, so
 * the same bits), but a failure is reported instead of exiting with 0. */
static int decode(const char *path, int w, int h, image *out)
{
    int iw, ih, c;
    unsigned char *px = stbi_load(path, &iw, &ih, &c, 3);
    if (!px) return -1;
    image im = make_image(iw, ih, 3);
    for (int k = 0; k < 3; ++k) {
        for (int y = 0; y < ih; ++y) {
            for (int x = 0; x < iw; ++x) im.data[k * iw * ih + y * iw + x] = (float)px[(y * iw + x) * 3 + k] / 255.;
        }
    }
    stbi_image_free(px);
    *out = im;
    return 0;
}
#endif

int image_load_checked(const char *path, image *out)
{
    int w, h;
    image_issue kind;
    const char *why;
    if (known_bad(path)) return -1;
    if (image_check_file(path, &w, &h, &kind, &why) != 0) {
        image_issue_note(kind, path, why);
        return -1;
    }
    if (decode(path, w, h, out) != 0) {
        image_issue_note(IMAGE_UNDECODABLE, path, "corrupt image (the decoder could not read it)");
        return -1;
    }
    return 0;
}

/* ---- the training loader (patches/0042) ------------------------------------------- */

static char **replacements;
static int n_replacements;

void image_set_replacements(char **paths, int n)
{
    replacements = paths;
    n_replacements = n;
    /* the images the loader can draw are these: the cache may hold them */
    if (n > 0) image_cache_open(paths, n);
    else image_cache_close();
}

#define MAX_DRAWS 1000

image ext_load_augment_image(char **paths, int i)
{
    image im;
    for (int draw = 0; draw < MAX_DRAWS; ++draw) {
        /* only images that decoded are held: a bad one still meets the checks */
        if (image_cache_get(paths[i], &im)) return im;
        if (image_load_checked(paths[i], &im) == 0) {
            image_cache_offer(paths[i], im);
            return im;
        }
        /* a list no command of ours registered: upstream's blank image, but
         * with the warning above */
        if (!n_replacements) return make_image(10, 10, 3);
        /* drawn from the loader thread's stream: seeded runs stay reproducible */
        paths[i] = replacements[ext_rand() % n_replacements];
    }
    fprintf(stderr, "\ndarknet: error: no readable image among %d drawn from the training list\n", MAX_DRAWS);
    ext_exit_now(1);   /* a loader thread: the others are still decoding */
}
