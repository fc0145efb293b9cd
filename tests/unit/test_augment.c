/* Tests for the pad-and-crop augmentation (src/classify/augment.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "classify/augment.h"
#include "ext.h"

/* A 5 x 3 image with 2 channels: pixel (c, y, x) holds 100 c + 10 y + x + 1,
 * so no pixel is 0, the padding's value. */
static image numbered_image(void)
{
    image im = make_image(5, 3, 2);
    for (int c = 0; c < 2; ++c)
        for (int y = 0; y < 3; ++y)
            for (int x = 0; x < 5; ++x) im.data[(c * 3 + y) * 5 + x] = 100 * c + 10 * y + x + 1;
    return im;
}

/* Written out by hand: pad 2, window 4 x 4 at (3, 1) of the 9 x 7 padded
 * image.  Window column x is image column x + 3 - 2 = x + 1, row y is image
 * row y - 1; image columns 1..4 exist, image row -1 does not. */
static void window_by_hand(void **state)
{
    image im = numbered_image();
    image out = augment_pad_crop(im, 2, 4, 3, 1);
    const float want[2][4][4] = {
        {{0, 0, 0, 0}, {2, 3, 4, 5}, {12, 13, 14, 15}, {22, 23, 24, 25}},
        {{0, 0, 0, 0}, {102, 103, 104, 105}, {112, 113, 114, 115}, {122, 123, 124, 125}},
    };
    assert_int_equal(out.w, 4);
    assert_int_equal(out.h, 4);
    assert_int_equal(out.c, 2);
    for (int c = 0; c < 2; ++c)
        for (int y = 0; y < 4; ++y)
            for (int x = 0; x < 4; ++x) assert_true(out.data[(c * 4 + y) * 4 + x] == want[c][y][x]);
    free_image(out);
    free_image(im);
}

/* Every offset of a 3 x 3 window with pad 1: each pixel is the padded
 * image's (zero outside the original). */
static void every_offset_matches_padded_image(void **state)
{
    image im = numbered_image();
    for (int dy = 0; dy <= 3 + 2 - 3; ++dy) {
        for (int dx = 0; dx <= 5 + 2 - 3; ++dx) {
            image out = augment_pad_crop(im, 1, 3, dx, dy);
            for (int c = 0; c < 2; ++c)
                for (int y = 0; y < 3; ++y)
                    for (int x = 0; x < 3; ++x) {
                        int sx = x + dx - 1, sy = y + dy - 1;
                        float want = (sx < 0 || sy < 0 || sx >= 5 || sy >= 3) ? 0 : 100 * c + 10 * sy + sx + 1;
                        assert_true(out.data[(c * 3 + y) * 3 + x] == want);
                    }
            free_image(out);
        }
    }
    free_image(im);
}

/* The hook with pad_crop=2 on a 4 x 4 image and a 4 x 4 network: each
 * result is one of the 25 windows, and all 25 come up in 1000 draws. */
static void hook_draws_every_window(void **state)
{
    image im = make_image(4, 4, 1);
    for (int i = 0; i < 16; ++i) im.data[i] = i + 1;
    int seen[25] = {0};
    augment_set_pad_crop(2);
    for (int draw = 0; draw < 1000; ++draw) {
        image out = ext_augment_crop(im, 0, 1, 4, 4, 4);
        int found = -1;
        for (int k = 0; k < 25 && found < 0; ++k) {
            image w = augment_pad_crop(im, 2, 4, k % 5, k / 5);
            if (!memcmp(w.data, out.data, 16 * sizeof(float))) found = k;
            free_image(w);
        }
        assert_true(found >= 0);
        seen[found] = 1;
        free_image(out);
    }
    augment_set_pad_crop(0);
    for (int k = 0; k < 25; ++k) assert_int_equal(seen[k], 1);
    free_image(im);
}

/* An image of another size is resized to the network's first: a constant
 * 8 x 8 image stays constant inside the window. */
static void other_size_resized_first(void **state)
{
    image im = make_image(8, 8, 3);
    for (int i = 0; i < 8 * 8 * 3; ++i) im.data[i] = 0.5f;
    augment_set_pad_crop(1);
    image out = ext_augment_crop(im, 0, 1, 4, 4, 4);
    augment_set_pad_crop(0);
    assert_int_equal(out.w, 4);
    assert_int_equal(out.h, 4);
    int half = 0, zero = 0;
    for (int i = 0; i < 4 * 4 * 3; ++i) {
        if (out.data[i] == 0.5f) half++;
        else if (out.data[i] == 0) zero++;
    }
    assert_int_equal(half + zero, 48);
    assert_true(half >= 3 * 3 * 3);
    free_image(out);
    free_image(im);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(window_by_hand),
        cmocka_unit_test(every_offset_matches_padded_image),
        cmocka_unit_test(hook_draws_every_window),
        cmocka_unit_test(other_size_resized_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
