/* Tests for the CPU update path of src/optim/optimizer.c: Adam on upstream's
 * [convolutional], [connected] and [batchnorm] layers, checked against
 * numbers worked out by hand from the Adam formula. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "batchnorm_layer.h"
#include "connected_layer.h"
#include "convolutional_layer.h"
#include "darknet.h"
#include "network.h"
#include "optim/optimizer.h"

/* Adam with lr 0.1, B1 0.9, B2 0.999, eps 1e-7, batch 1:
 *   m = B1 m + (1-B1) g,  v = B2 v + (1-B2) g^2
 *   w += lr * (m / (1-B1^t)) / (sqrt(v / (1-B2^t)) + eps)
 * where g is darknet's update (minus the gradient) less decay*batch*w. */
static network *adam_net(float decay)
{
    network *net = make_network(3);
    net->layers[0] = make_connected_layer(1, 2, 1, LINEAR, 0, 1);
    net->layers[1] = make_convolutional_layer(1, 1, 1, 1, 1, 1, 1, 1, 0, LINEAR, 0, 0, 0, 1);
    net->layers[2] = make_batchnorm_layer(1, 1, 1, 1);
    /* the parser sets each layer's rate scale (its learning_rate key, default 1) */
    for (int i = 0; i < 3; ++i) net->layers[i].learning_rate_scale = 1;
    net->batch = 1;
    net->subdivisions = 1;
    net->learning_rate = 0.1f;
    net->policy = CONSTANT;
    net->momentum = 0.9f;
    net->decay = decay;
    net->adam = 1;
    net->B1 = 0.9f;
    net->B2 = 0.999f;
    net->eps = 1e-7f;
    return net;
}

/* Sets one trainable value and its update in every layer. */
static void set_all(network *net, float value, float update)
{
    for (int i = 0; i < 2; ++i) {
        net->layers[i].weights[0] = value;
        net->layers[i].weight_updates[0] = update;
    }
    net->layers[2].scales[0] = value;
    net->layers[2].scale_updates[0] = update;
}

static void assert_all(network *net, float expected)
{
    for (int i = 0; i < 2; ++i) {
        assert_float_equal(net->layers[i].weights[0], expected, 1e-6);
        assert_float_equal(net->layers[i].weight_updates[0], 0, 0);   /* consumed */
    }
    assert_float_equal(net->layers[2].scales[0], expected, 1e-6);
}

static void adam_two_steps_by_hand(void **state)
{
    network *net = adam_net(0);
    /* t=1, g=0.5: m=0.05, v=0.00025; mhat=0.05/0.1=0.5, vhat=0.00025/0.001=0.25;
     * step = 0.1*0.5/(0.5+1e-7) = 0.09999998; w = 1 + 0.09999998 */
    set_all(net, 1.0f, 0.5f);
    update_network(net);
    assert_int_equal(*net->t, 1);
    assert_all(net, 1.09999998f);

    /* t=2, g=-0.25: m=0.9*0.05-0.1*0.25=0.02; v=0.999*0.00025+0.001*0.0625=0.00031225;
     * mhat=0.02/(1-0.81)=0.1052632; vhat=0.00031225/(1-0.998001)=0.1562031;
     * sqrt(vhat)=0.3952254; step=0.1*0.1052632/0.3952255=0.0266337 */
    for (int i = 0; i < 2; ++i) net->layers[i].weight_updates[0] = -0.25f;
    net->layers[2].scale_updates[0] = -0.25f;
    update_network(net);
    assert_all(net, 1.09999998f + 0.0266337f);
    free_network(net);
}

static void adam_decays_weights_not_biases(void **state)
{
    network *net = adam_net(0.05f);
    /* weights: g = 0 - 0.05*1*2 = -0.1; m=-0.01, v=0.00001; mhat=-0.1, vhat=0.01;
     * step = 0.1*(-0.1)/(0.1+1e-7) = -0.0999999; w = 1.9000001.
     * A bias or BN scale with no update has g = 0 and stays. */
    set_all(net, 2.0f, 0.0f);
    net->layers[0].biases[0] = 2.0f;
    net->layers[1].biases[0] = 2.0f;
    update_network(net);
    assert_float_equal(net->layers[0].weights[0], 1.9000001f, 1e-6);
    assert_float_equal(net->layers[1].weights[0], 1.9000001f, 1e-6);
    assert_float_equal(net->layers[0].biases[0], 2.0f, 0);
    assert_float_equal(net->layers[1].biases[0], 2.0f, 0);
    assert_float_equal(net->layers[2].scales[0], 2.0f, 0);
    free_network(net);
}

static void adam_moves_biases(void **state)
{
    network *net = adam_net(0);
    /* same numbers as the first step above, on the biases */
    for (int i = 0; i < 3; ++i) {
        net->layers[i].biases[0] = 1.0f;
        net->layers[i].bias_updates[0] = 0.5f;
    }
    update_network(net);
    for (int i = 0; i < 3; ++i) assert_float_equal(net->layers[i].biases[0], 1.09999998f, 1e-6);
    free_network(net);
}

static void sgd_step_by_hand(void **state)
{
    /* SGD, lr 0.1, momentum 0.9, decay 0.05, batch 1, w=2, update 0.5:
     * update += -0.05*1*2 -> 0.4; w += 0.1/1*0.4 -> 2.04; update *= 0.9 -> 0.36 */
    network *net = adam_net(0.05f);
    net->adam = 0;
    net->layers[0].weights[0] = 2.0f;
    net->layers[0].weight_updates[0] = 0.5f;
    update_network(net);
    assert_float_equal(net->layers[0].weights[0], 2.04f, 1e-6);
    assert_float_equal(net->layers[0].weight_updates[0], 0.36f, 1e-6);
    free_network(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(adam_two_steps_by_hand),
        cmocka_unit_test(adam_decays_weights_not_biases),
        cmocka_unit_test(adam_moves_biases),
        cmocka_unit_test(sgd_step_by_hand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
