/* classify_chart.c: the classifier's training chart, drawn with the plotter
 * of chart.c and written as PNG.
 *
 * Training loss (the running average, blue, left axis) and validation
 * accuracy (top-1 red, top-k orange, right axis 0-100%) against the
 * iteration. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "train/chart.h"
#include "classify/classify.h"

struct chart {
    int w, h;
    int max_it;
    plot_series loss;   /* a: the running average loss */
    plot_series acc;    /* a: top-1, b: top-k */
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
    plot_series_free(&c->loss);
    plot_series_free(&c->acc);
    free(c);
}

void chart_add_loss(chart *c, int iteration, float loss)
{
    if (!isfinite(loss)) return;
    plot_series_add(&c->loss, iteration, loss, 0);
}

void chart_add_accuracy(chart *c, int iteration, float top1, float topk, int k)
{
    c->k = k;
    plot_series_add(&c->acc, iteration, top1, topk);
}

void chart_set_max_iteration(chart *c, int max_iteration) { c->max_it = max_iteration; }

/* ---- drawing ------------------------------------------------------------ */

static const plot_rgb BLACK = {0, 0, 0}, GRID = {.88f, .88f, .88f},
                      BLUE = {.12f, .35f, .80f}, RED = {.85f, .12f, .10f}, ORANGE = {.95f, .60f, .10f};

/* Short label for a number: 1234 -> "1234", 120000 -> "120K", 0.25 -> "0.25". */
static void number(char *buf, size_t n, double v)
{
    if (v >= 100000) snprintf(buf, n, "%.0fK", v / 1000);
    else if (v >= 10 || v == 0 || fabs(v - round(v)) < 1e-9) snprintf(buf, n, "%.0f", v);
    else snprintf(buf, n, "%.2f", v);
}

image chart_draw(const chart *c)
{
    image im = plot_canvas(c->w, c->h);
    int left = 56, right = 56, top = 30, bottom = 36;
    int px0 = left, px1 = c->w - right, py0 = top, py1 = c->h - bottom;

    int max_it = c->max_it;
    if (c->loss.n && c->loss.p[c->loss.n - 1].it > max_it) max_it = c->loss.p[c->loss.n - 1].it;
    if (c->acc.n && c->acc.p[c->acc.n - 1].it > max_it) max_it = c->acc.p[c->acc.n - 1].it;
    if (max_it < 1) max_it = 1;
    float max_loss = 0;
    for (int i = 0; i < c->loss.n; ++i) if (c->loss.p[i].a > max_loss) max_loss = c->loss.p[i].a;
    if (max_loss <= 0) max_loss = 1;
    max_loss *= 1.05f;

    /* grid, axes and tick labels */
    char buf[32];
    for (int t = 0; t <= 5; ++t) {
        int y = py1 - (py1 - py0) * t / 5;
        plot_line(im, px0, y, px1, y, 1, GRID);
        number(buf, sizeof buf, max_loss * t / 5);
        plot_text_right(im, px0 - 6, y - 3, buf, 1, BLUE);
        snprintf(buf, sizeof buf, "%d%%", 20 * t);
        plot_text(im, px1 + 6, y - 3, buf, 1, RED);
    }
    for (int t = 0; t <= 5; ++t) {
        int x = px0 + (px1 - px0) * t / 5;
        plot_line(im, x, py0, x, py1, 1, GRID);
        number(buf, sizeof buf, (double)max_it * t / 5);
        plot_text(im, x - plot_text_width(buf, 1) / 2, py1 + 6, buf, 1, BLACK);
    }
    plot_line(im, px0, py0, px0, py1, 1, BLACK);
    plot_line(im, px1, py0, px1, py1, 1, BLACK);
    plot_line(im, px0, py1, px1, py1, 1, BLACK);
    const char *xl = "ITERATION";
    plot_text(im, (px0 + px1 - plot_text_width(xl, 1)) / 2, py1 + 20, xl, 1, BLACK);

    /* title / legend */
    int x = px0;
    x += plot_text(im, x, 8, "LOSS", 2, BLUE) + 12;
    x += plot_text(im, x, 8, "TOP-1", 2, RED) + 12;
    snprintf(buf, sizeof buf, "TOP-%d", c->k);
    if (c->k > 1) plot_text(im, x, 8, buf, 2, ORANGE);

#define XP(it) (px0 + (int)((double)(px1 - px0) * (it) / max_it))
#define YL(v) (py1 - (int)((double)(py1 - py0) * (v) / max_loss))
#define YA(v) (py1 - (int)((double)(py1 - py0) * (v)))
    const plot_point *loss = c->loss.p;
    for (int i = 1; i < c->loss.n; ++i)
        plot_line(im, XP(loss[i - 1].it), YL(loss[i - 1].a), XP(loss[i].it), YL(loss[i].a), 2, BLUE);
    if (c->loss.n == 1) plot_fill(im, XP(loss[0].it) - 1, YL(loss[0].a) - 1, XP(loss[0].it) + 1, YL(loss[0].a) + 1, BLUE);
    for (int series = (c->k > 1 ? 1 : 0); series >= 0; --series) {
        plot_rgb col = series ? ORANGE : RED;
        for (int i = 0; i < c->acc.n; ++i) {
            float v = series ? c->acc.p[i].b : c->acc.p[i].a;
            int xx = XP(c->acc.p[i].it), yy = YA(v);
            plot_fill(im, xx - 2, yy - 2, xx + 2, yy + 2, col);
            if (i) {
                float pv = series ? c->acc.p[i - 1].b : c->acc.p[i - 1].a;
                plot_line(im, XP(c->acc.p[i - 1].it), YA(pv), xx, yy, 2, col);
            }
        }
    }
    if (c->acc.n) {
        snprintf(buf, sizeof buf, "TOP-1 %.2f%%", 100 * c->acc.p[c->acc.n - 1].a);
        plot_text_right(im, px1 - 4, py0 + 4, buf, 1, RED);
    }
#undef XP
#undef YL
#undef YA
    return im;
}

int chart_save_png(const chart *c, const char *path)
{
    image im = chart_draw(c);
    int r = plot_save_png(im, path);
    free_image(im);
    return r;
}
