/* det_train.h: detector training with evaluation (det_train.c). */
#ifndef DET_TRAIN_H
#define DET_TRAIN_H

#include "darknet.h"
#include "detect/det_eval.h"
#include "detect/voc_map.h"

/* mAP of a batch-1 network on a list of images; r holds the per-class table
 * (free it with vm_result_free). */
double det_eval_network(network *eval, char **paths, int n, int classes, det_eval_opts o,
                        vm_result *r);

/* ./darknet detector train DATA CFG [WEIGHTS] [options] */
void det_train_command(int argc, char **argv);

#endif
