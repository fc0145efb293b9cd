/* det_chart.c: training chart as PNG (see det_chart.h), with a small
 * built-in 5x7 font so that no font files are needed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "det_chart.h"

static void *grow(void *p, int *cap, int need, size_t size)
{
    if (need <= *cap) return p;
    int c = *cap ? *cap * 2 : 256;
    while (c < need) c *= 2;
    void *q = realloc(p, (size_t)c * size);
    if (!q) {
        fprintf(stderr, "darknet: error: out of memory\n");
        exit(1);
    }
    *cap = c;
    return q;
}

void det_chart_add_loss(det_chart *c, int iter, float loss)
{
    int cap = c->cap_loss;
    c->loss_iter = grow(c->loss_iter, &cap, c->n_loss + 1, sizeof(int));
    c->loss = grow(c->loss, &c->cap_loss, c->n_loss + 1, sizeof(float));
    c->loss_iter[c->n_loss] = iter;
    c->loss[c->n_loss++] = loss;
}

void det_chart_add_map(det_chart *c, int iter, float map)
{
    int cap = c->cap_map;
    c->map_iter = grow(c->map_iter, &cap, c->n_map + 1, sizeof(int));
    c->map = grow(c->map, &c->cap_map, c->n_map + 1, sizeof(float));
    c->map_iter[c->n_map] = iter;
    c->map[c->n_map++] = map;
}

void det_chart_free(det_chart *c)
{
    free(c->loss_iter);
    free(c->loss);
    free(c->map_iter);
    free(c->map);
    memset(c, 0, sizeof(*c));
}

/* ---- drawing ----------------------------------------------------------------- */

typedef struct rgb {
    float r, g, b;
} rgb;

static void dot(image im, int x, int y, rgb c)
{
    if (x < 0 || y < 0 || x >= im.w || y >= im.h) return;
    int n = im.w * im.h;
    im.data[y * im.w + x] = c.r;
    im.data[n + y * im.w + x] = c.g;
    im.data[2 * n + y * im.w + x] = c.b;
}

static void line(image im, int x0, int y0, int x1, int y1, rgb c, int thick)
{
    int dx = abs(x1 - x0), dy = -abs(y1 - y0);
    int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, err = dx + dy;
    for (;;) {
        for (int a = 0; a < thick; ++a) for (int b = 0; b < thick; ++b) dot(im, x0 + a, y0 + b, c);
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * err;
        if (e2 >= dy) { err += dy; x0 += sx; }
        if (e2 <= dx) { err += dx; y0 += sy; }
    }
}

/* 5x7 glyphs, one byte a row, bit 4 leftmost. */
static const char glyph_chars[] = "0123456789.%:-ABEILMNOPRST";
static const unsigned char glyphs[][7] = {
    {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}, {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E},
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}, {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E},
    {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}, {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E},
    {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}, {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08},
    {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}, {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C},
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C}, {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03},
    {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00}, {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00},
    {0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}, {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E},
    {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F}, {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E},
    {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F}, {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11},
    {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11}, {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E},
    {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10}, {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11},
    {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E}, {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04},
};

/* Text with its top-left corner at (x, y); align 0 left, 1 right. */
static void text(image im, int x, int y, const char *s, rgb c, int scale, int align)
{
    int width = (int)strlen(s) * 6 * scale;
    if (align) x -= width;
    for (; *s; ++s, x += 6 * scale) {
        const char *at = strchr(glyph_chars, *s);
        if (!at || !*s) continue;
        const unsigned char *g = glyphs[at - glyph_chars];
        for (int r = 0; r < 7; ++r) {
            for (int b = 0; b < 5; ++b) {
                if (!(g[r] & (0x10 >> b))) continue;
                for (int a = 0; a < scale; ++a) for (int d = 0; d < scale; ++d) {
                    dot(im, x + b * scale + a, y + r * scale + d, c);
                }
            }
        }
    }
}

static double nice_ceiling(double v)
{
    if (!(v > 0)) return 1;
    double p = pow(10, floor(log10(v)));
    const double steps[] = {1, 2, 2.5, 5, 10};
    for (int i = 0; i < 5; ++i) if (steps[i] * p >= v) return steps[i] * p;
    return 10 * p;
}

int det_chart_save(const det_chart *c, const char *path)
{
    const int W = 800, H = 500, L = 70, R = 70, T = 40, B = 50;
    const rgb white = {1, 1, 1}, grid = {.85f, .85f, .85f}, black = {0, 0, 0};
    const rgb blue = {.1f, .3f, .9f}, red = {.85f, .1f, .1f};
    image im = make_image(W, H, 3);
    fill_image(im, 1);
    (void)white;
    int pw = W - L - R, ph = H - T - B;
    int max_iter = c->max_iter > 0 ? c->max_iter : 1;
    for (int i = 0; i < c->n_loss; ++i) if (c->loss_iter[i] > max_iter) max_iter = c->loss_iter[i];
    /* the loss axis: up to the largest running average after the first
     * tenth of the points, so that the start does not flatten the curve */
    double top = 0;
    for (int i = c->n_loss / 10; i < c->n_loss; ++i) if (c->loss[i] > top && isfinite(c->loss[i])) top = c->loss[i];
    top = nice_ceiling(top);
    char buf[64];
    for (int k = 0; k <= 5; ++k) {
        int y = T + ph - ph * k / 5;
        line(im, L, y, L + pw, y, grid, 1);
        snprintf(buf, sizeof(buf), "%g", top * k / 5);
        text(im, L - 6, y - 3, buf, blue, 1, 1);
        snprintf(buf, sizeof(buf), "%d%%", 20 * k);
        text(im, L + pw + 6, y - 3, buf, red, 1, 0);
    }
    for (int k = 0; k <= 4; ++k) {
        int x = L + pw * k / 4;
        line(im, x, T, x, T + ph, grid, 1);
        snprintf(buf, sizeof(buf), "%d", (int)((long)max_iter * k / 4));
        text(im, x + (int)strlen(buf) * 3, T + ph + 8, buf, black, 1, 1);
    }
    line(im, L, T, L, T + ph, black, 1);
    line(im, L, T + ph, L + pw, T + ph, black, 1);
    line(im, L + pw, T, L + pw, T + ph, black, 1);
    text(im, L, 12, "LOSS", blue, 2, 0);
    text(im, L + pw, 12, "MAP %", red, 2, 1);
    text(im, L + pw / 2 + 27, H - 22, "ITERATION", black, 1, 1);

    int px = -1, py = -1;
    for (int i = 0; i < c->n_loss; ++i) {
        double v = c->loss[i];
        if (!isfinite(v)) continue;
        if (v > top) v = top;
        int x = L + (int)((double)pw * c->loss_iter[i] / max_iter);
        int y = T + ph - (int)(ph * v / top);
        if (px >= 0) line(im, px, py, x, y, blue, 1);
        px = x;
        py = y;
    }
    px = -1;
    for (int i = 0; i < c->n_map; ++i) {
        int x = L + (int)((double)pw * c->map_iter[i] / max_iter);
        int y = T + ph - (int)(ph * c->map[i]);
        if (px >= 0) line(im, px, py, x, y, red, 2);
        for (int a = -3; a <= 3; ++a) line(im, x - 3, y + a, x + 3, y + a, red, 1);
        px = x;
        py = y;
    }
    if (c->n_map) {
        int best = 0;
        for (int i = 1; i < c->n_map; ++i) if (c->map[i] > c->map[best]) best = i;
        snprintf(buf, sizeof(buf), "BEST %.2f%%", 100 * c->map[best]);
        text(im, L + pw / 2, 12, buf, red, 2, 1);
    }

    char name[4096];
    snprintf(name, sizeof(name), "%s", path);
    size_t n = strlen(name);
    if (n > 4 && strcmp(name + n - 4, ".png") == 0) name[n - 4] = '\0';
    save_image_options(im, name, PNG, 0);
    free_image(im);
    snprintf(name + strlen(name), sizeof(name) - strlen(name), ".png");
    FILE *fp = fopen(name, "rb");
    if (!fp) return -1;
    fclose(fp);
    return 0;
}
