/* train_chart.h: the training chart of every `train` command, as PNG.
 *
 * The running average loss (blue, left axis) and the evaluation scores
 * (right axis, 0-100 %): a main score in red (top-1, mAP) and an optional
 * second one in orange (top-k), against the iteration.  800 x 500 pixels. */
#ifndef TRAIN_CHART_H
#define TRAIN_CHART_H

#include "darknet.h"

typedef struct train_chart train_chart;

/* score2_name may be NULL: one score only.  Names are drawn in capitals. */
train_chart *train_chart_make(int max_iteration, const char *score_name, const char *score2_name);
void train_chart_free(train_chart *c);
void train_chart_add_loss(train_chart *c, int iteration, float avg_loss);
void train_chart_add_score(train_chart *c, int iteration, float score, float score2);
/* The chart as an image (3 channels, values in [0,1]); free_image it. */
image train_chart_draw(const train_chart *c);
/* Draws and writes a PNG; 0 on success, -1 with a warning otherwise. */
int train_chart_save(const train_chart *c, const char *path);

#endif
