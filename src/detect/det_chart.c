/* det_chart.c: training chart as PNG (see det_chart.h), drawn with the
 * plotter of chart.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "detect/det_chart.h"

void det_chart_add_loss(det_chart *c, int iter, float loss)
{
    plot_series_add(&c->loss, iter, loss, 0);
}

void det_chart_add_map(det_chart *c, int iter, float map)
{
    plot_series_add(&c->map, iter, map, 0);
}

void det_chart_free(det_chart *c)
{
    plot_series_free(&c->loss);
    plot_series_free(&c->map);
    memset(c, 0, sizeof(*c));
}

/* ---- drawing ----------------------------------------------------------------- */

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
    const plot_rgb grid = {.85f, .85f, .85f}, black = {0, 0, 0};
    const plot_rgb blue = {.1f, .3f, .9f}, red = {.85f, .1f, .1f};
    const plot_point *loss = c->loss.p, *map = c->map.p;
    image im = plot_canvas(W, H);
    int pw = W - L - R, ph = H - T - B;
    int max_iter = c->max_iter > 0 ? c->max_iter : 1;
    for (int i = 0; i < c->loss.n; ++i) if (loss[i].it > max_iter) max_iter = loss[i].it;
    /* the loss axis: up to the largest running average after the first
     * tenth of the points, so that the start does not flatten the curve */
    double top = 0;
    for (int i = c->loss.n / 10; i < c->loss.n; ++i) if (loss[i].a > top && isfinite(loss[i].a)) top = loss[i].a;
    top = nice_ceiling(top);
    char buf[64];
    for (int k = 0; k <= 5; ++k) {
        int y = T + ph - ph * k / 5;
        plot_line(im, L, y, L + pw, y, 1, grid);
        snprintf(buf, sizeof(buf), "%g", top * k / 5);
        plot_text_right(im, L - 6, y - 3, buf, 1, blue);
        snprintf(buf, sizeof(buf), "%d%%", 20 * k);
        plot_text(im, L + pw + 6, y - 3, buf, 1, red);
    }
    for (int k = 0; k <= 4; ++k) {
        int x = L + pw * k / 4;
        plot_line(im, x, T, x, T + ph, 1, grid);
        snprintf(buf, sizeof(buf), "%d", (int)((long)max_iter * k / 4));
        plot_text_right(im, x + (int)strlen(buf) * 3, T + ph + 8, buf, 1, black);
    }
    plot_line(im, L, T, L, T + ph, 1, black);
    plot_line(im, L, T + ph, L + pw, T + ph, 1, black);
    plot_line(im, L + pw, T, L + pw, T + ph, 1, black);
    plot_text(im, L, 12, "LOSS", 2, blue);
    plot_text_right(im, L + pw, 12, "MAP %", 2, red);
    plot_text_right(im, L + pw / 2 + 27, H - 22, "ITERATION", 1, black);

    int px = -1, py = -1;
    for (int i = 0; i < c->loss.n; ++i) {
        double v = loss[i].a;
        if (!isfinite(v)) continue;
        if (v > top) v = top;
        int x = L + (int)((double)pw * loss[i].it / max_iter);
        int y = T + ph - (int)(ph * v / top);
        if (px >= 0) plot_line(im, px, py, x, y, 1, blue);
        px = x;
        py = y;
    }
    px = -1;
    for (int i = 0; i < c->map.n; ++i) {
        int x = L + (int)((double)pw * map[i].it / max_iter);
        int y = T + ph - (int)(ph * map[i].a);
        if (px >= 0) plot_line(im, px, py, x, y, 2, red);
        plot_fill(im, x - 3, y - 3, x + 3, y + 3, red);
        px = x;
        py = y;
    }
    if (c->map.n) {
        int best = 0;
        for (int i = 1; i < c->map.n; ++i) if (map[i].a > map[best].a) best = i;
        snprintf(buf, sizeof(buf), "BEST %.2f%%", 100 * map[best].a);
        plot_text_right(im, L + pw / 2, 12, buf, 2, red);
    }

    /* written as PATH, or PATH.png when PATH does not end in .png */
    char name[4096];
    size_t n = strlen(path);
    snprintf(name, sizeof(name), "%s%s", path, n > 4 && strcmp(path + n - 4, ".png") == 0 ? "" : ".png");
    int rc = plot_save_png(im, name);
    free_image(im);
    return rc;
}
