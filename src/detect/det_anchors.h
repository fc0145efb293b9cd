/* det_anchors.h: k-means anchors from the training boxes (det_anchors.c). */
#ifndef DET_ANCHORS_H
#define DET_ANCHORS_H

/* ./darknet detector calc_anchors DATA -num_of_clusters N -width W -height H */
void det_anchors_command(int argc, char **argv);

#endif
