/* train_chart.c: the training chart (see train_chart.h), drawn with the
 * plotter of plot.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/plot.h"
#include "train/train_chart.h"
#include "checked.h"

#define CHART_W 800
#define CHART_H 500

struct train_chart {
    int max_it;
    plot_series loss;      /* a: the running average loss */
    plot_series score;     /* a: the main score, b: the second one (0..1) */
    char name[32], name2[32];
};

/* The plotting area and its scales, for one drawing. */
typedef struct frame {
    int x0, x1, y0, y1;
    int max_it;
    double max_loss;
} frame;

static const plot_rgb BLACK = {0, 0, 0}, GRID = {.88f, .88f, .88f},
                      BLUE = {.12f, .35f, .80f}, RED = {.85f, .12f, .10f}, ORANGE = {.95f, .60f, .10f};

train_chart *train_chart_make(int max_iteration, const char *score_name, const char *score2_name)
{
    train_chart *c = calloc(1, sizeof(train_chart));
    if (!c) {
        dn_fatal("out of memory for the training chart\n");
    }
    c->max_it = max_iteration;
    snprintf(c->name, sizeof c->name, "%s", score_name ? score_name : "SCORE");
    snprintf(c->name2, sizeof c->name2, "%s", score2_name ? score2_name : "");
    return c;
}

void train_chart_free(train_chart *c)
{
    if (!c) return;
    plot_series_free(&c->loss);
    plot_series_free(&c->score);
    free(c);
}

void train_chart_add_loss(train_chart *c, int iteration, float avg_loss)
{
    if (isfinite(avg_loss)) plot_series_add(&c->loss, iteration, avg_loss, 0);
}

void train_chart_add_score(train_chart *c, int iteration, float score, float score2)
{
    plot_series_add(&c->score, iteration, score, score2);
}

/* 1, 2, 2.5 or 5 times a power of ten, at least v. */
static double nice_ceiling(double v)
{
    if (!(v > 0)) return 1;
    double p = pow(10, floor(log10(v)));
    const double steps[] = {1, 2, 2.5, 5, 10};
    for (int i = 0; i < 5; ++i) if (steps[i] * p >= v) return steps[i] * p;
    return 10 * p;
}

static frame make_frame(const train_chart *c)
{
    frame f = {70, CHART_W - 70, 40, CHART_H - 50, c->max_it, 0};
    if (c->loss.n && c->loss.p[c->loss.n - 1].it > f.max_it) f.max_it = c->loss.p[c->loss.n - 1].it;
    if (c->score.n && c->score.p[c->score.n - 1].it > f.max_it) f.max_it = c->score.p[c->score.n - 1].it;
    if (f.max_it < 1) f.max_it = 1;
    /* up to the largest loss after the first tenth of the points, so that
     * the first iterations do not flatten the curve */
    for (int i = c->loss.n / 10; i < c->loss.n; ++i)
        if (c->loss.p[i].a > f.max_loss) f.max_loss = c->loss.p[i].a;
    f.max_loss = nice_ceiling(f.max_loss);
    return f;
}

static int x_of(const frame *f, int it) { return f->x0 + (int)((double)(f->x1 - f->x0) * it / f->max_it); }

static int y_of_loss(const frame *f, double v)
{
    if (v > f->max_loss) v = f->max_loss;
    return f->y1 - (int)((f->y1 - f->y0) * v / f->max_loss);
}

static int y_of_score(const frame *f, double v) { return f->y1 - (int)((f->y1 - f->y0) * v); }

static void draw_axes(image im, const frame *f)
{
    char buf[32];
    for (int t = 0; t <= 5; ++t) {
        int y = f->y1 - (f->y1 - f->y0) * t / 5;
        plot_line(im, f->x0, y, f->x1, y, 1, GRID);
        snprintf(buf, sizeof buf, "%g", f->max_loss * t / 5);
        plot_text_right(im, f->x0 - 6, y - 3, buf, 1, BLUE);
        snprintf(buf, sizeof buf, "%d%%", 20 * t);
        plot_text(im, f->x1 + 6, y - 3, buf, 1, RED);
    }
    for (int t = 0; t <= 5; ++t) {
        int x = f->x0 + (f->x1 - f->x0) * t / 5;
        plot_line(im, x, f->y0, x, f->y1, 1, GRID);
        snprintf(buf, sizeof buf, "%ld", (long)f->max_it * t / 5);
        plot_text(im, x - plot_text_width(buf, 1) / 2, f->y1 + 8, buf, 1, BLACK);
    }
    plot_line(im, f->x0, f->y0, f->x0, f->y1, 1, BLACK);
    plot_line(im, f->x1, f->y0, f->x1, f->y1, 1, BLACK);
    plot_line(im, f->x0, f->y1, f->x1, f->y1, 1, BLACK);
    const char *label = "ITERATION";
    plot_text(im, (f->x0 + f->x1 - plot_text_width(label, 1)) / 2, f->y1 + 24, label, 1, BLACK);
}

static void draw_loss(image im, const frame *f, const plot_series *s)
{
    for (int i = 1; i < s->n; ++i)
        plot_line(im, x_of(f, s->p[i - 1].it), y_of_loss(f, s->p[i - 1].a),
                  x_of(f, s->p[i].it), y_of_loss(f, s->p[i].a), 1, BLUE);
    if (s->n == 1) {
        int x = x_of(f, s->p[0].it), y = y_of_loss(f, s->p[0].a);
        plot_fill(im, x - 1, y - 1, x + 1, y + 1, BLUE);
    }
}

/* One score series: the second values when second is set. */
static void draw_scores(image im, const frame *f, const plot_series *s, int second, plot_rgb col)
{
    for (int i = 0; i < s->n; ++i) {
        float v = second ? s->p[i].b : s->p[i].a;
        int x = x_of(f, s->p[i].it), y = y_of_score(f, v);
        plot_fill(im, x - 2, y - 2, x + 2, y + 2, col);
        if (i) {
            float pv = second ? s->p[i - 1].b : s->p[i - 1].a;
            plot_line(im, x_of(f, s->p[i - 1].it), y_of_score(f, pv), x, y, 2, col);
        }
    }
}

/* The names across the top, and the best main score at the right. */
static void draw_legend(image im, const train_chart *c, const frame *f)
{
    int x = f->x0;
    x += plot_text(im, x, 12, "LOSS", 2, BLUE) + 12;
    x += plot_text(im, x, 12, c->name, 2, RED) + 12;
    if (c->name2[0]) plot_text(im, x, 12, c->name2, 2, ORANGE);
    if (!c->score.n) return;
    int best = 0;
    for (int i = 1; i < c->score.n; ++i) if (c->score.p[i].a > c->score.p[best].a) best = i;
    char buf[48];
    snprintf(buf, sizeof buf, "BEST %.2f%%", 100 * c->score.p[best].a);
    plot_text_right(im, f->x1, 12, buf, 2, RED);
}

image train_chart_draw(const train_chart *c)
{
    image im = plot_canvas(CHART_W, CHART_H);
    frame f = make_frame(c);
    draw_axes(im, &f);
    draw_loss(im, &f, &c->loss);
    if (c->name2[0]) draw_scores(im, &f, &c->score, 1, ORANGE);
    draw_scores(im, &f, &c->score, 0, RED);
    draw_legend(im, c, &f);
    return im;
}

int train_chart_save(const train_chart *c, const char *path)
{
    image im = train_chart_draw(c);
    int r = plot_save_png(im, path);
    free_image(im);
    return r;
}
