/* fast_im2col.c: upstream's im2col_cpu and col2im_cpu as row copies over
 * threads, and the row and plane helpers of fastops.h that the batched and
 * factored convolutions use.  Bit for bit with upstream: every element is
 * copied or added in upstream's order. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "col2im.h"
#include "im2col.h"
#include "cpu/fast_lanes.h"
#include "cpu/fastops.h"
#include "cpu/upstream_ref.h"

/* dst[r*width + c] = src[(r+dy)*width + c+dx] where that lies inside the
 * plane, 0 elsewhere.  The rows that stay inside go in one copy of the
 * shifted block; then the |dx| columns of each row that crossed the edge
 * (they hold the neighbouring row's pixels) are zeroed. */
void shift_plane(const float *src, int height, int width, int dy, int dx, float *dst)
{
    int lo = dy < 0 ? -dy : 0, hi = dy > 0 ? height - dy : height;   /* rows inside */
    if (lo > height) lo = height;
    if (hi < lo) hi = lo;
    size_t n = (size_t)(hi - lo) * width;
    int shift = dx < 0 ? -dx : dx, edge = shift < width ? shift : width;
    float *inside = dst + (size_t)lo * width;
    const float *from = src + (size_t)(lo + dy) * width;
    memset(dst, 0, (size_t)lo * width * sizeof(float));
    memset(dst + (size_t)hi * width, 0, (size_t)(height - hi) * width * sizeof(float));
    if ((size_t)shift < n) {
        if (dx < 0) memcpy(inside + shift, from, (n - shift) * sizeof(float));
        else memcpy(inside, from + shift, (n - shift) * sizeof(float));
    }
    for (int r = 0; r < hi - lo; ++r) {
        float *d = inside + (size_t)r * width + (dx < 0 ? 0 : width - edge);
        for (int i = 0; i < edge; ++i) d[i] = 0;
    }
}

void add_reached(const float *src, int height, int width, int dy, int dx, float *dst)
{
    int y0 = dy > 0 ? dy : 0, y1 = dy < 0 ? height + dy : height;
    int x0 = dx > 0 ? dx : 0, x1 = dx < 0 ? width + dx : width;
    for (int y = y0; y < y1; ++y) {
        const float *s = src + (size_t)y * width;
        float *d = dst + (size_t)y * width;
        for (int x = x0; x < x1; ++x) d[x] += s[x];
    }
}

/* Stride 1 with the output as large as the input: the row of kernel pixel
 * (kh, kw) is the plane shifted by kh - pad rows and kw - pad columns.
 * Upstream's values, with one block copy a kernel pixel instead of one
 * copy an output row. */
static void im2col_same_size(const float *plane, int height, int width, int ksize, int pad, int c,
                             float *col, int ldcol)
{
    for (int kh = 0; kh < ksize; ++kh)
        for (int kw = 0; kw < ksize; ++kw)
            shift_plane(plane, height, width, kh - pad, kw - pad,
                        col + (size_t)((c * ksize + kh) * ksize + kw) * ldcol);
}

/* The ksize*ksize rows of input channel c, whose plane is `plane`. */
static void im2col_channel(const float *plane, int height, int width, int ksize,
                           int stride, int pad, int c, float *col, int ldcol)
{
    int oh_n = (height + 2 * pad - ksize) / stride + 1;
    int ow_n = (width + 2 * pad - ksize) / stride + 1;
    if (stride == 1 && ow_n == width) {
        im2col_same_size(plane, height, width, ksize, pad, c, col, ldcol);
        return;
    }
    for (int kh = 0; kh < ksize; ++kh) {
        for (int kw = 0; kw < ksize; ++kw) {
            float *row = col + (size_t)((c * ksize + kh) * ksize + kw) * ldcol;
            /* Output columns whose input column lies inside the image. */
            int lo = pad - kw > 0 ? (pad - kw + stride - 1) / stride : 0;
            int hi = (width - 1 + pad - kw) / stride + 1;
            if (width - 1 + pad - kw < 0) hi = 0;
            if (hi > ow_n) hi = ow_n;
            if (lo > hi) lo = hi;
            for (int oh = 0; oh < oh_n; ++oh) {
                float *dst = row + oh * ow_n;
                int ih = oh * stride - pad + kh;
                if (ih < 0 || ih >= height) {
                    memset(dst, 0, ow_n * sizeof(float));
                    continue;
                }
                const float *src = plane + (size_t)ih * width - pad + kw;
                for (int ow = 0; ow < lo; ++ow) dst[ow] = 0;
                if (stride == 1) memcpy(dst + lo, src + lo, (hi - lo) * sizeof(float));
                else for (int ow = lo; ow < hi; ++ow) dst[ow] = src[ow * stride];
                for (int ow = hi; ow < ow_n; ++ow) dst[ow] = 0;
            }
        }
    }
}

void im2col_planes(const float *im, size_t plane_stride, int channels, int height, int width,
                   int ksize, int stride, int pad, float *col, int ldcol)
{
    long work = (long)channels * ksize * ksize * height * width;
    #pragma omp parallel for schedule(static) if (work >= PAR_MIN)
    for (int c = 0; c < channels; ++c)
        im2col_channel(im + c * plane_stride, height, width, ksize, stride, pad, c, col, ldcol);
}

void im2col_rows(const float *im, int channels, int height, int width,
                 int ksize, int stride, int pad, float *col, int ldcol)
{
    im2col_planes(im, (size_t)height * width, channels, height, width, ksize, stride, pad, col, ldcol);
}

void im2col_cpu(float *data_im, int channels, int height, int width,
                int ksize, int stride, int pad, float *data_col)
{
    if (dn_reference()) {
        upstream_im2col_cpu(data_im, channels, height, width, ksize, stride, pad, data_col);
        return;
    }
    int oh_n = (height + 2 * pad - ksize) / stride + 1;
    int ow_n = (width + 2 * pad - ksize) / stride + 1;
    im2col_rows(data_im, channels, height, width, ksize, stride, pad, data_col, oh_n * ow_n);
}

/* Adds one channel's rows back into the image, in upstream's order: for each
 * pixel, kernel rows then kernel columns ascending. */
static void col2im_channel(const float *col, int ldcol, int height, int width,
                           int ksize, int stride, int pad, int c, float *plane)
{
    int oh_n = (height + 2 * pad - ksize) / stride + 1;
    int ow_n = (width + 2 * pad - ksize) / stride + 1;
    for (int kh = 0; kh < ksize; ++kh) {
        for (int kw = 0; kw < ksize; ++kw) {
            const float *row = col + (size_t)((c * ksize + kh) * ksize + kw) * ldcol;
            int lo = pad - kw > 0 ? (pad - kw + stride - 1) / stride : 0;
            int hi = (width - 1 + pad - kw) / stride + 1;
            if (width - 1 + pad - kw < 0) hi = 0;
            if (hi > ow_n) hi = ow_n;
            if (lo > hi) lo = hi;
            for (int oh = 0; oh < oh_n; ++oh) {
                int ih = oh * stride - pad + kh;
                if (ih < 0 || ih >= height) continue;
                const float *src = row + oh * ow_n;
                float *dst = plane + (size_t)ih * width - pad + kw;
                if (stride == 1) for (int ow = lo; ow < hi; ++ow) dst[ow] += src[ow];
                else for (int ow = lo; ow < hi; ++ow) dst[ow * stride] += src[ow];
            }
        }
    }
}

void col2im_planes(const float *col, int ldcol, int channels, int height, int width,
                   int ksize, int stride, int pad, float *im, size_t plane_stride)
{
    long work = (long)channels * ksize * ksize * height * width;
    #pragma omp parallel for schedule(static) if (work >= PAR_MIN)
    for (int c = 0; c < channels; ++c)
        col2im_channel(col, ldcol, height, width, ksize, stride, pad, c, im + c * plane_stride);
}

void col2im_rows(const float *col, int ldcol, int channels, int height, int width,
                 int ksize, int stride, int pad, float *im)
{
    col2im_planes(col, ldcol, channels, height, width, ksize, stride, pad, im, (size_t)height * width);
}

void col2im_cpu(float *data_col, int channels, int height, int width,
                int ksize, int stride, int pad, float *data_im)
{
    if (dn_reference()) {
        upstream_col2im_cpu(data_col, channels, height, width, ksize, stride, pad, data_im);
        return;
    }
    int oh_n = (height + 2 * pad - ksize) / stride + 1;
    int ow_n = (width + 2 * pad - ksize) / stride + 1;
    col2im_rows(data_col, oh_n * ow_n, channels, height, width, ksize, stride, pad, data_im);
}
