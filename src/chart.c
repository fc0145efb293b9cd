/* chart.c: the training chart, drawn into an image and written as PNG.
 *
 * Training loss (the running average, blue, left axis) and validation
 * accuracy (top-1 red, top-k orange, right axis 0-100%) against the
 * iteration.  No plotting library: lines, markers and a small built-in 5x7
 * font are drawn straight into a darknet image, and the PNG is written with
 * the stb writer that upstream's image.c already contains. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"

int stbi_write_png(char const *filename, int w, int h, int comp, const void *data, int stride_in_bytes);

typedef struct point { int it; float a, b; } point;

struct chart {
    int w, h;
    int max_it;
    point *loss; int nloss, cap_loss;
    point *acc; int nacc, cap_acc;
    int k;
};

chart *chart_make(int w, int h)
{
    chart *c = calloc(1, sizeof(chart));
    c->w = w < 200 ? 200 : w;
    c->h = h < 150 ? 150 : h;
    c->k = 1;
    return c;
}

void chart_free(chart *c)
{
    if (!c) return;
    free(c->loss);
    free(c->acc);
    free(c);
}

static void push(point **v, int *n, int *cap, point p)
{
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 256;
        *v = realloc(*v, *cap * sizeof(point));
    }
    (*v)[(*n)++] = p;
}

void chart_add_loss(chart *c, int iteration, float loss)
{
    if (!isfinite(loss)) return;
    push(&c->loss, &c->nloss, &c->cap_loss, (point){iteration, loss, 0});
}

void chart_add_accuracy(chart *c, int iteration, float top1, float topk, int k)
{
    c->k = k;
    push(&c->acc, &c->nacc, &c->cap_acc, (point){iteration, top1, topk});
}

void chart_set_max_iteration(chart *c, int max_iteration) { c->max_it = max_iteration; }

/* ---- drawing ------------------------------------------------------------ */

typedef struct rgb { float r, g, b; } rgb;
static const rgb WHITE = {1, 1, 1}, BLACK = {0, 0, 0}, GRID = {.88f, .88f, .88f},
                 BLUE = {.12f, .35f, .80f}, RED = {.85f, .12f, .10f}, ORANGE = {.95f, .60f, .10f};

static void put(image im, int x, int y, rgb c)
{
    if (x < 0 || y < 0 || x >= im.w || y >= im.h) return;
    int i = y * im.w + x, plane = im.w * im.h;
    im.data[i] = c.r;
    im.data[i + plane] = c.g;
    im.data[i + 2 * plane] = c.b;
}

static void fill(image im, int x0, int y0, int x1, int y1, rgb c)
{
    for (int y = y0; y <= y1; ++y)
        for (int x = x0; x <= x1; ++x) put(im, x, y, c);
}

static void line(image im, int x0, int y0, int x1, int y1, int thick, rgb c)
{
    int dx = abs(x1 - x0), dy = -abs(y1 - y0);
    int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, err = dx + dy;
    for (;;) {
        fill(im, x0, y0, x0 + thick - 1, y0 + thick - 1, c);
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * err;
        if (e2 >= dy) { err += dy; x0 += sx; }
        if (e2 <= dx) { err += dx; y0 += sy; }
    }
}

/* A 5x7 font: each glyph is 7 rows of 5 cells, '#' drawn. */
static const struct { char ch; const char *rows; } font[] = {
    {'0', ".###.#...##..###.#.###..##...#.###."}, {'1', "..#...##....#....#....#....#...###."},
    {'2', ".###.#...#....#...#...#...#...#####"}, {'3', "#####...#...#.....#.....##...#.###."},
    {'4', "...#...##..#.#.#..#.#####...#....#."}, {'5', "######....####.....#....##...#.###."},
    {'6', "..##..#...#....####.#...##...#.###."}, {'7', "#####....#...#...#...#....#....#..."},
    {'8', ".###.#...##...#.###.#...##...#.###."}, {'9', ".###.#...##...#.####....#...#..##.."},
    {'A', ".###.#...##...#######...##...##...#"}, {'B', "####.#...##...#####.#...##...#####."},
    {'C', ".###.#...##....#....#....#...#.###."}, {'D', "###..#..#.#...##...##...##..#.###.."},
    {'E', "######....#....####.#....#....#####"}, {'F', "######....#....####.#....#....#...."},
    {'G', ".###.#...##....#.####...##...#.####"}, {'H', "#...##...##...#######...##...##...#"},
    {'I', ".###...#....#....#....#....#...###."}, {'J', "..###...#....#....#....#.#..#..##.."},
    {'K', "#...##..#.#.#..##...#.#..#..#.#...#"}, {'L', "#....#....#....#....#....#....#####"},
    {'M', "#...###.###.#.##.#.##...##...##...#"}, {'N', "#...##...###..##.#.##..###...##...#"},
    {'O', ".###.#...##...##...##...##...#.###."}, {'P', "####.#...##...#####.#....#....#...."},
    {'Q', ".###.#...##...##...##.#.##..#..##.#"}, {'R', "####.#...##...#####.#.#..#..#.#...#"},
    {'S', ".#####....#.....###.....#....#####."}, {'T', "#####..#....#....#....#....#....#.."},
    {'U', "#...##...##...##...##...##...#.###."}, {'V', "#...##...##...##...##...#.#.#...#.."},
    {'W', "#...##...##...##.#.##.#.##.#.#.#.#."}, {'X', "#...##...#.#.#...#...#.#.#...##...#"},
    {'Y', "#...##...#.#.#...#....#....#....#.."}, {'Z', "#####....#...#...#...#...#....#####"},
    {' ', "..................................."}, {'.', "..........................##...##.."},
    {',', ".....................##....#...#..."}, {'%', "##...##..#...#...#...#...#..##...##"},
    {'-', "...............#####..............."}, {':', "......##...##........##...##......."},
    {'(', "...#...#...#....#....#.....#.....#."}, {')', ".#.....#.....#....#....#...#...#..."},
    {'/', ".........#...#...#...#...#........."}, {'=', "..........#####.....#####.........."},
    {'_', "..............................#####"}, {'+', ".......#....#..#####..#....#......."},
};

static const char *glyph(char ch)
{
    if (ch >= 'a' && ch <= 'z') ch = ch - 'a' + 'A';
    for (size_t i = 0; i < sizeof(font) / sizeof(font[0]); ++i)
        if (font[i].ch == ch) return font[i].rows;
    return NULL;
}

/* Text with its top-left corner at (x, y); each cell is scale pixels. */
static int text(image im, int x, int y, const char *s, int scale, rgb c)
{
    int x0 = x;
    for (; *s; ++s) {
        const char *g = glyph(*s);
        for (int r = 0; g && r < 7; ++r)
            for (int col = 0; col < 5; ++col)
                if (g[r * 5 + col] == '#') fill(im, x + col * scale, y + r * scale,
                                                x + col * scale + scale - 1, y + r * scale + scale - 1, c);
        x += 6 * scale;
    }
    return x - x0;
}

static int text_width(const char *s, int scale) { return (int)strlen(s) * 6 * scale; }

/* Short label for a number: 1234 -> "1234", 120000 -> "120K", 0.25 -> "0.25". */
static void number(char *buf, size_t n, double v)
{
    if (v >= 100000) snprintf(buf, n, "%.0fK", v / 1000);
    else if (v >= 10 || v == 0 || fabs(v - round(v)) < 1e-9) snprintf(buf, n, "%.0f", v);
    else snprintf(buf, n, "%.2f", v);
}

image chart_draw(const chart *c)
{
    image im = make_image(c->w, c->h, 3);
    fill(im, 0, 0, c->w - 1, c->h - 1, WHITE);
    int left = 56, right = 56, top = 30, bottom = 36;
    int px0 = left, px1 = c->w - right, py0 = top, py1 = c->h - bottom;

    int max_it = c->max_it;
    if (c->nloss && c->loss[c->nloss - 1].it > max_it) max_it = c->loss[c->nloss - 1].it;
    if (c->nacc && c->acc[c->nacc - 1].it > max_it) max_it = c->acc[c->nacc - 1].it;
    if (max_it < 1) max_it = 1;
    float max_loss = 0;
    for (int i = 0; i < c->nloss; ++i) if (c->loss[i].a > max_loss) max_loss = c->loss[i].a;
    if (max_loss <= 0) max_loss = 1;
    max_loss *= 1.05f;

    /* grid, axes and tick labels */
    char buf[32];
    for (int t = 0; t <= 5; ++t) {
        int y = py1 - (py1 - py0) * t / 5;
        line(im, px0, y, px1, y, 1, GRID);
        number(buf, sizeof buf, max_loss * t / 5);
        text(im, px0 - 6 - text_width(buf, 1), y - 3, buf, 1, BLUE);
        snprintf(buf, sizeof buf, "%d%%", 20 * t);
        text(im, px1 + 6, y - 3, buf, 1, RED);
    }
    for (int t = 0; t <= 5; ++t) {
        int x = px0 + (px1 - px0) * t / 5;
        line(im, x, py0, x, py1, 1, GRID);
        number(buf, sizeof buf, (double)max_it * t / 5);
        text(im, x - text_width(buf, 1) / 2, py1 + 6, buf, 1, BLACK);
    }
    line(im, px0, py0, px0, py1, 1, BLACK);
    line(im, px1, py0, px1, py1, 1, BLACK);
    line(im, px0, py1, px1, py1, 1, BLACK);
    const char *xl = "ITERATION";
    text(im, (px0 + px1 - text_width(xl, 1)) / 2, py1 + 20, xl, 1, BLACK);

    /* title / legend */
    int x = px0;
    x += text(im, x, 8, "LOSS", 2, BLUE) + 12;
    x += text(im, x, 8, "TOP-1", 2, RED) + 12;
    snprintf(buf, sizeof buf, "TOP-%d", c->k);
    if (c->k > 1) text(im, x, 8, buf, 2, ORANGE);

#define XP(it) (px0 + (int)((double)(px1 - px0) * (it) / max_it))
#define YL(v) (py1 - (int)((double)(py1 - py0) * (v) / max_loss))
#define YA(v) (py1 - (int)((double)(py1 - py0) * (v)))
    for (int i = 1; i < c->nloss; ++i)
        line(im, XP(c->loss[i - 1].it), YL(c->loss[i - 1].a), XP(c->loss[i].it), YL(c->loss[i].a), 2, BLUE);
    if (c->nloss == 1) fill(im, XP(c->loss[0].it) - 1, YL(c->loss[0].a) - 1, XP(c->loss[0].it) + 1, YL(c->loss[0].a) + 1, BLUE);
    for (int series = (c->k > 1 ? 1 : 0); series >= 0; --series) {
        rgb col = series ? ORANGE : RED;
        for (int i = 0; i < c->nacc; ++i) {
            float v = series ? c->acc[i].b : c->acc[i].a;
            int xx = XP(c->acc[i].it), yy = YA(v);
            fill(im, xx - 2, yy - 2, xx + 2, yy + 2, col);
            if (i) {
                float pv = series ? c->acc[i - 1].b : c->acc[i - 1].a;
                line(im, XP(c->acc[i - 1].it), YA(pv), xx, yy, 2, col);
            }
        }
    }
    if (c->nacc) {
        snprintf(buf, sizeof buf, "TOP-1 %.2f%%", 100 * c->acc[c->nacc - 1].a);
        text(im, px1 - text_width(buf, 1) - 4, py0 + 4, buf, 1, RED);
    }
#undef XP
#undef YL
#undef YA
    return im;
}

int chart_save_png(const chart *c, const char *path)
{
    image im = chart_draw(c);
    unsigned char *px = malloc((size_t)im.w * im.h * 3);
    for (int y = 0; y < im.h; ++y)
        for (int x = 0; x < im.w; ++x)
            for (int k = 0; k < 3; ++k) {
                float v = im.data[k * im.w * im.h + y * im.w + x];
                px[(y * im.w + x) * 3 + k] = (unsigned char)(v <= 0 ? 0 : v >= 1 ? 255 : v * 255 + .5f);
            }
    /* Written beside the target and renamed, so a viewer never sees half a file. */
    size_t n = strlen(path) + 8;
    char *tmp = malloc(n);
    snprintf(tmp, n, "%s.tmp", path);
    int ok = stbi_write_png(tmp, im.w, im.h, 3, px, im.w * 3) && rename(tmp, path) == 0;
    if (!ok) {
        fprintf(stderr, "darknet: warning: cannot write the chart %s\n", path);
        remove(tmp);
    }
    free(tmp);
    free(px);
    free_image(im);
    return ok ? 0 : -1;
}
