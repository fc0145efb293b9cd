/* augment.h: the paper's CIFAR augmentation for classifier training.
 *
 * pad_crop=P in [net]: each training image is padded with P zero pixels on
 * every side and a window of the network's size is taken at a random
 * offset, 0..2P in each direction (P=4 and 32 x 32 in the paper).
 * Upstream's left-right flip (half the images) follows, as for any cfg.
 * An image whose size is not the network's is first resized to it. */
#ifndef AUGMENT_H
#define AUGMENT_H

#include "darknet.h"

/* The pad of the next batches (0: upstream's random_augment_image).  Set
 * before the loader threads start; they only read it. */
void augment_set_pad_crop(int pad);
/* im padded with `pad` zeros on each side, then the size x size window
 * whose top-left corner is (dx, dy) in the padded image.  dx, dy in
 * 0..im.w + 2 pad - size (and im.h for dy). */
image augment_pad_crop(image im, int pad, int size, int dx, int dy);
/* 1 when upstream's rotated crop with these arguments returns im's pixels
 * unchanged (no angle, scale and aspect 1, no shift, im's size): the
 * loader then copies the image instead. */
int augment_is_identity(image im, augment_args a);

#endif
