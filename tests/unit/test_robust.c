/* Tests for the hostile-input and crash-safety code: strict option values
 * (src/input/cfgcheck.c), atomic saves that refuse non-finite weights
 * (src/train/safe_save.c) and the divergence guard (src/optim/guard.c).  Whatever
 * ends in exit(1) runs in a forked child. */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "darknet.h"
#include "ext.h"
#include "optim/guard.h"
#include "option_list.h"
#include "parser.h"
#include "helpers/scratch_dir.h"
#include "input/image_check.h"
#include "train/safe_save.h"

static network *small_net(void)
{
    const char *path = scratch_path("net.cfg");
    FILE *fp = fopen(path, "w");
    fprintf(fp, "[net]\nbatch=2\nheight=4\nwidth=4\nchannels=2\n"
                "[convolutional]\nbatch_normalize=1\nfilters=3\nsize=3\npad=1\nactivation=leaky\n"
                "[connected]\noutput=3\nactivation=linear\n[softmax]\n");
    fclose(fp);
    return parse_network_cfg((char *)path);
}

/* Runs fn(arg) in a child with stderr in a file; its exit status, or -1
 * when it did not exit. */
static int in_child(void (*fn)(void *), void *arg, char *err, size_t size)
{
    const char *log = scratch_path("child.err");
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(log, "w", stderr)) _exit(99);
        fn(arg);
        fflush(NULL);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    FILE *f = fopen(log, "r");
    size_t n = f ? fread(err, 1, size - 1, f) : 0;
    err[n] = '\0';
    if (f) fclose(f);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static int count_files(void)
{
    int n = 0;
    DIR *d = opendir(scratch_dir);
    struct dirent *e;
    while (d && (e = readdir(d))) n += e->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

/* ---- strict values ---------------------------------------------------------- */

static void read_int(void *value)
{
    list *options = make_list();
    ext_options_origin(options, "x.cfg", "[convolutional]", 3);
    option_insert(options, "filters", value);
    printf("%d\n", option_find_int(options, "filters", 1));
}

static void test_strict_int(void **state)
{
    char err[1024];
    assert_int_equal(in_child(read_int, "16", err, sizeof(err)), 0);
    assert_int_equal(in_child(read_int, "-0", err, sizeof(err)), 1);
    assert_non_null(strstr(err, "x.cfg: section 3 [convolutional]: filters=-0: must be at least 1"));
    assert_int_equal(in_child(read_int, "16x", err, sizeof(err)), 1);
    assert_non_null(strstr(err, "filters=16x: not a whole number"));
    assert_int_equal(in_child(read_int, "99999999999", err, sizeof(err)), 1);
    assert_non_null(strstr(err, "not a whole number"));
    assert_int_equal(in_child(read_int, "", err, sizeof(err)), 1);
}

static void test_after_comma(void **state)
{
    char s[] = "1,22,";
    char *p = ext_after_comma(s);
    assert_string_equal(p, "22,");
    p = ext_after_comma(p);
    assert_string_equal(p, "");
    p = ext_after_comma(p);
    assert_ptr_equal(p, s + strlen(s));
}

/* ---- atomic saves --------------------------------------------------------------- */

static void test_save_whole_and_alone(void **state)
{
    network *net = small_net();
    const char *w = scratch_path("a.weights");
    save_weights(net, (char *)w);
    long size = file_size(w);
    assert_true(size > 20);
    save_weights(net, (char *)w);
    assert_int_equal(file_size(w), size);
    /* net.cfg, a.weights, a.weights.state: no temporary file left */
    assert_int_equal(count_files(), 3);
    free_network(net);
}

static void save_nan(void *arg)
{
    network *net = arg;
    net->layers[1].weights[2] = NAN;
    save_weights(net, (char *)scratch_path("a.weights"));
}

static void test_save_refuses_nan(void **state)
{
    network *net = small_net();
    const char *w = scratch_path("a.weights");
    save_weights(net, (char *)w);
    FILE *f = fopen(w, "rb");
    char before[4096];
    size_t n = fread(before, 1, sizeof(before), f);
    fclose(f);
    char err[1024];
    assert_int_equal(in_child(save_nan, net, err, sizeof(err)), 1);
    assert_non_null(strstr(err, "layer 1 [connected] holds values that are not finite"));
    assert_non_null(strstr(err, "already there is kept"));
    char after[4096];
    f = fopen(w, "rb");
    assert_int_equal(fread(after, 1, sizeof(after), f), n);
    fclose(f);
    assert_memory_equal(before, after, n);
    assert_int_equal(count_files(), 4);   /* + child.err, no temporary file */
    assert_int_equal(safe_save_first_nonfinite(net, net->n), -1);
    free_network(net);
}

/* ---- the divergence guard -------------------------------------------------------- */

static void step_with_inf_output(void *arg)
{
    network *net = arg;
    net->layers[0].output[5] = INFINITY;
    net->layers[1].output[0] = NAN;
    *net->cost = NAN;
    guard_check_step(net);
}

static void step_with_nan_gradient(void *arg)
{
    network *net = arg;
    net->layers[1].weight_updates[0] = NAN;
    guard_check_step(net);
}

static void test_guard(void **state)
{
    network *net = small_net();
    *net->seen = 6 * net->batch;
    char err[1024];
    *net->cost = 1.5f;
    guard_check_step(net);   /* finite: nothing happens */
    assert_int_equal(in_child(step_with_inf_output, net, err, sizeof(err)), 1);
    assert_non_null(strstr(err, "training stopped at iteration 6: layer 0 [convolutional] "
                                "produced the first non-finite output"));
    assert_int_equal(in_child(step_with_nan_gradient, net, err, sizeof(err)), 1);
    assert_non_null(strstr(err, "layer 1 [connected] has non-finite gradients"));
    assert_non_null(strstr(err, "(try a lower learning_rate)"));
    free_network(net);
}

static network *net_from(const char *text)
{
    const char *path = scratch_path("guard.cfg");
    FILE *fp = fopen(path, "w");
    fputs(text, fp);
    fclose(fp);
    return parse_network_cfg((char *)path);
}

static void step_with_nan_loss(void *arg)
{
    network *net = arg;
    *net->cost = NAN;
    guard_check_step(net);
}

/* A non-finite loss that the network's shape explains says so, not "try a
 * lower learning_rate". */
static void test_guard_advice(void **state)
{
    char err[1024];
    network *net = net_from("[net]\nbatch=2\nheight=4\nwidth=4\nchannels=2\n"
                            "[convolutional]\nfilters=3\nsize=3\npad=1\n[avgpool]\n");
    assert_int_equal(in_child(step_with_nan_loss, net, err, sizeof(err)), 1);
    assert_non_null(strstr(err, "the network has no layer that computes a loss"));
    assert_null(strstr(err, "learning_rate"));
    free_network(net);
    net = net_from("[net]\nbatch=1\nheight=4\nwidth=4\nchannels=2\n"
                   "[convolutional]\nfilters=3\nsize=3\npad=1\n"
                   "[connected]\noutput=3\nbatch_normalize=1\n[softmax]\n");
    assert_int_equal(in_child(step_with_nan_loss, net, err, sizeof(err)), 1);
    assert_non_null(strstr(err, "layer 1 [connected] takes its batch-norm statistics over a single value"));
    assert_null(strstr(err, "learning_rate"));
    free_network(net);
}

/* ---- weights files read with a cutoff ------------------------------------------- */

static const char *cutoff_file;

static void load_first_layer(void *arg)
{
    network *net = arg;
    load_weights_upto(net, (char *)cutoff_file, 0, 1);
}

static void load_all_layers(void *arg)
{
    load_weights(arg, (char *)cutoff_file);
}

/* A cutoff reads the layers asked for out of a longer file: silently, as
 * upstream's `partial` always did; without one, the same file cut after
 * layer 0 loads one of three layers and says so. */
static void test_weights_cutoff(void **state)
{
    network *net = small_net();
    const char *w = scratch_path("c.weights");
    save_weights(net, (char *)w);
    cutoff_file = w;
    char err[1024];
    assert_int_equal(in_child(load_first_layer, net, err, sizeof(err)), 0);
    assert_null(strstr(err, "warning"));
    assert_null(strstr(err, "loaded"));
    /* [convolutional] 2->3, 3x3 with batch norm: 3*4 + 54 floats after 20 bytes */
    assert_int_equal(truncate(w, 20 + 66 * 4), 0);
    assert_int_equal(in_child(load_first_layer, net, err, sizeof(err)), 0);
    assert_null(strstr(err, "loaded"));
    assert_int_equal(in_child(load_all_layers, net, err, sizeof(err)), 0);
    assert_non_null(strstr(err, "loaded 1 of 3 layers from "));
    assert_non_null(strstr(err, "c.weights; the rest keep their initialisation"));
    free_network(net);
}

/* ---- image checks ------------------------------------------------------------------ */

static void test_image_check_jpeg(void **state)
{
    image im = make_image(64, 48, 3);
    for (int i = 0; i < im.w * im.h * 3; ++i) im.data[i] = (i % 97) / 97.f;
    char base[4096];
    snprintf(base, sizeof(base), "%s", scratch_path("a"));
    save_image_options(im, base, JPG, 90);   /* writes a.jpg */
    free_image(im);
    char path[4200];
    snprintf(path, sizeof(path), "%s.jpg", base);
    int w = 0, h = 0;
    image_issue kind;
    const char *why;
    assert_int_equal(image_check_file(path, &w, &h, &kind, &why), 0);
    assert_int_equal(w, 64);
    assert_int_equal(h, 48);
    image loaded;
    assert_int_equal(image_load_checked(path, &loaded), 0);
    assert_int_equal(loaded.w, 64);
    free_image(loaded);
    /* cut inside its scan data: no end-of-image marker */
    assert_int_equal(truncate(path, file_size(path) / 2), 0);
    assert_int_equal(image_check_file(path, &w, &h, &kind, &why), -1);
    assert_int_equal(kind, IMAGE_CUT_SHORT);
    assert_string_equal(why, "corrupt image (JPEG data ends early)");
    assert_int_equal(image_check_file(scratch_path("none.jpg"), &w, &h, &kind, &why), -1);
    assert_int_equal(kind, IMAGE_UNREADABLE);
    const char *empty = scratch_path("empty.png");
    fclose(fopen(empty, "w"));
    assert_int_equal(image_check_file(empty, &w, &h, &kind, &why), -1);
    assert_int_equal(kind, IMAGE_NOT_AN_IMAGE);
    assert_string_equal(why, "empty file");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strict_int),
        cmocka_unit_test(test_after_comma),
        cmocka_unit_test_setup_teardown(test_save_whole_and_alone, scratch_dir_make, scratch_dir_remove),
        cmocka_unit_test_setup_teardown(test_save_refuses_nan, scratch_dir_make, scratch_dir_remove),
        cmocka_unit_test_setup_teardown(test_guard, scratch_dir_make, scratch_dir_remove),
        cmocka_unit_test_setup_teardown(test_guard_advice, scratch_dir_make, scratch_dir_remove),
        cmocka_unit_test_setup_teardown(test_image_check_jpeg, scratch_dir_make, scratch_dir_remove),
        cmocka_unit_test_setup_teardown(test_weights_cutoff, scratch_dir_make, scratch_dir_remove),
    };
    return cmocka_run_group_tests(tests, scratch_dir_make, scratch_dir_remove);
}
