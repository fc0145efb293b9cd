/* Tests for the two-stage layers [rpn], [roipool] and [rcnn]
 * (src/rcnn/rpn_layer.c, roipool_layer.c, rcnn_layer.c): the gradients
 * of each layer against central differences, the batch of the layers after
 * [roipool], detections through get_network_boxes(), and weights that
 * round-trip and resume exactly. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "darknet.h"
#include "network.h"
#include "parser.h"
#include "rcnn/rcnn_layers.h"
#include "helpers/central_difference.h"
#include "helpers/rounding.h"
#include "helpers/scratch_dir.h"
#include "optim/optimizer.h"
#include "rand/rng.h"
#include "train/train_state.h"

/* Layers: 0 a 16x16 convolution of stride 16 (4x4x3, the features), 1 the RPN's 1x1
 * convolution (2 anchors: 10 channels), 2 [rpn], 3 [roipool] (8 rows per
 * image), 4 [connected] (2 classes: 11 outputs), 5 [rcnn]. */
enum { FEATURES = 0, RPN = 2, ROIPOOL = 3, HEAD = 4, RCNN = 5, ROWS = 8 };

static network *two_stage_net_rois(const char *mode, int batch, int rois);

static network *two_stage_net(const char *mode, int batch)
{
    return two_stage_net_rois(mode, batch, ROWS);
}

/* The network with rois= sampled ROIs an image in training (ROWS proposals
 * at test). */
static network *two_stage_net_rois(const char *mode, int batch, int rois)
{
    const char *path = scratch_path("two_stage.cfg");
    FILE *fp = fopen(path, "w");
    fprintf(fp, "[net]\nbatch=%d\nsubdivisions=1\nwidth=64\nheight=64\nchannels=3\n"
                "learning_rate=0.01\nmomentum=0.9\ndecay=0.0005\nseed=5\n\n"
                "[convolutional]\nfilters=3\nsize=16\nstride=16\npad=0\nactivation=linear\n\n"
                "[convolutional]\nfilters=10\nsize=1\nstride=1\npad=0\nactivation=linear\n\n"
                "[rpn]\nanchor_sizes=16,32\nanchor_ratios=1\nstride=16\npre_nms_train=32\npost_nms_train=16\n"
                "pre_nms_test=32\npost_nms_test=%d\nmin_size=0\n\n"
                "[roipool]\nfrom=0\nmode=%s\nsize=2\nrois=%d\n\n"
                "[connected]\noutput=11\nactivation=linear\n\n"
                "[rcnn]\nclasses=2\nmax=4\nscore_thresh=0\n",
            batch, ROWS, mode, rois);
    fclose(fp);
    return parse_network_cfg((char *)path);
}

static void random_fill(float *x, int n, rng *r, float scale)
{
    for (int i = 0; i < n; ++i) x[i] = scale * rng_uniform_range(r, -1, 1);
}

/* Two boxes per image, relative (x, y, w, h, class). */
static void set_truths(network *net)
{
    static const float boxes[2][10] = {{.4f, .4f, .5f, .5f, 1, .7f, .7f, .3f, .3f, 0},
                                       {.5f, .5f, .6f, .4f, 0, .3f, .6f, .25f, .35f, 1}};
    memset(net->truth, 0, sizeof(float) * net->truths * net->batch);
    for (int b = 0; b < net->batch; ++b) memcpy(net->truth + b * net->truths, boxes[b % 2], sizeof(boxes[0]));
}

/* A training forward pass of the whole network on random input. */
static void forward_training(network *net, uint64_t seed)
{
    rng r;
    rng_seed(&r, seed, 0);
    random_fill(net->input, net->inputs * net->batch, &r, 1);
    set_truths(net);
    net->train = 1;
    *net->seen += net->batch;
    forward_network(net);
}

/* The network struct that a layer's forward pass sees (net.input its own). */
static network view(network *net, int index, float *input)
{
    network v = *net;
    v.index = index;
    v.input = input;
    v.delta = NULL;
    return v;
}

/* A central difference against the layer's gradient (fd_check), with
 * the terms of its bound from the arithmetic:
 *   rounding  the error of up and of down (`rounding`, their sum);
 *   third     the cross-entropies' third derivative in one logit is at
 *             most 1 / (6 sqrt 3) < 0.1 (sigmoid and softmax alike), each
 *             entry weighted by at most 1 over the sampled count (>= 1),
 *             where they apply (`smooth`); their second, 1/4;
 *   bend      smooth L1 is quadratic within beta of 0 and linear outside,
 *             so only its second derivative, 1 / beta, is bounded (`kink`,
 *             0 where no smooth L1 applies);
 *   gradient  computed in double, rounded once: u |g|, doubled. */
static void assert_close(double up, double down, double rounding, float keep, float hi, float lo, int smooth,
                         double kink, double analytic, int i)
{
    fd_terms t = {rounding, smooth ? 0.1 : 0, (smooth ? 0.25 : 0) + kink, kink,
                  2 * FLOAT_UNIT_ROUNDOFF * fabs(analytic)};
    fd_check("layer gradient", i, up, down, keep, hi, lo, analytic, t);
}

static float rpn_loss(network *net, float *x)
{
    layer l = net->layers[RPN];
    l.forward(l, view(net, RPN, x));
    return ((rpn_state *)l.ext_data)->loss;
}

static void rpn_gradient_matches_differences(void **state)
{
    network *net = two_stage_net("align", 2);
    forward_training(net, 1);
    layer l = net->layers[RPN];
    int n = l.batch * l.inputs;
    float *x = calloc(n, sizeof(float)), *grad = calloc(n, sizeof(float));
    rng r;
    rng_seed(&r, 2, 0);
    random_fill(x, n, &r, 0.5f);
    memset(l.delta, 0, sizeof(float) * n);
    float base = rpn_loss(net, x);
    assert_true(isfinite(base) && base > 0);
    for (int i = 0; i < n; ++i) grad[i] = -l.delta[i];   /* the delta holds minus the gradient */
    const float eps = 1e-3f;
    int nonzero = 0;
    for (int i = 0; i < n; ++i) {
        float keep = x[i];
        x[i] = keep + eps;
        float hi = x[i];
        double up = rpn_loss(net, x);
        x[i] = keep - eps;
        float lo = x[i];
        double down = rpn_loss(net, x);
        x[i] = keep;
        /* both losses are sums of terms >= 0 in double, each rounded to
         * float, then added: 3 roundings of |L|; smooth L1 with beta 1/9 */
        assert_close(up, down, rounding_gamma(3) * (fabs(up) + fabs(down)), keep, hi, lo, 1, 9, grad[i], i);
        nonzero += grad[i] != 0;
    }
    assert_true(nonzero > 0);
    /* proposals were made for each image */
    rpn_state *s = l.ext_data;
    assert_true(s->n_proposals[0] > 0 && s->n_proposals[1] > 0);
    free(x);
    free(grad);
    free_network(net);
}

/* L = sum w . pooled, so -dL/dfeatures is what backward must add. */
static double weighted_pool(network *net, const float *w)
{
    layer l = net->layers[ROIPOOL];
    l.forward(l, view(net, ROIPOOL, net->layers[RPN].output));
    double s = 0;
    for (int i = 0; i < l.batch * l.outputs; ++i) s += (double)w[i] * l.output[i];
    return s;
}

static void roipool_gradient_matches_differences(const char *mode)
{
    network *net = two_stage_net(mode, 2);
    forward_training(net, 3);
    layer l = net->layers[ROIPOOL], f = net->layers[FEATURES];
    int n = l.batch * l.outputs, nf = f.batch * f.outputs;
    float *w = calloc(n, sizeof(float));
    rng r;
    rng_seed(&r, 4, 0);
    random_fill(w, n, &r, 1);
    /* features far apart, so that no max bin changes hands within eps */
    random_fill(f.output, nf, &r, 1);
    weighted_pool(net, w);
    for (int i = 0; i < n; ++i) l.delta[i] = -w[i];
    memset(f.delta, 0, sizeof(float) * nf);
    l.backward(l, view(net, ROIPOOL, net->layers[RPN].output));
    const float eps = 1e-3f;
    double mass = 0, largest = 0, gout = 0;
    for (int i = 0; i < nf; ++i) largest = fmax(largest, fabs(f.output[i]) + eps);
    float *out_up = malloc(n * sizeof(float));
    for (int i = 0; i < nf; ++i) {
        float keep = f.output[i];
        f.output[i] = keep + eps;
        float hi = f.output[i];
        double up = weighted_pool(net, w);
        memcpy(out_up, l.output, n * sizeof(float));
        f.output[i] = keep - eps;
        float lo = f.output[i];
        double down = weighted_pool(net, w);
        f.output[i] = keep;
        /* Only the outputs that read feature i differ between the two
         * evaluations (rounding.h, pooled_sum_rounding). */
        double moved = 0;
        gout = 0;
        for (int j = 0; j < n; ++j) {
            if (out_up[j] != l.output[j]) moved += fabs(w[j]);
            gout += fabs(w[j] * l.output[j]) + fabs(w[j] * out_up[j]);
        }
        double rounding = pooled_sum_rounding(1, largest, moved, n, gout);
        assert_close(up, down, rounding, keep, hi, lo, 0, 0, -f.delta[i], i);
        mass += fabs(f.delta[i]);
    }
    free(out_up);
    assert_true(mass > 0);
    free(w);
    free_network(net);
}

static void roialign_gradient_matches_differences(void **state)
{
    roipool_gradient_matches_differences("align");
}

static void roimax_gradient_matches_differences(void **state)
{
    roipool_gradient_matches_differences("max");
}

static float rcnn_loss(network *net, float *x)
{
    layer l = net->layers[RCNN];
    l.forward(l, view(net, RCNN, x));
    return l.cost[0];
}

static void rcnn_gradient_matches_differences(void **state)
{
    network *net = two_stage_net("align", 2);
    forward_training(net, 5);
    layer l = net->layers[RCNN];
    roipool_state *pool = net->layers[ROIPOOL].ext_data;
    int foreground = 0;
    for (int i = 0; i < l.batch; ++i) foreground += pool->labels[i] > 0;
    assert_true(foreground > 0);
    int n = l.batch * l.inputs;
    float *x = calloc(n, sizeof(float)), *grad = calloc(n, sizeof(float));
    rng r;
    rng_seed(&r, 6, 0);
    random_fill(x, n, &r, 1);
    memset(l.delta, 0, sizeof(float) * n);
    rcnn_loss(net, x);
    for (int i = 0; i < n; ++i) grad[i] = -l.delta[i];
    const float eps = 1e-3f;
    for (int i = 0; i < n; ++i) {
        float keep = x[i];
        x[i] = keep + eps;
        float hi = x[i];
        double up = rcnn_loss(net, x);
        x[i] = keep - eps;
        float lo = x[i];
        double down = rcnn_loss(net, x);
        x[i] = keep;
        /* each row's loss (terms >= 0) is rounded to float a few times,
         * then the rows are summed in float: gamma(rows + 4) |L|; smooth L1
         * with beta 1 */
        assert_close(up, down, rounding_gamma(l.batch + 4) * (fabs(up) + fabs(down)), keep, hi, lo, 1, 1, grad[i], i);
    }
    /* padding rows carry no loss */
    for (int row = 0; row < l.batch; ++row) {
        if (pool->labels[row] >= 0) continue;
        for (int k = 0; k < l.inputs; ++k) assert_true(grad[row * l.inputs + k] == 0);
    }
    free(x);
    free(grad);
    free_network(net);
}

static void layers_after_roipool_run_per_roi(void **state)
{
    network *net = two_stage_net("align", 2);
    assert_int_equal(net->layers[RPN].batch, 2);
    assert_int_equal(net->layers[ROIPOOL].batch, 2 * ROWS);
    assert_int_equal(net->layers[ROIPOOL].outputs, 3 * 2 * 2);
    assert_int_equal(net->layers[HEAD].batch, 2 * ROWS);
    assert_int_equal(net->layers[HEAD].inputs, 3 * 2 * 2);
    assert_int_equal(net->layers[RCNN].batch, 2 * ROWS);
    assert_int_equal(net->truths, 4 * 5);
    set_batch_network(net, 1);
    assert_int_equal(net->layers[FEATURES].batch, 1);
    assert_int_equal(net->layers[RPN].batch, 1);
    assert_int_equal(net->layers[ROIPOOL].batch, ROWS);
    assert_int_equal(net->layers[HEAD].batch, ROWS);
    assert_int_equal(net->layers[RCNN].batch, ROWS);
    free_network(net);
}

/* A training pass runs the head on the sampled ROIs only (rois= an image),
 * a test pass on room for every proposal; switching back and forth leaves
 * the test outputs those of a network that never trained. */
static void training_passes_take_the_sampled_rows(void **state)
{
    enum { TRAIN_ROWS = 3 };
    network *net = two_stage_net_rois("align", 2, TRAIN_ROWS);
    network *fresh = two_stage_net_rois("align", 2, TRAIN_ROWS);
    assert_int_equal(net->layers[HEAD].batch, 2 * ROWS);   /* the buffers' rows */
    forward_training(net, 11);
    roipool_state *pool = net->layers[ROIPOOL].ext_data;
    for (int i = ROIPOOL; i <= RCNN; ++i) assert_int_equal(net->layers[i].batch, 2 * TRAIN_ROWS);
    for (int b = 0; b < 2; ++b) assert_true(pool->counts[b] > 0 && pool->counts[b] <= TRAIN_ROWS);
    rng r;
    rng_seed(&r, 12, 0);
    random_fill(net->input, net->inputs * net->batch, &r, 1);
    memcpy(fresh->input, net->input, sizeof(float) * net->inputs * net->batch);
    net->train = fresh->train = 0;
    forward_network(net);
    forward_network(fresh);
    for (int i = ROIPOOL; i <= RCNN; ++i) assert_int_equal(net->layers[i].batch, 2 * ROWS);
    layer a = net->layers[HEAD], b = fresh->layers[HEAD];
    assert_memory_equal(a.output, b.output, sizeof(float) * a.batch * a.outputs);
    free_network(net);
    free_network(fresh);
}

static void detections_come_out_of_get_network_boxes(void **state)
{
    network *net = two_stage_net("align", 1);
    rng r;
    rng_seed(&r, 7, 0);
    random_fill(net->input, net->inputs, &r, 1);
    network_predict(net, net->input);
    int n = 0;
    detection *dets = get_network_boxes(net, 128, 64, 0.001f, .5f, 0, 0, &n);
    assert_true(n > 0);
    rcnn_state *s = net->layers[RCNN].ext_data;
    assert_int_equal(n, s->n_dets[0]);
    int filled = 0;
    float last = 2;
    for (int i = 0; i < n; ++i) {
        if (dets[i].objectness == 0) continue;   /* wholly in the letterbox padding: left empty */
        ++filled;
        assert_int_equal(dets[i].classes, 2);
        /* the 128x64 image was letterboxed into 64x64 (rows 16..47); boxes
         * come back in image pixels, clipped to it, best first */
        box b = dets[i].bbox;
        assert_true(b.x - b.w / 2 >= -1e-3f && b.x + b.w / 2 <= 128.001f && b.w > 0);
        assert_true(b.y - b.h / 2 >= -1e-3f && b.y + b.h / 2 <= 64.001f && b.h > 0);
        assert_true(dets[i].objectness <= last);
        last = dets[i].objectness;
    }
    assert_true(filled > 0);
    free_detections(dets, n);
    free_network(net);
}

static void images_without_objects_train_the_background(void **state)
{
    network *net = two_stage_net("align", 2);
    rng r;
    rng_seed(&r, 8, 0);
    random_fill(net->input, net->inputs * net->batch, &r, 1);
    memset(net->truth, 0, sizeof(float) * net->truths * net->batch);
    net->train = 1;
    *net->seen += net->batch;
    forward_network(net);
    roipool_state *pool = net->layers[ROIPOOL].ext_data;
    int background = 0;
    for (int i = 0; i < net->layers[ROIPOOL].batch; ++i) {
        assert_true(pool->labels[i] <= 0);
        background += pool->labels[i] == 0;
    }
    assert_true(background > 0);
    float cost = net->layers[RCNN].cost[0];
    assert_true(isfinite(cost) && cost > 0);
    free_network(net);
}

/* ---- weights and resume ------------------------------------------------------ */

static data random_batch(network *net, uint64_t seed)
{
    data d = {0};
    d.X = make_matrix(net->batch, net->inputs);
    d.y = make_matrix(net->batch, net->truths);
    rng r;
    rng_seed(&r, seed, 0);
    for (int i = 0; i < net->batch; ++i) {
        random_fill(d.X.vals[i], net->inputs, &r, 1);
        float box[5] = {rng_uniform_range(&r, .3f, .7f), rng_uniform_range(&r, .3f, .7f),
                        rng_uniform_range(&r, .2f, .5f), rng_uniform_range(&r, .2f, .5f), (float)(i % 2)};
        memcpy(d.y.vals[i], box, sizeof(box));
    }
    return d;
}

static void train_steps(network *net, int first, int count)
{
    for (int s = first; s < first + count; ++s) {
        data d = random_batch(net, 100 + s);
        float loss = train_network(net, d);
        assert_true(isfinite(loss));
        free_data(d);
    }
}

static void assert_same_weights(network *a, network *b)
{
    assert_int_equal(*a->seen, *b->seen);
    for (int i = 0; i < a->n; ++i) {
        layer *la = &a->layers[i], *lb = &b->layers[i];
        param_counts c = layer_param_counts(la);
        if (c.weights) assert_memory_equal(la->weights, lb->weights, c.weights * sizeof(float));
        if (c.weights) assert_memory_equal(la->weight_updates, lb->weight_updates, c.weights * sizeof(float));
        if (c.biases) assert_memory_equal(la->biases, lb->biases, c.biases * sizeof(float));
        if (c.biases) assert_memory_equal(la->bias_updates, lb->bias_updates, c.biases * sizeof(float));
    }
}

static void weights_round_trip_exactly(void **state)
{
    network *a = two_stage_net("align", 2);
    train_steps(a, 0, 2);
    save_weights(a, (char *)scratch_path("rt.weights"));
    network *b = two_stage_net("align", 2);
    load_weights(b, (char *)scratch_path("rt.weights"));
    for (int i = 0; i < a->n; ++i) {
        param_counts c = layer_param_counts(&a->layers[i]);
        if (c.weights) assert_memory_equal(a->layers[i].weights, b->layers[i].weights, c.weights * sizeof(float));
        if (c.biases) assert_memory_equal(a->layers[i].biases, b->layers[i].biases, c.biases * sizeof(float));
    }
    /* saving the loaded copy writes the same bytes */
    save_weights(b, (char *)scratch_path("rt2.weights"));
    FILE *fa = fopen(scratch_path("rt.weights"), "rb"), *fb = fopen(scratch_path("rt2.weights"), "rb");
    int ca, cb;
    long bytes = 0;
    do {
        ca = fgetc(fa);
        cb = fgetc(fb);
        assert_int_equal(ca, cb);
        ++bytes;
    } while (ca != EOF);
    assert_true(bytes > 1000);
    fclose(fa);
    fclose(fb);
    free_network(a);
    free_network(b);
}

static void training_resumes_exactly(void **state)
{
    network *a = two_stage_net("max", 2);
    train_steps(a, 0, 3);
    save_weights(a, (char *)scratch_path("resume.weights"));
    network *b = two_stage_net("max", 2);
    load_weights(b, (char *)scratch_path("resume.weights"));
    assert_same_weights(a, b);
    train_steps(a, 3, 2);
    train_steps(b, 3, 2);
    assert_same_weights(a, b);
    free_network(a);
    free_network(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rpn_gradient_matches_differences),
        cmocka_unit_test(roialign_gradient_matches_differences),
        cmocka_unit_test(roimax_gradient_matches_differences),
        cmocka_unit_test(rcnn_gradient_matches_differences),
        cmocka_unit_test(layers_after_roipool_run_per_roi),
        cmocka_unit_test(training_passes_take_the_sampled_rows),
        cmocka_unit_test(detections_come_out_of_get_network_boxes),
        cmocka_unit_test(images_without_objects_train_the_background),
        cmocka_unit_test(weights_round_trip_exactly),
        cmocka_unit_test(training_resumes_exactly),
    };
    return cmocka_run_group_tests(tests, scratch_dir_make, scratch_dir_remove);
}
