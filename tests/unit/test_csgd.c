/* Tests for optimizer=csgd (src/csgd.c, src/optim/optimizer.c): the noise it adds,
 * where it adds it, and that without noise it is sgd. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "csgd.h"
#include "darknet.h"
#include "ext.h"
#include "network.h"
#include "optim/optimizer.h"
#include "parser.h"

/* 4x4x64 input; a [convolutional] with batch norm (36864 weights), a
 * standalone [batchnorm], a [connected] (102400 weights): 139264 noisy
 * weights in all. */
static const char *const big_layers =
    "[convolutional]\nbatch_normalize=1\nfilters=64\nsize=3\nstride=1\npad=1\nactivation=leaky\n\n"
    "[batchnorm]\n\n"
    "[connected]\noutput=100\nactivation=linear\n\n"
    "[softmax]\n";

/* For training runs: upstream's standalone [batchnorm] cannot train on the
 * CPU (its forward pass writes to l.x, which only GPU builds allocate). */
static const char *const train_layers =
    "[convolutional]\nbatch_normalize=1\nfilters=64\nsize=3\nstride=1\npad=1\nactivation=leaky\n\n"
    "[connected]\noutput=100\nactivation=linear\n\n"
    "[softmax]\n";

static network *parse_cfg(const char *net_keys, const char *layers)
{
    char path[] = "/tmp/test_csgd_cfg_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *fp = fdopen(fd, "w");
    fprintf(fp, "[net]\nbatch=2\nsubdivisions=1\nheight=4\nwidth=4\nchannels=64\n%s\n\n%s", net_keys, layers);
    fclose(fp);
    network *net = parse_network_cfg(path);
    unlink(path);
    return net;
}

static float *copy_of(const float *x, int n)
{
    float *c = malloc(n * sizeof(float));
    memcpy(c, x, n * sizeof(float));
    return c;
}

/* The parameters one step must leave alone, copied before the step. */
typedef struct frozen {
    float *biases, *scales, *rolling_mean, *rolling_variance;
    int n;
} frozen;

static frozen freeze(const layer *l, int n)
{
    frozen f = {copy_of(l->biases, n), l->scales ? copy_of(l->scales, n) : NULL,
                l->rolling_mean ? copy_of(l->rolling_mean, n) : NULL,
                l->rolling_variance ? copy_of(l->rolling_variance, n) : NULL, n};
    return f;
}

static void assert_unchanged(const frozen *f, const layer *l)
{
    size_t bytes = f->n * sizeof(float);
    assert_memory_equal(f->biases, l->biases, bytes);
    if (f->scales) assert_memory_equal(f->scales, l->scales, bytes);
    if (f->rolling_mean) assert_memory_equal(f->rolling_mean, l->rolling_mean, bytes);
    if (f->rolling_variance) assert_memory_equal(f->rolling_variance, l->rolling_variance, bytes);
    free(f->biases);
    free(f->scales);
    free(f->rolling_mean);
    free(f->rolling_variance);
}

/* Moments of (after - before) over every noisy weight of the network. */
typedef struct moments {
    double sum, sum2;
    long n;
} moments;

static void add_moves(moments *m, const float *before, const float *after, int n, float scale)
{
    for (int i = 0; i < n; ++i) {
        double d = ((double)after[i] - before[i]) / scale;
        m->sum += d;
        m->sum2 += d * d;
    }
    m->n += n;
}

/* Mean 0 and standard deviation `stddev`, each within 4 standard errors
 * (sigma/sqrt(n) for the mean, about sigma/sqrt(2n) for the deviation). */
static void assert_gaussian_moves(const moments *m, double stddev)
{
    double mean = m->sum / m->n;
    double sd = sqrt(m->sum2 / m->n - mean * mean);
    print_message("moves of %ld weights: mean %.3g, sd %.6g (expected 0, %.6g)\n", m->n, mean, sd, stddev);
    assert_true(m->n >= 100000);
    assert_true(fabs(mean) < 4 * stddev / sqrt((double)m->n));
    assert_true(fabs(sd - stddev) < 4 * stddev / sqrt(2.0 * m->n));
}

/* One update_network() step; the moves of the noisy weights, divided by
 * `scale`, go into *m, and everything else is checked to stay put. */
static void step_and_measure(network *net, moments *m, float scale)
{
    float *before[16] = {0};
    frozen kept[16];
    for (int i = 0; i < net->n; ++i) {
        layer *l = &net->layers[i];
        param_counts c = layer_param_counts(l);
        if (csgd_noisy_weights(l)) before[i] = copy_of(l->weights, csgd_noisy_weights(l));
        if (c.biases) kept[i] = freeze(l, c.biases);
    }
    update_network(net);
    for (int i = 0; i < net->n; ++i) {
        layer *l = &net->layers[i];
        if (before[i]) add_moves(m, before[i], l->weights, csgd_noisy_weights(l), scale);
        if (layer_param_counts(l).biases) assert_unchanged(&kept[i], l);
        free(before[i]);
    }
}

static void weight_noise_has_sigma_as_standard_deviation(void **state)
{
    const float sigma = 0.01f;
    network *net = parse_cfg("learning_rate=0\nmomentum=0.9\ndecay=0.0005\n"
                             "optimizer=csgd\nsigma=0.01\nseed=1", big_layers);
    /* learning_rate=0: the SGD part moves nothing, so every move is noise */
    moments m = {0, 0, 0};
    step_and_measure(net, &m, 1.0f);
    assert_int_equal(m.n, 36864 + 102400);
    assert_gaussian_moves(&m, sigma);
    free_network(net);
}

static void weight_noise_is_not_scaled_by_learning_rate(void **state)
{
    /* momentum 0, decay 0 and no gradient: the SGD part moves nothing even
     * at a large rate, and the noise keeps its size */
    network *net = parse_cfg("learning_rate=10\nmomentum=0\ndecay=0\n"
                             "optimizer=csgd\nsigma=0.01\nseed=2", big_layers);
    moments m = {0, 0, 0};
    step_and_measure(net, &m, 1.0f);
    assert_gaussian_moves(&m, 0.01);
    free_network(net);
}

static void gradient_noise_decays_with_t(void **state)
{
    /* With no gradient, momentum 0 and decay 0, a step moves w by
     * lr * N(0, sigma_t^2), sigma_t^2 = sigma^2 / (1 + t)^gamma, t counting
     * the steps before this one. */
    const float sigma = 0.01f, gamma = 0.55f, lr = 0.5f;
    network *net = parse_cfg("learning_rate=0.5\nmomentum=0\ndecay=0\noptimizer=csgd\n"
                             "noise=gradient\nsigma=0.01\nnoise_gamma=0.55\nseed=3", big_layers);
    moments first = {0, 0, 0};
    step_and_measure(net, &first, lr);          /* t = 0 */
    assert_gaussian_moves(&first, sigma);

    *net->t = 99;                                /* the next step has 99 before it */
    moments later = {0, 0, 0};
    step_and_measure(net, &later, lr);
    double expected = sqrt(sigma * sigma / pow(100.0, gamma));   /* 0.0028184 */
    assert_gaussian_moves(&later, expected);
    assert_true(fabs(expected - 0.0028184) < 1e-6);
    free_network(net);
}

static void gradient_noise_is_scaled_by_learning_rate(void **state)
{
    network *net = parse_cfg("learning_rate=0\nmomentum=0\ndecay=0\noptimizer=csgd\n"
                             "noise=gradient\nsigma=0.01\nseed=4", big_layers);
    layer *conv = &net->layers[0];
    float *before = copy_of(conv->weights, conv->nweights);
    update_network(net);
    assert_memory_equal(before, conv->weights, conv->nweights * sizeof(float));
    free(before);
    free_network(net);
}

static void gradient_sigma_formula(void **state)
{
    assert_true(fabsf(csgd_gradient_sigma(0.1f, 0.55f, 0) - 0.1f) < 1e-7f);
    /* (1+3)^0.55 = 4^0.55 = 2.1435; 0.01 / 2.1435 = 0.0046652; sqrt = 0.068302 */
    assert_true(fabsf(csgd_gradient_sigma(0.1f, 0.55f, 3) - 0.068302f) < 1e-5f);
    assert_true(csgd_gradient_sigma(0, 0.55f, 10) == 0);
}

/* Random inputs and one-hot truths for a net of 4x4x64 inputs, 100 classes. */
static data random_data(int rows, uint64_t seed)
{
    data d = {0};
    d.X = make_matrix(rows, 4 * 4 * 64);
    d.y = make_matrix(rows, 100);
    rng r;
    rng_seed(&r, seed, 0);
    for (int i = 0; i < rows; ++i) {
        for (int j = 0; j < d.X.cols; ++j) d.X.vals[i][j] = rng_normal(&r);
        d.y.vals[i][rng_below(&r, 100)] = 1;
    }
    return d;
}

static void assert_same_weights(network *a, network *b, int expect_same)
{
    int all_same = 1;
    for (int i = 0; i < a->n; ++i) {
        layer *la = &a->layers[i], *lb = &b->layers[i];
        param_counts c = layer_param_counts(la);
        if (c.weights) all_same &= !memcmp(la->weights, lb->weights, c.weights * sizeof(float));
        if (c.biases) all_same &= !memcmp(la->biases, lb->biases, c.biases * sizeof(float));
        if (c.scales) all_same &= !memcmp(la->scales, lb->scales, c.scales * sizeof(float));
    }
    assert_int_equal(all_same, expect_same);
}

static void train_both(network *a, network *b, int steps)
{
    for (int s = 0; s < steps; ++s) {
        data d = random_data(2, 100 + s);
        train_network(a, d);
        train_network(b, d);
        free_data(d);
    }
}

static void csgd_without_noise_is_sgd_bit_for_bit(void **state)
{
    const char *common = "learning_rate=0.01\nmomentum=0.9\ndecay=0.0005\nseed=5\n";
    char sgd_keys[256], csgd_keys[256];
    snprintf(sgd_keys, sizeof(sgd_keys), "%soptimizer=sgd", common);
    snprintf(csgd_keys, sizeof(csgd_keys), "%soptimizer=csgd\nsigma=0", common);
    network *sgd = parse_cfg(sgd_keys, train_layers);
    network *csgd = parse_cfg(csgd_keys, train_layers);
    assert_same_weights(sgd, csgd, 1);          /* same seed, same init */
    train_both(sgd, csgd, 5);
    assert_same_weights(sgd, csgd, 1);
    free_network(sgd);
    free_network(csgd);
}

static void csgd_with_noise_is_not_sgd(void **state)
{
    network *sgd = parse_cfg("learning_rate=0.01\nseed=5\noptimizer=sgd", train_layers);
    network *csgd = parse_cfg("learning_rate=0.01\nseed=5\noptimizer=csgd", train_layers);
    train_both(sgd, csgd, 1);
    assert_same_weights(sgd, csgd, 0);
    free_network(sgd);
    free_network(csgd);
}

static void same_seed_same_noise(void **state)
{
    const char *keys = "learning_rate=0.01\noptimizer=csgd\nsigma=0.001\nseed=9";
    network *a = parse_cfg(keys, train_layers);
    network *b = parse_cfg(keys, train_layers);
    train_both(a, b, 3);
    assert_same_weights(a, b, 1);
    free_network(a);
    free_network(b);
}

static void gcconv_weights_get_noise_but_not_biases(void **state)
{
    if (!ext_find_layer("[gcconv]")) skip();   /* the layer is not built in yet */
    network *net = parse_cfg("learning_rate=0\nmomentum=0\ndecay=0\noptimizer=csgd\nsigma=0.01\nseed=6",
                             "[gcconv]\nbatch_normalize=1\nfilters=64\nsize=3\nstride=1\npad=1\n"
                             "branches=4\nactivation=leaky\n\n"
                             "[connected]\noutput=100\nactivation=linear\n\n[softmax]\n");
    layer *g = &net->layers[0];
    assert_true(csgd_noisy_weights(g) > 0);
    moments m = {0, 0, 0};
    step_and_measure(net, &m, 1.0f);
    assert_gaussian_moves(&m, 0.01);
    free_network(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(weight_noise_has_sigma_as_standard_deviation),
        cmocka_unit_test(weight_noise_is_not_scaled_by_learning_rate),
        cmocka_unit_test(gradient_noise_decays_with_t),
        cmocka_unit_test(gradient_noise_is_scaled_by_learning_rate),
        cmocka_unit_test(gradient_sigma_formula),
        cmocka_unit_test(csgd_without_noise_is_sgd_bit_for_bit),
        cmocka_unit_test(csgd_with_noise_is_not_sgd),
        cmocka_unit_test(same_seed_same_noise),
        cmocka_unit_test(gcconv_weights_get_noise_but_not_biases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
