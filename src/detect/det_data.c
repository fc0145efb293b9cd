/* det_data.c: robust detection labels, images and batches (see det_data.h). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detect/det_data.h"
#include "image.h"
#include "input/key_set.h"
#include "rand/rng.h"
#include "stb_image.h"
#include "utils.h"
#include "checked.h"

/* ---- issues: counted once per (kind, file, line) ------------------------- */

static pthread_mutex_t issue_lock = PTHREAD_MUTEX_INITIALIZER;
static int issue_counts[DET_ISSUE_KINDS];
static key_set reported;         /* (kind, file, line) warned about */

static const char *const issue_names[DET_ISSUE_KINDS] = {
    "missing label file", "malformed line", "class id out of range",
    "box outside the image", "unreadable image"
};

void det_issue_note(det_issue kind, const char *file, int line, const char *what)
{
    pthread_mutex_lock(&issue_lock);
    if (key_set_add(&reported, key_of(file, (uint64_t)kind << 32 | (uint32_t)line))) {
        issue_counts[kind]++;
        if (line > 0) fprintf(stderr, "warning: %s:%d: %s\n", file, line, what);
        else fprintf(stderr, "warning: %s: %s\n", file, what);
    }
    pthread_mutex_unlock(&issue_lock);
}

int det_issue_count(det_issue kind)
{
    pthread_mutex_lock(&issue_lock);
    int n = issue_counts[kind];
    pthread_mutex_unlock(&issue_lock);
    return n;
}

int det_issue_total(void)
{
    int n = 0;
    for (int k = 0; k < DET_ISSUE_KINDS; ++k) n += det_issue_count(k);
    return n;
}

void det_issue_summary(FILE *fp)
{
    if (!det_issue_total()) return;
    fprintf(fp, "data issues (each skipped with a warning):");
    const char *sep = " ";
    for (int k = 0; k < DET_ISSUE_KINDS; ++k) {
        int n = det_issue_count(k);
        if (!n) continue;
        fprintf(fp, "%s%d %s", sep, n, issue_names[k]);
        sep = ", ";
    }
    fprintf(fp, "\n");
}

void det_issue_reset(void)
{
    pthread_mutex_lock(&issue_lock);
    memset(issue_counts, 0, sizeof(issue_counts));
    key_set_clear(&reported);
    pthread_mutex_unlock(&issue_lock);
}

/* ---- label files --------------------------------------------------------- */

void det_label_path(const char *image, const char *folder, char *out, size_t size)
{
    snprintf(out, size, "%s", image);
    /* the folder: the last "/JPEGImages/", "/images/" or "/raw/" component */
    static const char *const dirs[] = {"/JPEGImages/", "/images/", "/raw/", NULL};
    for (int i = 0; dirs[i]; ++i) {
        char *hit = NULL, *p = out;
        while ((p = strstr(p, dirs[i]))) hit = p++;
        if (hit) {
            char with[64];
            snprintf(with, sizeof(with), "/%s/", folder);
            char tail[4096];
            snprintf(tail, sizeof(tail), "%s", hit + strlen(dirs[i]));
            *hit = '\0';
            size_t used = strlen(out);
            snprintf(out + used, size - used, "%s%s", with, tail);
            break;
        }
    }
    /* the extension */
    char *slash = strrchr(out, '/');
    char *dot = strrchr(out, '.');
    if (dot && (!slash || dot > slash)) *dot = '\0';
    size_t used = strlen(out);
    snprintf(out + used, size - used, ".txt");
}

static int parse_line(char *s, int *cls, float v[4])
{
    char *end;
    while (isspace((unsigned char)*s)) ++s;
    errno = 0;
    long c = strtol(s, &end, 10);
    if (end == s || errno || !isspace((unsigned char)*end)) return -1;
    s = end;
    for (int i = 0; i < 4; ++i) {
        v[i] = strtof(s, &end);
        if (end == s || !isfinite(v[i])) return -1;
        if (*end && !isspace((unsigned char)*end)) return -1;
        s = end;
    }
    while (isspace((unsigned char)*s)) ++s;
    if (*s) return -1;
    if (c < -2147483647L || c > 2147483647L) return -1;
    *cls = (int)c;
    return 0;
}

int det_read_labels(const char *path, int classes, int required, det_object **out)
{
    *out = NULL;
    FILE *fp = fopen(path, "r");
    if (!fp) {
        if (required) det_issue_note(DET_MISSING_LABELS, path, 0, "missing label file, image skipped");
        return -1;
    }
    int n = 0, cap = 0, lineno = 0;
    det_object *objs = NULL;
    char line[1024];
    while (fgets(line, sizeof(line), fp)) {
        ++lineno;
        size_t len = strlen(line);
        if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
            int ch;
            while ((ch = fgetc(fp)) != EOF && ch != '\n') {}
            det_issue_note(DET_MALFORMED_LINE, path, lineno, "malformed line (too long), line skipped");
            continue;
        }
        char *p = line;
        while (isspace((unsigned char)*p)) ++p;
        if (!*p) continue;
        int cls;
        float v[4];
        if (parse_line(line, &cls, v)) {
            det_issue_note(DET_MALFORMED_LINE, path, lineno,
                           "malformed line (expected: class cx cy w h), line skipped");
            continue;
        }
        if (cls < 0 || (classes > 0 && cls >= classes)) {
            char what[96];
            snprintf(what, sizeof(what), "class id %d outside [0, %d), line skipped", cls, classes);
            det_issue_note(DET_BAD_CLASS, path, lineno, what);
            continue;
        }
        float x = v[0], y = v[1], w = v[2], h = v[3];
        float s = DET_BOX_SLACK;
        if (!(w > 0) || !(h > 0) || x - w / 2 < -s || x + w / 2 > 1 + s ||
            y - h / 2 < -s || y + h / 2 > 1 + s) {
            det_issue_note(DET_BAD_BOX, path, lineno, "box outside the image, line skipped");
            continue;
        }
        /* clip what lies within the slack */
        float l = fmaxf(0, x - w / 2), r = fminf(1, x + w / 2);
        float t = fmaxf(0, y - h / 2), b = fminf(1, y + h / 2);
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            det_object *grown = realloc(objs, cap * sizeof(det_object));
            if (!grown) {
                dn_fatal("out of memory\n");
            }
            objs = grown;
        }
        det_object o = {cls, (l + r) / 2, (t + b) / 2, r - l, b - t};
        objs[n++] = o;
    }
    fclose(fp);
    *out = objs;
    return n;
}

/* ---- images -------------------------------------------------------------- */

static unsigned char *slurp(const char *path, size_t *size)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    unsigned char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 1 << 16;
            unsigned char *grown = realloc(buf, cap);
            if (!grown) {
                free(buf);
                fclose(fp);
                return NULL;
            }
            buf = grown;
        }
        size_t got = fread(buf + n, 1, cap - n, fp);
        n += got;
        if (got == 0) break;
    }
    fclose(fp);
    *size = n;
    return buf;
}

/* A JPEG must hold an end-of-image marker after its last start-of-scan
 * marker; a truncated file does not (decoders fill the rest with grey). */
static int jpeg_complete(const unsigned char *b, size_t n)
{
    if (n < 4 || b[0] != 0xFF || b[1] != 0xD8) return 1;     /* not a JPEG */
    size_t sos = 0;
    for (size_t i = 2; i + 1 < n; ++i) if (b[i] == 0xFF && b[i + 1] == 0xDA) sos = i;
    if (!sos) return 0;
    for (size_t i = sos + 2; i + 1 < n; ++i) if (b[i] == 0xFF && b[i + 1] == 0xD9) return 1;
    return 0;
}

int det_load_image(const char *path, image *out)
{
    size_t size = 0;
    unsigned char *file = slurp(path, &size);
    if (!file) {
        det_issue_note(DET_BAD_IMAGE, path, 0, "cannot read image, image skipped");
        return -1;
    }
    if (!jpeg_complete(file, size)) {
        free(file);
        det_issue_note(DET_BAD_IMAGE, path, 0, "corrupt image (JPEG data ends early), image skipped");
        return -1;
    }
    int w, h, c;
    unsigned char *px = stbi_load_from_memory(file, (int)size, &w, &h, &c, 3);
    free(file);
    if (!px || w < 1 || h < 1) {
        if (px) stbi_image_free(px);
        det_issue_note(DET_BAD_IMAGE, path, 0, "corrupt or unsupported image, image skipped");
        return -1;
    }
    image im = make_image(w, h, 3);
    for (int k = 0; k < 3; ++k) {
        for (int y = 0; y < h; ++y) {
            for (int x = 0; x < w; ++x) im.data[k * w * h + y * w + x] = px[(y * w + x) * 3 + k] / 255.f;
        }
    }
    stbi_image_free(px);
    *out = im;
    return 0;
}

int det_image_size(const char *path, int *w, int *h)
{
    size_t size = 0;
    unsigned char *file = slurp(path, &size);
    if (!file) {
        det_issue_note(DET_BAD_IMAGE, path, 0, "cannot read image, image skipped");
        return -1;
    }
    int c, ok = jpeg_complete(file, size);
    if (!ok) {
        det_issue_note(DET_BAD_IMAGE, path, 0, "corrupt image (JPEG data ends early), image skipped");
    } else if (!stbi_info_from_memory(file, (int)size, w, h, &c) || *w < 1 || *h < 1) {
        det_issue_note(DET_BAD_IMAGE, path, 0, "corrupt or unsupported image, image skipped");
        ok = 0;
    }
    free(file);
    return ok ? 0 : -1;
}

char **det_scan_list(char **paths, int n, int classes, int *n_good)
{
    char **good = calloc(n + 1, sizeof(char *));
    int k = 0;
    char lp[4096];
    for (int i = 0; i < n; ++i) {
        det_label_path(paths[i], "labels", lp, sizeof(lp));
        det_object *objs;
        if (det_read_labels(lp, classes, 1, &objs) < 0) continue;
        free(objs);
        int w, h;
        if (det_image_size(paths[i], &w, &h)) continue;
        good[k++] = paths[i];
    }
    *n_good = k;
    return good;
}

/* ---- batches ------------------------------------------------------------- */

typedef struct job {
    det_batch_args a;
    data *d;
    int first, last;       /* images [first, last) of the batch */
} job;

static float scale_draw(rng *r, float s)
{
    float v = rng_uniform_range(r, 1, s < 1 ? 1 : s);
    return rng_below(r, 2) ? v : 1 / v;
}

/* One training image: decoded, placed with a random aspect and position into
 * a grey w*h canvas, colour-distorted, maybe flipped; truths to match. */
/* Where an image went on the canvas, and whether it was flipped. */
typedef struct placement {
    float nw, nh, dx, dy;
    int flip;
} placement;

/* A random image of the list with its labels; bad ones are skipped. */
static int pick_image(det_batch_args a, rng *r, image *orig, det_object **objs)
{
    char lp[4096];
    for (int tries = 0; tries < 1000; ++tries) {
        const char *path = a.paths[rng_below(r, (uint32_t)a.n_paths)];
        det_label_path(path, "labels", lp, sizeof(lp));
        int n = det_read_labels(lp, a.classes, 1, objs);
        if (n < 0) continue;
        if (det_load_image(path, orig) == 0) return n;
        free(*objs);
        *objs = NULL;
    }
    dn_fatal("no usable image among %d tried in the training list\n", 1000);
}

/* Jitters the aspect ratio, places the image on a grey canvas, distorts
 * the colours and flips, writing the result to x_out. */
static placement augment_image(det_batch_args a, rng *r, image orig, float *x_out)
{
    placement p;
    image canvas = make_image(a.w, a.h, 3);
    fill_image(canvas, .5f);
    float dw = a.jitter * orig.w, dh = a.jitter * orig.h;
    float ar = (orig.w + rng_uniform_range(r, -dw, dw)) / (orig.h + rng_uniform_range(r, -dh, dh));
    if (ar < 1) {
        p.nh = a.h;
        p.nw = p.nh * ar;
    } else {
        p.nw = a.w;
        p.nh = p.nw / ar;
    }
    p.dx = rng_uniform_range(r, 0, a.w - p.nw);
    p.dy = rng_uniform_range(r, 0, a.h - p.nh);
    place_image(orig, (int)p.nw, (int)p.nh, (int)p.dx, (int)p.dy, canvas);
    if (a.hue != 0 || a.saturation != 1 || a.exposure != 1) {
        float dhue = rng_uniform_range(r, -a.hue, a.hue);
        float dsat = scale_draw(r, a.saturation);
        float dexp = scale_draw(r, a.exposure);
        distort_image(canvas, dhue, dsat, dexp);
    }
    p.flip = a.flip ? (int)rng_below(r, 2) : 0;
    if (p.flip) flip_image(canvas);
    memcpy(x_out, canvas.data, sizeof(float) * a.w * a.h * 3);
    free_image(canvas);
    return p;
}

/* The objects as placed, at most max_boxes of them, in a random order so
 * that a cut at max_boxes drops random objects. */
static void write_truths(det_batch_args a, rng *r, det_object *objs, int n, placement p, float *truth)
{
    for (int i = n - 1; i > 0; --i) {
        int j = (int)rng_below(r, (uint32_t)(i + 1));
        det_object t = objs[i];
        objs[i] = objs[j];
        objs[j] = t;
    }
    float sx = (float)(int)p.nw / a.w, sy = (float)(int)p.nh / a.h;
    float ox = (float)(int)p.dx / a.w, oy = (float)(int)p.dy / a.h;
    int k = 0;
    for (int i = 0; i < n && k < a.max_boxes; ++i) {
        det_object o = objs[i];
        float l = (o.x - o.w / 2) * sx + ox, rr = (o.x + o.w / 2) * sx + ox;
        float t = (o.y - o.h / 2) * sy + oy, b = (o.y + o.h / 2) * sy + oy;
        if (p.flip) {
            float tmp = l;
            l = 1 - rr;
            rr = 1 - tmp;
        }
        l = constrain(0, 1, l);
        rr = constrain(0, 1, rr);
        t = constrain(0, 1, t);
        b = constrain(0, 1, b);
        if (rr - l < .001f || b - t < .001f) continue;
        truth[k * 5 + 0] = (l + rr) / 2;
        truth[k * 5 + 1] = (t + b) / 2;
        truth[k * 5 + 2] = rr - l;
        truth[k * 5 + 3] = b - t;
        truth[k * 5 + 4] = o.cls;
        ++k;
    }
}

static void load_one(det_batch_args a, int slot, float *x_out, float *truth)
{
    rng r;
    rng_seed(&r, a.seed, 0x100000000ULL + a.index * 4096 + (uint64_t)slot);
    image orig = {0};
    det_object *objs = NULL;
    int n = pick_image(a, &r, &orig, &objs);
    placement p = augment_image(a, &r, orig, x_out);
    free_image(orig);
    write_truths(a, &r, objs, n, p, truth);
    free(objs);
}

static void *run_job(void *p)
{
    job *j = p;
    for (int i = j->first; i < j->last; ++i) {
        load_one(j->a, i, j->d->X.vals[i], j->d->y.vals[i]);
    }
    return NULL;
}

data det_load_batch(det_batch_args a)
{
    data d = {0};
    d.shallow = 0;
    d.X = make_matrix(a.n, a.w * a.h * 3);
    d.y = make_matrix(a.n, 5 * a.max_boxes);
    int lo = a.share_last > 0 ? a.share_first : 0, hi = a.share_last > 0 ? a.share_last : a.n;
    int t = a.threads < 1 ? 1 : a.threads;
    if (t > hi - lo) t = hi - lo;
    pthread_t *th = calloc(t > 0 ? t : 1, sizeof(pthread_t));
    job *jobs = calloc(t > 0 ? t : 1, sizeof(job));
    for (int i = 0; i < t; ++i) {
        jobs[i].a = a;
        jobs[i].d = &d;
        jobs[i].first = lo + (hi - lo) * i / t;
        jobs[i].last = lo + (hi - lo) * (i + 1) / t;
        if (pthread_create(&th[i], 0, run_job, &jobs[i])) {
            dn_fatal("cannot start a loading thread\n");
        }
    }
    for (int i = 0; i < t; ++i) pthread_join(th[i], 0);
    free(th);
    free(jobs);
    return d;
}

typedef struct async_job {
    det_batch_args a;
    data *out;
} async_job;

static void *run_async(void *p)
{
    async_job *j = p;
    *j->out = det_load_batch(j->a);
    free(j);
    return NULL;
}

pthread_t det_load_batch_async(det_batch_args a, data *out)
{
    async_job *j = malloc(sizeof(*j));
    j->a = a;
    j->out = out;
    pthread_t t;
    if (pthread_create(&t, 0, run_async, j)) {
        dn_fatal("cannot start a loading thread\n");
    }
    return t;
}

char **det_read_list(const char *file, int *n)
{
    list *l = get_paths((char *)file);
    char **all = (char **)list_to_array(l);
    int k = 0;
    for (int i = 0; i < l->size; ++i) {
        char *p = all[i];
        while (*p == ' ' || *p == '\t' || *p == '\r') ++p;
        if (*p) all[k++] = all[i];
    }
    *n = k;
    free_list(l);
    return all;
}
