/* The detector cfgs in cfg/ (and their [gcconv] twins): each parses, runs a
 * training step (forward, backward, update) at 64x64, then resizes to 96x96
 * as random=1 does and runs another.  The two-stage (Faster R-CNN) cfgs run
 * a training step at 128x128 with 16 ROIs per image instead of 128 and 300,
 * then a prediction; then, as their random=1 does, they resize to 192x160:
 * the parameters stay the same bits, a resize back to 128x128 predicts the
 * same outputs bit for bit, and a training step at 192x160 has a finite
 * loss whose gradient reaches the first layer.  The [gcconv] twins are
 * skipped while the layer is not registered. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "darknet.h"
#include "detect/det_region.h"
#include "ext.h"

static const char *const names[] = {
    "yolov2-voc", "yolov3-voc", "yolov2-tiny-voc", "yolov3-tiny-voc",
    "alexnet-yolo-voc", "resnet18-yolo-voc",
};

/* In a two-stage cfg's copy: 16 ROIs per image in training and at test. */
static const char *fewer_rois(const char *line)
{
    if (!strncmp(line, "rois=", 5)) return "rois=16\n";
    if (!strncmp(line, "post_nms_test=", 14)) return "post_nms_test=16\n";
    if (!strncmp(line, "post_nms_train=", 15)) return "post_nms_train=64\n";
    return line;
}

/* A copy of cfg/NAME.cfg with batch 1 and the given input size. */
static void small_copy(const char *name, int size, char *out, size_t n)
{
    char in[256], line[1024];
    snprintf(in, sizeof(in), "cfg/%s.cfg", name);
    mkdir("build/tests/work", 0755);
    mkdir("build/tests/work/det_cfgs", 0755);
    snprintf(out, n, "build/tests/work/det_cfgs/%s.cfg", name);
    FILE *src = fopen(in, "r"), *dst = fopen(out, "w");
    assert_non_null(src);
    assert_non_null(dst);
    int in_net = 0;
    while (fgets(line, sizeof(line), src)) {
        if (line[0] == '[') in_net = strncmp(line, "[net]", 5) == 0;
        if (in_net && (!strncmp(line, "batch=", 6) || !strncmp(line, "subdivisions=", 13))) {
            fprintf(dst, "%.*s1\n", (int)(strchr(line, '=') - line + 1), line);
        } else if (in_net && (!strncmp(line, "width=", 6) || !strncmp(line, "height=", 7))) {
            fprintf(dst, "%.*s%d\n", (int)(strchr(line, '=') - line + 1), line, size);
        } else {
            fputs(fewer_rois(line), dst);
        }
    }
    fclose(src);
    fclose(dst);
}

/* One step on a random image with two boxes; returns the loss. */
static float step(network *net)
{
    data d = {0};
    d.X = make_matrix(1, net->inputs);
    d.y = make_matrix(1, net->truths);
    for (int i = 0; i < net->inputs; ++i) d.X.vals[0][i] = rand() / (float)RAND_MAX;
    float boxes[] = {.5f, .5f, .3f, .4f, 1, .25f, .3f, .2f, .2f, 7};
    memcpy(d.y.vals[0], boxes, sizeof(boxes));
    float loss = train_network(net, d);
    free_data(d);
    return loss;
}

static double delta_mass(layer l)
{
    double s = 0;
    if (!l.delta) return 0;
    for (int i = 0; i < l.outputs * l.batch; ++i) s += fabs(l.delta[i]);
    return s;
}

static void run_cfg(const char *name, int gc)
{
    char base[128], path[512];
    snprintf(base, sizeof(base), "%s%s", name, gc ? "-gc" : "");
    if (gc && !ext_find_layer("[gcconv]")) {
        fprintf(stderr, "%s: [gcconv] is not available in this build\n", base);
        skip();
    }
    srand(1);
    small_copy(base, 64, path, sizeof(path));
    network *net = parse_network_cfg(path);
    det_fix_network(net);
    assert_int_equal(net->w, 64);
    float loss = step(net);
    assert_true(isfinite(loss) && loss > 0);
    /* the gradient reached the first layer */
    assert_true(delta_mass(net->layers[0]) > 0);
    int grid64 = net->layers[net->n - 1].w;
    resize_network(net, 96, 96);
    assert_int_equal(net->w, 96);
    assert_int_equal(net->inputs, 96 * 96 * 3);
    assert_int_equal(net->layers[net->n - 1].w, grid64 * 3 / 2);
    loss = step(net);
    assert_true(isfinite(loss) && loss > 0);
    assert_true(delta_mass(net->layers[0]) > 0);
    free_network(net);
}

/* FNV-1a over every trained array: biases, scales, weights and the arrays
 * an extension layer declares ([gcconv]'s R). */
static uint64_t parameters_hash(network *net)
{
    uint64_t h = 14695981039346656037ULL;
    for (int i = 0; i < net->n; ++i) {
        layer l = net->layers[i];
        const float *a[3 + EXT_MAX_ARRAYS] = {l.biases, l.scales, l.weights};
        int n[3 + EXT_MAX_ARRAYS] = {l.biases ? l.n : 0, l.scales ? l.n : 0, l.weights ? l.nweights : 0};
        int k = 3;
        ext_array e[EXT_MAX_ARRAYS];
        for (int j = 0, m = ext_layer_arrays(l, e); j < m; ++j, ++k) a[k] = e[j].values, n[k] = e[j].n;
        for (int j = 0; j < k; ++j) {
            const unsigned char *p = (const unsigned char *)a[j];
            for (size_t b = 0; a[j] && b < (size_t)n[j] * sizeof(float); ++b) h = (h ^ p[b]) * 1099511628211ULL;
        }
    }
    return h;
}

/* random=1 on a two-stage cfg: the trunk, [rpn] and [roipool] resize, the
 * head keeps its shape and every parameter. */
static void check_two_stage_resize(network *net, const float *image)
{
    int outputs = net->outputs;
    float *before = malloc(outputs * sizeof(float));
    memcpy(before, network_predict(net, (float *)image), outputs * sizeof(float));
    uint64_t params = parameters_hash(net);
    resize_network(net, 192, 160);
    assert_int_equal(net->inputs, 192 * 160 * 3);
    assert_int_equal(net->outputs, outputs);
    assert_true(parameters_hash(net) == params);
    resize_network(net, 128, 128);
    assert_memory_equal(network_predict(net, (float *)image), before, outputs * sizeof(float));
    resize_network(net, 192, 160);
    float loss = step(net);
    assert_true(isfinite(loss) && loss > 0);
    assert_true(delta_mass(net->layers[0]) > 0);
    free(before);
}

static const char *const two_stage_names[] = {"faster-rcnn-alexnet-voc", "faster-rcnn-resnet18-voc",
                                               "faster-rcnn-small-voc"};

static void run_two_stage(const char *name, int gc)
{
    char base[128], path[512];
    snprintf(base, sizeof(base), "%s%s", name, gc ? "-gc" : "");
    if (gc && !ext_find_layer("[gcconv]")) {
        fprintf(stderr, "%s: [gcconv] is not available in this build\n", base);
        skip();
    }
    srand(2);
    small_copy(base, 128, path, sizeof(path));
    network *net = parse_network_cfg(path);
    assert_int_equal(net->w, 128);
    assert_int_equal(net->truths, 90 * 5);
    float loss = step(net);
    assert_true(isfinite(loss) && loss > 0);
    assert_true(delta_mass(net->layers[0]) > 0);
    float *image = calloc(net->inputs, sizeof(float));
    for (int i = 0; i < net->inputs; ++i) image[i] = rand() / (float)RAND_MAX;
    network_predict(net, image);
    int n = -1;
    detection *dets = get_network_boxes(net, 200, 100, .005f, .5f, 0, 0, &n);
    assert_true(n >= 0 && n <= 100);
    free_detections(dets, n);
    check_two_stage_resize(net, image);
    free(image);
    free_network(net);
}

#define TWO_STAGE(i, gc) \
    static void two_stage_##i##_##gc(void **state) { run_two_stage(two_stage_names[i], gc); }
TWO_STAGE(0, 0) TWO_STAGE(0, 1) TWO_STAGE(1, 0) TWO_STAGE(1, 1) TWO_STAGE(2, 0) TWO_STAGE(2, 1)

#define CASE(i, gc) \
    static void case_##i##_##gc(void **state) { run_cfg(names[i], gc); }
CASE(0, 0) CASE(0, 1) CASE(1, 0) CASE(1, 1) CASE(2, 0) CASE(2, 1)
CASE(3, 0) CASE(3, 1) CASE(4, 0) CASE(4, 1) CASE(5, 0) CASE(5, 1)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(case_0_0), cmocka_unit_test(case_0_1),
        cmocka_unit_test(case_1_0), cmocka_unit_test(case_1_1),
        cmocka_unit_test(case_2_0), cmocka_unit_test(case_2_1),
        cmocka_unit_test(case_3_0), cmocka_unit_test(case_3_1),
        cmocka_unit_test(case_4_0), cmocka_unit_test(case_4_1),
        cmocka_unit_test(case_5_0), cmocka_unit_test(case_5_1),
        cmocka_unit_test(two_stage_0_0), cmocka_unit_test(two_stage_0_1),
        cmocka_unit_test(two_stage_1_0), cmocka_unit_test(two_stage_1_1),
        cmocka_unit_test(two_stage_2_0), cmocka_unit_test(two_stage_2_1),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
