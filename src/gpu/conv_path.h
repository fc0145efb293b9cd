/* conv_path.h: how GPU convolutions run (GPU=1 builds; docs/gpu.md).
 *
 *   batched    one im2col over the images and one product a pass (batched_conv.h)
 *   per-image  upstream's loop: im2col and a product for each image
 *   cudnn      cuDNN's convolutions (CUDNN=1 builds; cudnn_conv.h)
 *
 * DARKNET_GPU_CONV= picks one; the default is cudnn in CUDNN=1 builds and
 * batched otherwise.  per-image is not in CUDNN=1 builds, where upstream's
 * own [convolutional] code is cuDNN's. */
#ifndef CONV_PATH_H
#define CONV_PATH_H

typedef enum { GPU_CONV_BATCHED, GPU_CONV_PER_IMAGE, GPU_CONV_CUDNN } gpu_conv_path;

gpu_conv_path gpu_conv_path_chosen(void);
const char *gpu_conv_path_name(gpu_conv_path p);

#endif
