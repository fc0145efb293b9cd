/* Tests for the seeded generator (src/rand/rng.c). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rand/rng.h"

static void same_seed_same_sequence(void **state)
{
    rng a, b;
    rng_seed(&a, 42, 0);
    rng_seed(&b, 42, 0);
    for (int i = 0; i < 1000; ++i) assert_int_equal(rng_next(&a), rng_next(&b));
}

static void streams_differ(void **state)
{
    rng a, b;
    rng_seed(&a, 42, 0);
    rng_seed(&b, 42, 1);
    int equal = 0;
    for (int i = 0; i < 1000; ++i) equal += rng_next(&a) == rng_next(&b);
    assert_int_equal(equal, 0);
}

static void uniform_in_range_with_right_mean(void **state)
{
    rng r;
    rng_seed(&r, 7, 3);
    const int n = 200000;
    double sum = 0;
    for (int i = 0; i < n; ++i) {
        float u = rng_uniform(&r);
        assert_true(u >= 0.0f && u < 1.0f);
        sum += u;
    }
    /* mean 1/2, standard error sqrt(1/12/n) */
    assert_true(fabs(sum / n - 0.5) < 4 * sqrt(1.0 / 12 / n));
}

static void normal_has_unit_moments(void **state)
{
    rng r;
    rng_seed(&r, 11, 2);
    const int n = 200000;
    double sum = 0, sum2 = 0, sum4 = 0;
    for (int i = 0; i < n; ++i) {
        double x = rng_normal(&r);
        sum += x;
        sum2 += x * x;
        sum4 += x * x * x * x;
    }
    double mean = sum / n, var = sum2 / n - mean * mean;
    assert_true(fabs(mean) < 4 / sqrt(n));
    assert_true(fabs(var - 1) < 4 * sqrt(2.0 / n));
    assert_true(fabs(sum4 / n - 3) < 4 * sqrt(96.0 / n));   /* kurtosis of a Gaussian */
}

static void below_is_unbiased(void **state)
{
    rng r;
    rng_seed(&r, 5, 0);
    int counts[3] = {0};
    const int n = 300000;
    for (int i = 0; i < n; ++i) {
        uint32_t v = rng_below(&r, 3);
        assert_true(v < 3);
        counts[v]++;
    }
    for (int k = 0; k < 3; ++k) assert_true(fabs(counts[k] - n / 3.0) < 4 * sqrt(n * (1 / 3.0) * (2 / 3.0)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_seed_same_sequence),
        cmocka_unit_test(streams_differ),
        cmocka_unit_test(uniform_in_range_with_right_mean),
        cmocka_unit_test(normal_has_unit_moments),
        cmocka_unit_test(below_is_unbiased),
    };
    return cmocka_run_group_tests_name("rng", tests, NULL, NULL);
}
