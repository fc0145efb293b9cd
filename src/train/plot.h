/* plot.h: the small PNG plotter behind the training chart
 * (train/train_chart.c).
 *
 * No plotting library: boxes, lines and a built-in 5x7 font are drawn
 * straight into a darknet image (3 channels, values in [0,1]), and the PNG
 * is written with the stb writer that upstream's image.c already contains. */
#ifndef PLOT_H
#define PLOT_H

#include "darknet.h"

typedef struct plot_rgb {
    float r, g, b;
} plot_rgb;

/* A series of points: an iteration and one or two values. */
typedef struct plot_point {
    int it;
    float a, b;
} plot_point;

typedef struct plot_series {
    plot_point *p;
    int n, cap;
} plot_series;

void plot_series_add(plot_series *s, int it, float a, float b);   /* exits when out of memory */
void plot_series_free(plot_series *s);

/* A white w x h canvas. */
image plot_canvas(int w, int h);
/* The box from (x0, y0) to (x1, y1), corners included; pixels outside the
 * image are left out. */
void plot_fill(image im, int x0, int y0, int x1, int y1, plot_rgb c);
/* A line from (x0, y0) to (x1, y1), thick x thick pixels at each step. */
void plot_line(image im, int x0, int y0, int x1, int y1, int thick, plot_rgb c);
/* Text with its top-left corner at (x, y), each font cell scale x scale
 * pixels, 6 cells a character; letters are drawn in capitals, characters
 * the font lacks as blanks.  Returns the width drawn. */
int plot_text(image im, int x, int y, const char *s, int scale, plot_rgb c);
/* The same with its top-right corner at (x, y). */
void plot_text_right(image im, int x, int y, const char *s, int scale, plot_rgb c);
int plot_text_width(const char *s, int scale);
/* Writes im as 8-bit RGB PNG, beside the target and then renamed, so that a
 * viewer never sees half a file.  0 on success; -1, with a warning on
 * stderr, when it cannot. */
int plot_save_png(image im, const char *path);

#endif
