/* conv_path.c: the GPU convolution path (see conv_path.h). */
#include <stdlib.h>
#include <string.h>

#include "checked.h"
#include "gpu/conv_path.h"

static const char *const names[] = {"batched", "per-image", "cudnn"};

const char *gpu_conv_path_name(gpu_conv_path p)
{
    return names[p];
}

static gpu_conv_path default_path(void)
{
#ifdef CUDNN
    return GPU_CONV_CUDNN;
#else
    return GPU_CONV_BATCHED;
#endif
}

static int available(gpu_conv_path p)
{
#ifdef CUDNN
    return p != GPU_CONV_PER_IMAGE;
#else
    return p != GPU_CONV_CUDNN;
#endif
}

/* Read once: every layer of a run takes the same path. */
gpu_conv_path gpu_conv_path_chosen(void)
{
    static int chosen = -1;
    if (chosen >= 0) return (gpu_conv_path)chosen;
    const char *v = getenv("DARKNET_GPU_CONV");
    chosen = default_path();
    if (v && *v) {
        int found = -1;
        for (int p = 0; p < 3; ++p)
            if (!strcmp(v, names[p])) found = p;
        if (found < 0 || !available((gpu_conv_path)found)) {
            dn_fatal("DARKNET_GPU_CONV=%s: this build has %s and %s (docs/gpu.md)\n", v,
                     names[available(GPU_CONV_CUDNN) ? GPU_CONV_CUDNN : GPU_CONV_PER_IMAGE], names[GPU_CONV_BATCHED]);
        }
        chosen = found;
    }
    return (gpu_conv_path)chosen;
}
