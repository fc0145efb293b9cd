/* gcconv_overhead: the cost of [gcconv] over the convolution it runs.
 *
 * For each shape and mixing, times forward + backward + update of a
 * [gcconv] layer and of a plain [convolutional] layer with the shapes of H
 * (N*K outputs from C*K inputs; for branch mixing groups=K, which runs
 * upstream's per-image, per-group products through the same fast gemm),
 * and prints the ratio.  What the ratio adds is building H, folding dL/dH
 * onto w and R, the R step, and for branch mixing the gathering of strided
 * planes.
 *
 * Build and run from the repository root, after `make`:
 *   cc -O3 -Ibuild/darknet/include -Ibuild/darknet/src -Isrc bench/gcconv_overhead.c \
 *      libdarknet.a -o build/gcconv_overhead -lm -pthread $(pkg-config --libs opencv4) -lstdc++
 *   build/gcconv_overhead            (add "quick" for fewer repetitions) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "darknet.h"
#include "convolutional_layer.h"

#include "gclayer.h"
#include "optim/optimizer.h"

typedef struct shape {
    int batch, size_hw, C, N, K, ksize;
} shape;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);   /* CPU time: steady on a busy machine */
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static network state_for(layer l, rng *g)
{
    network net = {0};
    size_t ins = (size_t)l.batch * l.inputs;
    net.input = malloc(ins * sizeof(float));
    net.delta = calloc(ins, sizeof(float));
    net.workspace = calloc(l.workspace_size / sizeof(float) + 1, sizeof(float));
    net.train = 1;
    for (size_t i = 0; i < ins; ++i) net.input[i] = rng_normal(g);
    return net;
}

static void free_state(network net)
{
    free(net.input);
    free(net.delta);
    free(net.workspace);
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, n, sizeof(double), compare_doubles);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* One training step of layer l: forward, a delta, backward, update. */
static double time_step(layer l, network net, update_args a)
{
    double start = now();
    l.forward(l, net);
    for (int i = 0; i < l.batch * l.outputs; ++i) l.delta[i] = 0.01f * l.output[i];
    memset(net.delta, 0, (size_t)l.batch * l.inputs * sizeof(float));
    l.backward(l, net);
    l.update(l, a);
    return now() - start;
}

static void run_shape(shape s, gc_mixing mixing, int reps, network *owner)
{
    gcconv_options o = {
        .branches = s.K, .filters = s.N, .size = s.ksize, .stride = 1, .padding = s.ksize / 2,
        .mixing = mixing, .expand = 0, .r_init = GC_R_RANDOM, .calib_rate = 1,
        .batch_normalize = 0, .activation = LEAKY,
    };
    int c = s.C * s.K;
    layer gc = make_gcconv_layer(o, s.batch, s.size_hw, s.size_hw, c, owner);
    int groups = mixing == GC_MIX_FULL ? 1 : s.K;
    layer conv = make_convolutional_layer(s.batch, s.size_hw, s.size_hw, c, s.N * s.K, groups, s.ksize, 1,
                                          s.ksize / 2, LEAKY, 0, 0, 0, 0);
    gc.learning_rate_scale = conv.learning_rate_scale = 1;
    rng *g = net_rng(owner, RNG_DATA);
    network gnet = state_for(gc, g), cnet = state_for(conv, g);
    update_args a = {.batch = s.batch, .learning_rate = 1e-4f, .momentum = 0.9f, .decay = 5e-4f};

    /* Steps interleaved, one of each at a time; the best of each, and the
     * median of the steps' paired ratios, which moves least when the
     * machine is busy. */
    double best_gc = 1e30, best_conv = 1e30, *paired = malloc(reps * sizeof(double));
    for (int r = 0; r < reps; ++r) {
        double tc = time_step(conv, cnet, a);
        if (tc < best_conv) best_conv = tc;
        double tg = time_step(gc, gnet, a);
        if (tg < best_gc) best_gc = tg;
        paired[r] = tg / tc;
    }
    printf("%-6s batch %2d  %3dx%-3d C %3d N %3d K %d  %dx%d   conv on H %8.2f ms   gcconv %8.2f ms   ratio %.3f"
           "   step ratio %.3f\n",
           mixing == GC_MIX_FULL ? "full" : "branch", s.batch, s.size_hw, s.size_hw, s.C, s.N, s.K, s.ksize,
           s.ksize, 1e3 * best_conv, 1e3 * best_gc, best_gc / best_conv, median(paired, reps));
    free(paired);
    fflush(stdout);
    free_state(gnet);
    free_state(cnet);
    free_layer(gc);
    free_layer(conv);
}

int main(int argc, char **argv)
{
    int reps = argc > 1 && !strcmp(argv[1], "quick") ? 2 : 41;
    static const shape shapes[] = {
        {8, 32, 16, 16, 4, 3},   /* CIFAR first stage, K=4 */
        {8, 16, 32, 32, 4, 3},   /* CIFAR second stage */
        {8, 8, 64, 64, 2, 3},    /* late stage, K=2 */
        {8, 16, 32, 32, 4, 1},   /* 1x1 */
        {2, 56, 16, 16, 4, 3},   /* ImageNet-size feature map */
    };
    network *owner = calloc(1, sizeof(network));
    rng_seed(net_rng(owner, RNG_INIT), 1, RNG_INIT);
    rng_seed(net_rng(owner, RNG_DATA), 1, RNG_DATA);
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); ++i) {
        run_shape(shapes[i], GC_MIX_FULL, reps, owner);
        run_shape(shapes[i], GC_MIX_BRANCH, reps, owner);
    }
    free(owner->ext);
    free(owner);
    return 0;
}
