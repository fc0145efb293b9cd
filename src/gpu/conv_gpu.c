/* conv_gpu.c: [convolutional]'s GPU passes (GPU=1 builds), by the path of
 * conv_path.h.  Upstream's own passes are compiled as
 * upstream_{forward,backward}_convolutional_layer_gpu (the Makefile's
 * RENAME_convolutional_kernels) and run the per-image and cuDNN paths; the
 * batched path is batched_conv.h's, with the same batch norm, bias and
 * activation calls as upstream's.
 *
 * 1x1 layers at stride 1 without padding take the batched path under cuDNN
 * too: upstream's layer reads their input as it lies and writes (not adds)
 * their input delta, and so do the CPU passes (src/cpu/fastconv.c), where
 * cuDNN would add.  Binary and XNOR layers keep upstream's passes. */
#ifdef GPU

#include "darknet.h"
#include "activations.h"
#include "batchnorm_layer.h"
#include "blas.h"
#include "convolutional_layer.h"
#include "cuda.h"

#include "cpu/fastconv.h"
#include "cpu/upstream_ref.h"
#include "gpu/batched_conv.h"
#include "gpu/conv_gpu.h"
#include "gpu/conv_path.h"
#include "gpu/cudnn_conv.h"

static int runs_batched(layer l)
{
    if (l.binary || l.xnor) return 0;
    gpu_conv_path p = gpu_conv_path_chosen();
    return p == GPU_CONV_BATCHED || (p == GPU_CONV_CUDNN && conv_is_pointwise(l.size, l.stride, l.pad));
}

/* Group j of the layer's filters as a batched convolution. */
static gpu_conv_shape group_shape(layer l, int j)
{
    int c = l.c / l.groups, m = l.n / l.groups;
    gpu_conv_shape g = {l.batch, c, l.h, l.w, l.size, l.stride, l.pad, l.out_h, l.out_w,
                        conv_is_pointwise(l.size, l.stride, l.pad), 0, (size_t)l.c * l.h * l.w,
                        (size_t)l.n * l.out_h * l.out_w, j * m, 1};
    return g;
}

/* Upstream's passes, given scratch for cuDNN's workspace when they use cuDNN. */
static void upstream_pass(layer l, network net, int backward)
{
#ifdef CUDNN
    l.workspace_size = gpu_cudnn_layer_workspace(&l);
    net.workspace = gpu_scratch(l.workspace_size / sizeof(float) + 1);
#endif
    if (backward) upstream_backward_convolutional_layer_gpu(l, net);
    else upstream_forward_convolutional_layer_gpu(l, net);
}

void gpu_conv_finish_forward(layer l, network net)
{
    if (l.batch_normalize) {
        forward_batchnorm_layer_gpu(l, net);
    } else {
        add_bias_gpu(l.output_gpu, l.biases_gpu, l.batch, l.n, l.out_w * l.out_h);
    }
    activate_array_gpu(l.output_gpu, l.outputs * l.batch, l.activation);
}

void gpu_conv_start_backward(layer l, network net)
{
    gradient_array_gpu(l.output_gpu, l.outputs * l.batch, l.activation, l.delta_gpu);
    if (l.batch_normalize) {
        backward_batchnorm_layer_gpu(l, net);
    } else {
        backward_bias_gpu(l.bias_updates_gpu, l.delta_gpu, l.batch, l.n, l.out_w * l.out_h);
    }
}

void forward_convolutional_layer_gpu(layer l, network net)
{
    if (!runs_batched(l)) {
        upstream_pass(l, net, 0);
        return;
    }
    fill_gpu(l.outputs * l.batch, 0, l.output_gpu, 1);
    int k = l.size * l.size * l.c / l.groups;
    for (int j = 0; j < l.groups; ++j) {
        gpu_conv_shape g = group_shape(l, j);
        gpu_conv_forward(&g, l.n / l.groups, l.weights_gpu + (size_t)j * l.nweights / l.groups, k,
                         net.input_gpu + (size_t)j * g.c * l.h * l.w, l.output_gpu);
    }
    gpu_conv_finish_forward(l, net);
}

void backward_convolutional_layer_gpu(layer l, network net)
{
    if (!runs_batched(l) || l.smooth) {
        upstream_pass(l, net, 1);
        return;
    }
    gpu_conv_start_backward(l, net);
    int k = l.size * l.size * l.c / l.groups;
    for (int j = 0; j < l.groups; ++j) {
        gpu_conv_shape g = group_shape(l, j);
        size_t w0 = (size_t)j * l.nweights / l.groups;
        float *input_delta = net.delta_gpu ? net.delta_gpu + (size_t)j * g.c * l.h * l.w : NULL;
        gpu_conv_backward(&g, l.n / l.groups, l.weights_gpu + w0, k, net.input_gpu + (size_t)j * g.c * l.h * l.w,
                          l.delta_gpu, l.weight_updates_gpu + w0, input_delta);
    }
}

#else
/* ISO C wants something in every translation unit. */
typedef int conv_gpu_unused;
#endif
