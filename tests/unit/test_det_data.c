/* Tests for robust detection data (src/detect/det_data.c): label paths, label
 * lines that are skipped and counted, bad images, and the batch loader. */
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
#include "detect/det_data.h"

#define DIR "build/tests/work/det_data"

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static int setup(void **state)
{
    mkdir("build/tests/work", 0755);
    mkdir(DIR, 0755);
    mkdir(DIR "/JPEGImages", 0755);
    mkdir(DIR "/labels", 0755);
    det_issue_reset();
    return 0;
}

static void label_paths_follow_upstream_folders(void **state)
{
    char out[512];
    det_label_path("/d/VOC2007/JPEGImages/000005.jpg", "labels", out, sizeof(out));
    assert_string_equal(out, "/d/VOC2007/labels/000005.txt");
    det_label_path("/d/VOC2007/JPEGImages/000005.jpg", "difficult", out, sizeof(out));
    assert_string_equal(out, "/d/VOC2007/difficult/000005.txt");
    det_label_path("/x/images/train/a.png", "labels", out, sizeof(out));
    assert_string_equal(out, "/x/labels/train/a.txt");
    det_label_path("data/b.JPEG", "labels", out, sizeof(out));
    assert_string_equal(out, "data/b.txt");
    det_label_path("/d.v1/JPEGImages/noext", "labels", out, sizeof(out));
    assert_string_equal(out, "/d.v1/labels/noext.txt");
}

static void bad_lines_are_skipped_and_counted_once(void **state)
{
    write_file(DIR "/labels/mixed.txt",
               "0 0.5 0.5 0.2 0.2\n"          /* good */
               "0 0.5 0.5 0.2\n"              /* 2: malformed, too few */
               "x 0.5 0.5 0.2 0.2\n"          /* 3: malformed class */
               "1 0.5 0.5 0.2 0.2 junk\n"     /* 4: malformed, trailing */
               "\n"                           /* blank: fine */
               "3 0.5 0.5 0.2 0.2\n"          /* 6: class out of range */
               "-1 0.5 0.5 0.2 0.2\n"         /* 7: class out of range */
               "2 1.4 0.5 0.2 0.2\n"          /* 8: box outside */
               "2 0.5 0.5 -0.1 0.2\n"         /* 9: negative width */
               "2 0.5 0.5 0.2 nan\n"          /* 10: malformed (not finite) */
               "1 0.001 0.5 0.004 0.2\n");    /* within the slack: clipped */
    det_object *o;
    int n = det_read_labels(DIR "/labels/mixed.txt", 3, 1, &o);
    assert_int_equal(n, 2);
    assert_int_equal(o[0].cls, 0);
    assert_true(fabsf(o[0].x - .5f) < 1e-6f && fabsf(o[0].w - .2f) < 1e-6f);
    assert_int_equal(o[1].cls, 1);
    assert_true(fabsf(o[1].x - (0 + .003f) / 2) < 1e-6f);     /* [-.001, .003] clipped to [0, .003] */
    assert_true(fabsf(o[1].w - .003f) < 1e-6f);
    free(o);
    assert_int_equal(det_issue_count(DET_MALFORMED_LINE), 4);
    assert_int_equal(det_issue_count(DET_BAD_CLASS), 2);
    assert_int_equal(det_issue_count(DET_BAD_BOX), 2);
    /* read again: nothing new is counted */
    n = det_read_labels(DIR "/labels/mixed.txt", 3, 1, &o);
    free(o);
    assert_int_equal(n, 2);
    assert_int_equal(det_issue_total(), 8);
}

static void missing_label_file(void **state)
{
    det_object *o;
    assert_int_equal(det_read_labels(DIR "/labels/none.txt", 3, 0, &o), -1);
    assert_int_equal(det_issue_count(DET_MISSING_LABELS), 0);
    assert_int_equal(det_read_labels(DIR "/labels/none.txt", 3, 1, &o), -1);
    assert_int_equal(det_issue_count(DET_MISSING_LABELS), 1);
    write_file(DIR "/labels/empty.txt", "");
    assert_int_equal(det_read_labels(DIR "/labels/empty.txt", 3, 1, &o), 0);
    free(o);
}

static void write_test_jpeg(const char *base, int w, int h)
{
    image im = make_image(w, h, 3);
    for (int i = 0; i < w * h * 3; ++i) im.data[i] = (i % 97) / 97.f;
    save_image_options(im, base, JPG, 90);
    free_image(im);
}

static void bad_images_are_reported(void **state)
{
    write_test_jpeg(DIR "/JPEGImages/good", 40, 30);
    image im;
    assert_int_equal(det_load_image(DIR "/JPEGImages/good.jpg", &im), 0);
    assert_int_equal(im.w, 40);
    assert_int_equal(im.h, 30);
    assert_int_equal(im.c, 3);
    free_image(im);
    int w, h;
    assert_int_equal(det_image_size(DIR "/JPEGImages/good.jpg", &w, &h), 0);
    assert_int_equal(w * 1000 + h, 40030);

    /* the first half of the good file */
    FILE *in = fopen(DIR "/JPEGImages/good.jpg", "rb");
    unsigned char buf[65536];
    size_t n = fread(buf, 1, sizeof(buf), in);
    fclose(in);
    FILE *out = fopen(DIR "/JPEGImages/cut.jpg", "wb");
    fwrite(buf, 1, n / 2, out);
    fclose(out);
    write_file(DIR "/JPEGImages/text.jpg", "not an image\n");
    int before = det_issue_count(DET_BAD_IMAGE);
    assert_int_equal(det_load_image(DIR "/JPEGImages/cut.jpg", &im), -1);
    assert_int_equal(det_load_image(DIR "/JPEGImages/text.jpg", &im), -1);
    assert_int_equal(det_load_image(DIR "/JPEGImages/absent.jpg", &im), -1);
    assert_int_equal(det_image_size(DIR "/JPEGImages/cut.jpg", &w, &h), -1);
    assert_int_equal(det_issue_count(DET_BAD_IMAGE) - before, 3);
}

static void scan_keeps_usable_images(void **state)
{
    write_test_jpeg(DIR "/JPEGImages/a", 64, 64);
    write_test_jpeg(DIR "/JPEGImages/b", 64, 64);
    write_file(DIR "/labels/a.txt", "0 .5 .5 .2 .2\n");
    /* b has no labels; cut.jpg is truncated */
    write_file(DIR "/labels/cut.txt", "0 .5 .5 .2 .2\n");
    char *paths[] = {DIR "/JPEGImages/a.jpg", DIR "/JPEGImages/b.jpg", DIR "/JPEGImages/cut.jpg"};
    int n;
    char **good = det_scan_list(paths, 3, 3, &n);
    assert_int_equal(n, 1);
    assert_string_equal(good[0], paths[0]);
    free(good);
}

static int by_x(const void *a, const void *b)
{
    float x = ((const float *)a)[0], y = ((const float *)b)[0];
    return (x > y) - (x < y);
}

static void batches_are_reproducible_and_truths_follow_the_image(void **state)
{
    write_test_jpeg(DIR "/JPEGImages/sq", 128, 128);
    write_file(DIR "/labels/sq.txt", "2 .25 .5 .2 .4\n0 .75 .25 .1 .1\n");
    char *paths[] = {DIR "/JPEGImages/sq.jpg"};
    det_batch_args a = {0};
    a.paths = paths;
    a.n_paths = 1;
    a.n = 3;
    a.w = a.h = 64;
    a.classes = 3;
    a.max_boxes = 4;
    a.saturation = a.exposure = 1;
    a.seed = 5;
    a.threads = 2;
    data d = det_load_batch(a);
    for (int i = 0; i < 3; ++i) {
        float t[20];
        memcpy(t, d.y.vals[i], sizeof(t));
        qsort(t, 2, 5 * sizeof(float), by_x);
        float want[] = {.25f, .5f, .2f, .4f, 2, .75f, .25f, .1f, .1f, 0};
        for (int k = 0; k < 10; ++k) assert_true(fabsf(t[k] - want[k]) < 1e-5f);
        assert_true(t[10] == 0);
    }
    /* with jitter, colour changes and flips: the same seed gives the same batch */
    a.jitter = .3f;
    a.hue = .1f;
    a.saturation = a.exposure = 1.5f;
    a.flip = 1;
    data e = det_load_batch(a), f = det_load_batch(a);
    assert_memory_equal(e.X.vals[1], f.X.vals[1], sizeof(float) * 64 * 64 * 3);
    assert_memory_equal(e.y.vals[2], f.y.vals[2], sizeof(float) * 20);
    a.index = 1;
    data g = det_load_batch(a);
    assert_memory_not_equal(e.X.vals[0], g.X.vals[0], sizeof(float) * 64 * 64 * 3);
    free_data(d);
    free_data(e);
    free_data(f);
    free_data(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(label_paths_follow_upstream_folders),
        cmocka_unit_test(bad_lines_are_skipped_and_counted_once),
        cmocka_unit_test(missing_label_file),
        cmocka_unit_test(bad_images_are_reported),
        cmocka_unit_test(scan_keeps_usable_images),
        cmocka_unit_test(batches_are_reproducible_and_truths_follow_the_image),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
