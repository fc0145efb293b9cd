/* Tests for the training-state file beside saved weights (src/train/train_state.c):
 * what it restores, when it is ignored, when it is an error. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "darknet.h"
#include "network.h"
#include "optim/optimizer.h"
#include "parser.h"
#include "helpers/scratch_dir.h"
#include "train/train_state.h"

static network *parse_cfg(const char *net_keys, int outputs)
{
    const char *path = scratch_path("net.cfg");
    FILE *fp = fopen(path, "w");
    fprintf(fp, "[net]\nbatch=2\nsubdivisions=1\nheight=4\nwidth=4\nchannels=8\n"
                "learning_rate=0.01\nmomentum=0.9\ndecay=0.0005\n%s\n\n"
                "[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=leaky\n\n"
                "[connected]\noutput=%d\nactivation=linear\n\n[softmax]\n",
            net_keys, outputs);
    fclose(fp);
    return parse_network_cfg((char *)path);
}

static data random_data(uint64_t seed)
{
    data d = {0};
    d.X = make_matrix(2, 4 * 4 * 8);
    d.y = make_matrix(2, 10);
    rng r;
    rng_seed(&r, seed, 0);
    for (int i = 0; i < 2; ++i) {
        for (int j = 0; j < d.X.cols; ++j) d.X.vals[i][j] = rng_normal(&r);
        d.y.vals[i][rng_below(&r, 10)] = 1;
    }
    return d;
}

static void train_steps(network *net, int first, int count)
{
    for (int s = first; s < first + count; ++s) {
        data d = random_data(1000 + s);
        train_network(net, d);
        free_data(d);
    }
}

static int file_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static void assert_same_buffer(const float *a, const float *b, int n)
{
    assert_true((a == NULL) == (b == NULL));
    if (a) assert_memory_equal(a, b, n * sizeof(float));
}

static void assert_same_state(network *a, network *b)
{
    assert_int_equal(*a->t, *b->t);
    assert_int_equal(*a->seen, *b->seen);
    net_ext *xa = a->ext, *xb = b->ext;
    assert_memory_equal(xa->streams, xb->streams, sizeof(xa->streams));
    for (int i = 0; i < a->n; ++i) {
        layer *la = &a->layers[i], *lb = &b->layers[i];
        param_counts c = layer_param_counts(la);
        assert_same_buffer(la->weights, lb->weights, c.weights);
        assert_same_buffer(la->weight_updates, lb->weight_updates, c.weights);
        assert_same_buffer(la->bias_updates, lb->bias_updates, c.biases);
        assert_same_buffer(c.scales ? la->scale_updates : NULL, c.scales ? lb->scale_updates : NULL, c.scales);
        assert_same_buffer(la->m, lb->m, c.weights);
        assert_same_buffer(la->v, lb->v, c.weights);
        assert_same_buffer(la->bias_m, lb->bias_m, c.biases);
        assert_same_buffer(la->bias_v, lb->bias_v, c.biases);
    }
}

static void resumes_exactly(const char *keys)
{
    network *a = parse_cfg(keys, 10);
    train_steps(a, 0, 3);
    save_weights(a, (char *)scratch_path("a.weights"));
    network *b = parse_cfg(keys, 10);
    load_weights(b, (char *)scratch_path("a.weights"));
    assert_int_equal(*b->t, 3);
    assert_same_state(a, b);
    train_steps(a, 3, 2);
    train_steps(b, 3, 2);
    assert_same_state(a, b);
    free_network(a);
    free_network(b);
}

static void csgd_state_round_trip(void **state)
{
    resumes_exactly("optimizer=csgd\nsigma=0.001\nseed=11");
}

static void adam_state_round_trip(void **state)
{
    resumes_exactly("optimizer=adam\nseed=12");
}

static void unseeded_state_round_trip(void **state)
{
    resumes_exactly("optimizer=csgd\nnoise=gradient");
}

static void state_written_atomically_beside_weights(void **state)
{
    network *a = parse_cfg("seed=1", 10);
    train_steps(a, 0, 1);
    save_weights(a, (char *)scratch_path("w.weights"));
    save_weights(a, (char *)scratch_path("w.weights"));   /* replaces it */
    assert_true(file_exists(scratch_path("w.weights.state")));
    /* no temporary file stays behind */
    int entries = 0;
    DIR *d = opendir(scratch_dir);
    struct dirent *e;
    while ((e = readdir(d))) entries += strncmp(e->d_name, "w.weights", 9) == 0;
    closedir(d);
    assert_int_equal(entries, 2);
    free_network(a);
}

static void partial_save_drops_old_state(void **state)
{
    network *a = parse_cfg("seed=1", 10);
    save_weights(a, (char *)scratch_path("p.weights"));
    assert_true(file_exists(scratch_path("p.weights.state")));
    save_weights_upto(a, (char *)scratch_path("p.weights"), 1);
    assert_false(file_exists(scratch_path("p.weights.state")));
    free_network(a);
}

static void stale_state_is_ignored(void **state)
{
    network *a = parse_cfg("seed=2", 10);
    train_steps(a, 0, 2);
    save_weights(a, (char *)scratch_path("s.weights"));
    rename(scratch_path("s.weights.state"), scratch_path("old.state"));
    train_steps(a, 2, 1);
    save_weights(a, (char *)scratch_path("s.weights"));
    rename(scratch_path("old.state"), scratch_path("s.weights.state"));   /* seen no longer matches */
    network *b = parse_cfg("seed=2", 10);
    load_weights(b, (char *)scratch_path("s.weights"));
    assert_int_equal(*b->t, 0);
    for (int i = 0; i < b->layers[1].inputs * b->layers[1].outputs; ++i) {
        assert_true(b->layers[1].weight_updates[i] == 0);
    }
    free_network(a);
    free_network(b);
}

/* Loads `weights` `times` times into a network with `outputs` outputs, in a
 * child process; returns its exit status, its stderr in err. */
static int load_in_child(const char *weights, int outputs, int times, char *err, size_t err_size)
{
    const char *err_path = scratch_path("stderr.txt");
    network *b = parse_cfg("seed=3", outputs);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(err_path, "w", stderr)) _exit(99);
        for (int i = 0; i < times; ++i) load_weights(b, (char *)weights);
        fflush(NULL);   /* _exit() does not flush, and a file stream is buffered */
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    free_network(b);
    FILE *fp = fopen(err_path, "r");
    size_t n = fp ? fread(err, 1, err_size - 1, fp) : 0;
    err[n] = 0;
    if (fp) fclose(fp);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void truncated_state_is_an_error(void **state)
{
    network *a = parse_cfg("seed=3", 10);
    train_steps(a, 0, 1);
    save_weights(a, (char *)scratch_path("t.weights"));
    const char *state_path = scratch_path("t.weights.state");
    FILE *fp = fopen(state_path, "rb");
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fclose(fp);
    assert_int_equal(truncate(state_path, size - 10), 0);
    char err[4096];
    assert_int_equal(load_in_child(scratch_path("t.weights"), 10, 1, err, sizeof(err)), 1);
    assert_non_null(strstr(err, "t.weights.state"));
    assert_non_null(strstr(err, "file ends early at byte offset"));
    free_network(a);
}

static void state_of_another_cfg_is_an_error(void **state)
{
    network *a = parse_cfg("seed=4", 10);
    save_weights(a, (char *)scratch_path("o.weights"));
    char err[4096];
    assert_int_equal(load_in_child(scratch_path("o.weights"), 12, 1, err, sizeof(err)), 1);
    assert_non_null(strstr(err, "layer 1: weight_updates has 1280 values, the cfg 1536"));
    free_network(a);
}

static void missing_state_is_said_once(void **state)
{
    network *a = parse_cfg("seed=5", 10);
    save_weights(a, (char *)scratch_path("m.weights"));
    unlink(scratch_path("m.weights.state"));
    char err[4096];
    assert_int_equal(load_in_child(scratch_path("m.weights"), 10, 2, err, sizeof(err)), 0);
    char *note = strstr(err, "m.weights.state: momentum, Adam moments, step count and generators start afresh");
    assert_non_null(note);
    char *first_end = strstr(note, "start afresh") + strlen("start afresh");
    assert_null(strstr(first_end, "start afresh"));   /* two loads, one note */
    free_network(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(csgd_state_round_trip),
        cmocka_unit_test(adam_state_round_trip),
        cmocka_unit_test(unseeded_state_round_trip),
        cmocka_unit_test(state_written_atomically_beside_weights),
        cmocka_unit_test(partial_save_drops_old_state),
        cmocka_unit_test(stale_state_is_ignored),
        cmocka_unit_test(truncated_state_is_an_error),
        cmocka_unit_test(state_of_another_cfg_is_an_error),
        cmocka_unit_test(missing_state_is_said_once),
    };
    return cmocka_run_group_tests(tests, scratch_dir_make, scratch_dir_remove);
}
