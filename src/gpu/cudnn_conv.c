/* cudnn_conv.c: convolutions through cuDNN (see cudnn_conv.h). */
#ifdef CUDNN

#include <string.h>

#include "darknet.h"
#include "cuda.h"

#include "checked.h"
#include "gpu/batched_conv.h"
#include "gpu/cudnn_conv.h"

static void checked(cudnnStatus_t status, const char *what)
{
    if (status != CUDNN_STATUS_SUCCESS) dn_fatal("cuDNN: %s: %s\n", what, cudnnGetErrorString(status));
}

/* The index of the first usable result: deterministic first, then any. */
#define PICK(perf, returned, out, what)                                                                    \
    do {                                                                                                   \
        int found = -1;                                                                                    \
        for (int pass = 0; pass < 2 && found < 0; ++pass)                                                  \
            for (int i = 0; i < (returned) && found < 0; ++i)                                              \
                if ((perf)[i].status == CUDNN_STATUS_SUCCESS && (perf)[i].memory <= GPU_CUDNN_WORKSPACE_LIMIT \
                    && (pass == 1 || (perf)[i].determinism == CUDNN_DETERMINISTIC))                        \
                    found = i;                                                                             \
        if (found < 0) dn_fatal("cuDNN: no %s algorithm fits %zu bytes of workspace\n", what,             \
                                GPU_CUDNN_WORKSPACE_LIMIT);                                                \
        *(out) = (perf)[found].algo;                                                                       \
    } while (0)

void gpu_cudnn_choose_algorithms(cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w,
                                 cudnnConvolutionDescriptor_t conv, cudnnTensorDescriptor_t y,
                                 cudnnConvolutionFwdAlgo_t *fwd, cudnnConvolutionBwdDataAlgo_t *bwd_data,
                                 cudnnConvolutionBwdFilterAlgo_t *bwd_filter)
{
    cudnnHandle_t h = cudnn_handle();
    int returned = 0;
    /* FP32 products stay FP32 (no TF32 tensor cores), as the CPU's and cuBLAS's are. */
    checked(cudnnSetConvolutionMathType(conv, CUDNN_FMA_MATH), "math type");
    cudnnConvolutionFwdAlgoPerf_t f[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    checked(cudnnGetConvolutionForwardAlgorithm_v7(h, x, w, conv, y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned, f),
            "forward algorithms");
    PICK(f, returned, fwd, "forward");
    cudnnConvolutionBwdDataAlgoPerf_t d[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    checked(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, w, y, conv, x, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT,
                                                        &returned, d),
            "backward data algorithms");
    PICK(d, returned, bwd_data, "backward data");
    cudnnConvolutionBwdFilterAlgoPerf_t b[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    checked(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, x, y, conv, w, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
                                                          &returned, b),
            "backward filter algorithms");
    PICK(b, returned, bwd_filter, "backward filter");
}

static size_t workspace_of(cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w, cudnnConvolutionDescriptor_t conv,
                           cudnnTensorDescriptor_t y, cudnnConvolutionFwdAlgo_t fwd,
                           cudnnConvolutionBwdDataAlgo_t bwd_data, cudnnConvolutionBwdFilterAlgo_t bwd_filter)
{
    cudnnHandle_t h = cudnn_handle();
    size_t most = 0, s = 0;
    checked(cudnnGetConvolutionForwardWorkspaceSize(h, x, w, conv, y, fwd, &s), "forward workspace");
    if (s > most) most = s;
    checked(cudnnGetConvolutionBackwardDataWorkspaceSize(h, w, y, conv, x, bwd_data, &s), "backward data workspace");
    if (s > most) most = s;
    checked(cudnnGetConvolutionBackwardFilterWorkspaceSize(h, x, y, conv, w, bwd_filter, &s),
            "backward filter workspace");
    if (s > most) most = s;
    return most;
}

size_t gpu_cudnn_layer_workspace(const layer *l)
{
    return workspace_of(l->srcTensorDesc, l->weightDesc, l->convDesc, l->dstTensorDesc, l->fw_algo, l->bd_algo,
                        l->bf_algo);
}

static int same_shape(gpu_cudnn_shape a, gpu_cudnn_shape b)
{
    return memcmp(&a, &b, sizeof(a)) == 0;
}

void gpu_cudnn_conv_prepare(gpu_cudnn_conv *d, gpu_cudnn_shape s)
{
    if (d->made && same_shape(d->shape, s)) return;
    if (!d->made) {
        checked(cudnnCreateTensorDescriptor(&d->x), "descriptor");
        checked(cudnnCreateTensorDescriptor(&d->y), "descriptor");
        checked(cudnnCreateFilterDescriptor(&d->w), "descriptor");
        checked(cudnnCreateConvolutionDescriptor(&d->conv), "descriptor");
        d->made = 1;
    }
    d->shape = s;
    checked(cudnnSetTensor4dDescriptor(d->x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, s.batch, s.c, s.h, s.w), "input");
    checked(cudnnSetTensor4dDescriptor(d->y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, s.batch, s.n, s.out_h, s.out_w),
            "output");
    checked(cudnnSetFilter4dDescriptor(d->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, s.n, s.c / s.groups, s.size, s.size),
            "filters");
    checked(cudnnSetConvolution2dDescriptor(d->conv, s.pad, s.pad, s.stride, s.stride, 1, 1, CUDNN_CROSS_CORRELATION,
                                            CUDNN_DATA_FLOAT),
            "convolution");
    checked(cudnnSetConvolutionGroupCount(d->conv, s.groups), "groups");
    gpu_cudnn_choose_algorithms(d->x, d->w, d->conv, d->y, &d->fwd, &d->bwd_data, &d->bwd_filter);
    d->workspace = workspace_of(d->x, d->w, d->conv, d->y, d->fwd, d->bwd_data, d->bwd_filter);
}

void gpu_cudnn_conv_forward(const gpu_cudnn_conv *d, const float *x, const float *W, float *y)
{
    float one = 1;
    float *work = gpu_scratch(d->workspace / sizeof(float) + 1);
    checked(cudnnConvolutionForward(cudnn_handle(), &one, d->x, x, d->w, W, d->conv, d->fwd, work, d->workspace, &one,
                                    d->y, y),
            "forward");
}

void gpu_cudnn_conv_backward(const gpu_cudnn_conv *d, const float *x, const float *dy, const float *W, float *dW,
                             float *dx)
{
    float one = 1;
    float *work = gpu_scratch(d->workspace / sizeof(float) + 1);
    checked(cudnnConvolutionBackwardFilter(cudnn_handle(), &one, d->x, x, d->y, dy, d->conv, d->bwd_filter, work,
                                           d->workspace, &one, d->w, dW),
            "backward filter");
    if (!dx) return;
    checked(cudnnConvolutionBackwardData(cudnn_handle(), &one, d->w, W, d->y, dy, d->conv, d->bwd_data, work,
                                         d->workspace, &one, d->x, dx),
            "backward data");
}

void gpu_cudnn_conv_free(gpu_cudnn_conv *d)
{
    if (!d->made) return;
    cudnnDestroyTensorDescriptor(d->x);
    cudnnDestroyTensorDescriptor(d->y);
    cudnnDestroyFilterDescriptor(d->w);
    cudnnDestroyConvolutionDescriptor(d->conv);
    d->made = 0;
}

#else
/* ISO C wants something in every translation unit. */
typedef int cudnn_conv_unused;
#endif
