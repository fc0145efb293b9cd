/* roi_pool_run: runs the RoI pooling kernels (src/rcnn/roi_pool.c) on the
 * cases that tests/ref/roi_align_ref.py writes, for that script to compare
 * with its own reference.
 *
 * Usage: roi_pool_run CASES OUT
 *
 * CASES, little-endian: int32 count, then per case
 *     int32 mode (0 max, 1 align), batch, c, h, w, size, n; float32 scale;
 *     float32 features[batch*c*h*w]; n x (int32 image, float32 x1 y1 x2 y2);
 *     float32 out_delta[n*c*size*size]
 * OUT gets per case: float32 out[n*c*size*size], in max mode int32
 * argmax[n*c*size*size], then float32 feature_delta[batch*c*h*w] (the
 * backward pass of out_delta into zeros). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "rcnn/roi_pool.h"

static void die(const char *what)
{
    fprintf(stderr, "roi_pool_run: %s\n", what);
    exit(1);
}

static void read_exact(FILE *f, void *to, size_t size, size_t count)
{
    if (fread(to, size, count, f) != count) die("cases file ends early");
}

static void write_exact(FILE *f, const void *from, size_t size, size_t count)
{
    if (fwrite(from, size, count, f) != count) die("cannot write the results");
}

static void *alloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size);
    if (!p) die("out of memory");
    return p;
}

static roi_box *read_rois(FILE *f, int n)
{
    roi_box *rois = alloc((size_t)n, sizeof(roi_box));
    for (int i = 0; i < n; ++i) {
        int32_t image;
        float corners[4];
        read_exact(f, &image, sizeof(image), 1);
        read_exact(f, corners, sizeof(float), 4);
        roi_box b = {image, corners[0], corners[1], corners[2], corners[3]};
        rois[i] = b;
    }
    return rois;
}

static void run_case(FILE *in, FILE *out)
{
    int32_t head[7];
    float scale;
    read_exact(in, head, sizeof(int32_t), 7);
    read_exact(in, &scale, sizeof(float), 1);
    roi_pool_shape s = {head[1], head[2], head[3], head[4], scale, head[5],
                        head[0] ? ROI_POOL_ALIGN : ROI_POOL_MAX};
    int n = head[6];
    if (roi_pool_check(&s) != 0 || n < 0) die("a case has a bad shape");
    size_t feats = (size_t)s.batch * s.c * s.h * s.w, outs = roi_pool_outputs(&s, n);
    float *features = alloc(feats, sizeof(float)), *delta = alloc(feats, sizeof(float));
    float *pooled = alloc(outs, sizeof(float)), *out_delta = alloc(outs, sizeof(float));
    int *argmax = alloc(outs, sizeof(int));
    read_exact(in, features, sizeof(float), feats);
    roi_box *rois = read_rois(in, n);
    read_exact(in, out_delta, sizeof(float), outs);
    if (roi_pool_forward(&s, features, rois, n, pooled, argmax) != 0 ||
        roi_pool_backward(&s, rois, n, argmax, out_delta, delta) != 0)
        die("the kernels refused a case");
    write_exact(out, pooled, sizeof(float), outs);
    if (s.mode == ROI_POOL_MAX) write_exact(out, argmax, sizeof(int), outs);
    write_exact(out, delta, sizeof(float), feats);
    free(features); free(delta); free(pooled); free(out_delta); free(argmax); free(rois);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: roi_pool_run CASES OUT\n");
        return 2;
    }
    FILE *in = fopen(argv[1], "rb");
    if (!in) die("cannot open the cases file");
    FILE *out = fopen(argv[2], "wb");
    if (!out) die("cannot open the results file");
    int32_t count;
    read_exact(in, &count, sizeof(count), 1);
    for (int i = 0; i < count; ++i) run_case(in, out);
    fclose(in);
    if (fclose(out) != 0) die("cannot write the results");
    return 0;
}
