/* plot.c: the plotter of the training charts (see plot.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/plot.h"
#include "checked.h"

int stbi_write_png(char const *filename, int w, int h, int comp, const void *data, int stride_in_bytes);

void plot_series_add(plot_series *s, int it, float a, float b)
{
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 256;
        plot_point *p = realloc(s->p, (size_t)cap * sizeof(plot_point));
        if (!p) {
            dn_fatal("out of memory\n");
        }
        s->p = p;
        s->cap = cap;
    }
    s->p[s->n++] = (plot_point){it, a, b};
}

void plot_series_free(plot_series *s)
{
    free(s->p);
    memset(s, 0, sizeof(*s));
}

/* ---- drawing ------------------------------------------------------------ */

static void put(image im, int x, int y, plot_rgb c)
{
    if (x < 0 || y < 0 || x >= im.w || y >= im.h) return;
    int i = y * im.w + x, plane = im.w * im.h;
    im.data[i] = c.r;
    im.data[i + plane] = c.g;
    im.data[i + 2 * plane] = c.b;
}

void plot_fill(image im, int x0, int y0, int x1, int y1, plot_rgb c)
{
    for (int y = y0; y <= y1; ++y)
        for (int x = x0; x <= x1; ++x) put(im, x, y, c);
}

image plot_canvas(int w, int h)
{
    image im = make_image(w, h, 3);
    plot_fill(im, 0, 0, w - 1, h - 1, (plot_rgb){1, 1, 1});
    return im;
}

void plot_line(image im, int x0, int y0, int x1, int y1, int thick, plot_rgb c)
{
    int dx = abs(x1 - x0), dy = -abs(y1 - y0);
    int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, err = dx + dy;
    for (;;) {
        plot_fill(im, x0, y0, x0 + thick - 1, y0 + thick - 1, c);
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

int plot_text(image im, int x, int y, const char *s, int scale, plot_rgb c)
{
    int x0 = x;
    for (; *s; ++s) {
        const char *g = glyph(*s);
        for (int r = 0; g && r < 7; ++r)
            for (int col = 0; col < 5; ++col)
                if (g[r * 5 + col] == '#') plot_fill(im, x + col * scale, y + r * scale,
                                                     x + col * scale + scale - 1, y + r * scale + scale - 1, c);
        x += 6 * scale;
    }
    return x - x0;
}

int plot_text_width(const char *s, int scale) { return (int)strlen(s) * 6 * scale; }

void plot_text_right(image im, int x, int y, const char *s, int scale, plot_rgb c)
{
    plot_text(im, x - plot_text_width(s, scale), y, s, scale, c);
}

/* ---- PNG ------------------------------------------------------------------ */

int plot_save_png(image im, const char *path)
{
    unsigned char *px = malloc((size_t)im.w * im.h * 3);
    for (int y = 0; y < im.h; ++y)
        for (int x = 0; x < im.w; ++x)
            for (int k = 0; k < 3; ++k) {
                float v = im.data[k * im.w * im.h + y * im.w + x];
                px[(y * im.w + x) * 3 + k] = (unsigned char)(v <= 0 ? 0 : v >= 1 ? 255 : v * 255 + .5f);
            }
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
    return ok ? 0 : -1;
}
