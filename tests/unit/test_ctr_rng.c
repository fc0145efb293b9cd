/* Tests for the counter-based generator (src/rand/ctr_rng.h) and csgd's use of
 * it on the GPU path (csgd_noise_key, csgd_ctr_normal).  The kernels compile
 * the same header, so what is checked here is what the GPU draws; tests/gpu
 * checks the kernel's numbers against these on a GPU. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "csgd.h"
#include "rand/ctr_rng.h"
#include "optim/optimizer.h"

/* The known-answer vectors published with Philox4x32-10 (Random123's
 * kat_vectors): counter, key (low word first), result. */
static void philox_known_answers(void **state)
{
    static const uint32_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
         0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0,
         0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
    };
    for (int t = 0; t < 3; ++t) {
        uint32_t c[4] = {kat[t][0], kat[t][1], kat[t][2], kat[t][3]};
        ctr_philox(c, (uint64_t)kat[t][5] << 32 | kat[t][4]);
        for (int i = 0; i < 4; ++i) assert_int_equal(c[i], kat[t][6 + i]);
    }
}

/* The Box-Muller step, written out once more from its definition. */
static void normal_is_box_muller_of_the_block(void **state)
{
    uint64_t key = 0xfeedfacecafebeefULL;
    for (uint32_t i = 0; i < 1000; ++i) {
        uint32_t c[4] = {i, 5, 77, 1};
        ctr_philox(c, key);
        double u1 = ((c[0] >> 8) + 1) / 16777216.0, u2 = (c[1] >> 8) / 16777216.0;
        double want = sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
        float got = ctr_normal(key, i, 5, 77, 1);
        assert_true(fabs(got - want) < 1e-5 * (1 + fabs(want)));
        assert_true(got == ctr_normal(key, i, 5, 77, 1));   /* a pure function */
    }
}

typedef struct stats {
    double mean, var, skew, kurt, beyond2;
} stats;

static stats stats_of(uint64_t key, uint32_t a, uint32_t b, uint32_t c, int n)
{
    double s1 = 0, s2 = 0, s3 = 0, s4 = 0, out = 0;
    for (int i = 0; i < n; ++i) {
        double z = ctr_normal(key, (uint32_t)i, a, b, c);
        s1 += z;
        s2 += z * z;
        s3 += z * z * z;
        s4 += z * z * z * z;
        out += fabs(z) > 2;
    }
    stats st;
    st.mean = s1 / n;
    st.var = s2 / n - st.mean * st.mean;
    st.skew = s3 / n / pow(st.var, 1.5);
    st.kurt = s4 / n / (st.var * st.var);
    st.beyond2 = out / n;
    return st;
}

static void normal_statistics(void **state)
{
    const int n = 1 << 20;
    stats st = stats_of(0x1234ULL, 0, 1, CSGD_TAG_WEIGHT, n);
    assert_true(fabs(st.mean) < 5 / sqrt(n));
    assert_true(fabs(st.var - 1) < 0.01);
    assert_true(fabs(st.skew) < 0.02);
    assert_true(fabs(st.kurt - 3) < 0.05);
    assert_true(fabs(st.beyond2 - 0.0455) < 0.002);
}

/* Neighbouring steps, layers and modes draw uncorrelated sequences. */
static void counters_give_uncorrelated_sequences(void **state)
{
    const int n = 1 << 18;
    uint64_t key = 99;
    uint32_t other[3][3] = {{1, 8, 1}, {2, 7, 1}, {1, 7, 2}};
    for (int o = 0; o < 3; ++o) {
        double dot = 0;
        for (int i = 0; i < n; ++i)
            dot += (double)ctr_normal(key, i, 1, 7, 1) * ctr_normal(key, i, other[o][0], other[o][1], other[o][2]);
        assert_true(fabs(dot / n) < 5 / sqrt(n));
    }
}

static void noise_key_follows_the_seed(void **state)
{
    net_ext a = {0}, b = {0}, c = {0};
    a.seed = b.seed = 1;
    c.seed = 2;
    assert_true(csgd_noise_key(a.seed) == csgd_noise_key(b.seed));
    assert_true(csgd_noise_key(a.seed) != csgd_noise_key(c.seed));
    uint64_t key = csgd_noise_key(a.seed);
    /* the twin's argument layout: (element, layer, step, mode) */
    for (int i = 0; i < 100; ++i) {
        assert_true(csgd_ctr_normal(key, i, 3, 12, CSGD_TAG_GRADIENT) == ctr_normal(key, i, 3, 12, CSGD_TAG_GRADIENT));
        assert_true(csgd_ctr_normal(key, i, 3, 12, CSGD_TAG_WEIGHT) != csgd_ctr_normal(key, i, 3, 12, CSGD_TAG_GRADIENT));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(philox_known_answers),
        cmocka_unit_test(normal_is_box_muller_of_the_block),
        cmocka_unit_test(normal_statistics),
        cmocka_unit_test(counters_give_uncorrelated_sequences),
        cmocka_unit_test(noise_key_follows_the_seed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
