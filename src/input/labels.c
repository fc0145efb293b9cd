/* labels.c: detection box files and classification label lists, read
 * strictly (patches/0022).
 *
 * Upstream's read_boxes() takes "class x y w h" with fscanf: it stops
 * silently at the first line it cannot read, and takes nan, inf and
 * negative classes, which then index the truth arrays out of bounds.
 * Upstream's fill_truth() reads classes= entries of the label list, however
 * many lines the list has.  Both now stop with an error naming the file. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ext.h"
#include "input/labels.h"
#include "utils.h"
#include "checked.h"

/* ---- detection boxes -------------------------------------------------------- */

static void __attribute__((noreturn)) box_fail(const char *file, int line, const char *why)
{
    dn_fatal("\n%s: line %d: %s\n", file, line, why);
}

static int blank(const char *s)
{
    for (; *s; ++s) {
        if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n') return 0;
    }
    return 1;
}

/* "class x y w h", whitespace separated, nothing after. */
static box_label parse_box(char *s, const char *file, int line)
{
    static const char form[] = "expected 'class x y w h' (a class number and four finite numbers)";
    box_label b = {0};
    char *end;
    errno = 0;
    long id = strtol(s, &end, 10);
    if (end == s || errno || (*end != ' ' && *end != '\t')) box_fail(file, line, form);
    if (id < 0 || id > 1000000000L) box_fail(file, line, "the class number must be 0 or more");
    b.id = (int)id;
    float v[4];
    for (int i = 0; i < 4; ++i) {
        s = end;
        v[i] = strtof(s, &end);
        if (end == s || !isfinite(v[i])) box_fail(file, line, form);
    }
    if (!blank(end)) box_fail(file, line, form);
    b.x = v[0];
    b.y = v[1];
    b.w = v[2];
    b.h = v[3];
    b.left = b.x - b.w / 2;
    b.right = b.x + b.w / 2;
    b.top = b.y - b.h / 2;
    b.bottom = b.y + b.h / 2;
    return b;
}

box_label *ext_read_boxes(const char *filename, int *n)
{
    FILE *file = fopen(filename, "r");
    if (!file) file_error((char *)filename);
    int count = 0, size = 64, line = 0;
    box_label *boxes = malloc(size * sizeof(box_label));
    if (!boxes) malloc_error();
    char *text;
    while ((text = fgetl(file))) {
        ++line;
        if (!blank(text)) {
            if (count == size) {
                size *= 2;
                box_label *more = realloc(boxes, size * sizeof(box_label));
                if (!more) malloc_error();
                boxes = more;
            }
            boxes[count++] = parse_box(text, filename, line);
        }
        free(text);
    }
    fclose(file);
    *n = count;
    return boxes;
}

void ext_check_box_classes(const char *filename, const box_label *boxes, int n, int classes)
{
    for (int i = 0; i < n; ++i) {
        if (boxes[i].id >= classes) {
            dn_fatal("\n%s: box %d has class %d, but the network has %d classes (0 to %d)\n",
                    filename, i + 1, boxes[i].id, classes, classes - 1);
        }
    }
}

/* ---- classification label lists ---------------------------------------------- */

typedef struct label_list {
    char **labels;
    int count;
    char *file;
} label_list;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static label_list *lists;
static int n_lists, cap_lists;

void ext_labels_read(const char *filename, char **labels, int count)
{
    pthread_mutex_lock(&lock);
    if (n_lists == cap_lists) {
        int cap = cap_lists ? 2 * cap_lists : 8;
        label_list *more = realloc(lists, cap * sizeof(*more));
        if (!more) malloc_error();
        lists = more;
        cap_lists = cap;
    }
    label_list l = {labels, count, strdup(filename)};
    lists[n_lists++] = l;
    pthread_mutex_unlock(&lock);
}

void ext_check_labels(char **labels, int k)
{
    label_list found = {NULL, 0, NULL};
    pthread_mutex_lock(&lock);
    for (int i = n_lists; i-- > 0;) {
        if (lists[i].labels == labels) {
            found = lists[i];
            break;
        }
    }
    pthread_mutex_unlock(&lock);
    if (!found.labels) return;   /* not read by get_labels() */
    const char *file = found.file ? found.file : "the label list";
    if (k > found.count) {
        dn_fatal("\n%s has %d labels, but the .data file says classes=%d\n",
                file, found.count, k);
    }
    for (int i = 0; i < k; ++i) {
        if (!labels[i][0]) {
            dn_fatal("\n%s: line %d is empty: it would match every image path\n",
                    file, i + 1);
        }
    }
}

void labels_forget_all(void)
{
    pthread_mutex_lock(&lock);
    for (int i = 0; i < n_lists; ++i) free(lists[i].file);
    free(lists);
    lists = NULL;
    n_lists = cap_lists = 0;
    pthread_mutex_unlock(&lock);
}
