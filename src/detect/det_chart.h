/* det_chart.h: a PNG chart of the training loss and the validation mAP. */
#ifndef DET_CHART_H
#define DET_CHART_H

#include "train/chart.h"

typedef struct det_chart {
    plot_series loss;      /* a: the running average loss */
    plot_series map;       /* a: mAP, 0..1 */
    int max_iter;          /* the x axis ends here */
} det_chart;

void det_chart_add_loss(det_chart *c, int iter, float loss);
void det_chart_add_map(det_chart *c, int iter, float map);
/* Draws the chart (loss in blue on the left axis, mAP in red on the right
 * axis, 0-100 %) and writes it as PNG; path may end in ".png".  0 on success. */
int det_chart_save(const det_chart *c, const char *path);
void det_chart_free(det_chart *c);

#endif
