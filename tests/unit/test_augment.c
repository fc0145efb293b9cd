/* Tests for the pad-and-crop augmentation (src/classify/augment.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "classify/augment.h"
#include "ext.h"
#include "image.h"

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

/* An image of 8-bit values, as the loader decodes them (zeros included). */
static image byte_image(int w, int h, int c)
{
    image im = make_image(w, h, c);
    for (int i = 0; i < w * h * c; ++i) im.data[i] = (float)((i * 37 + 11) % 256) / 255.f;
    return im;
}

/* The copy is what upstream's rotated crop gives for identity arguments,
 * bit for bit, with +0 and -0 draws alike; other arguments are not taken
 * for the identity. */
static void identity_crop_is_the_image(void **state)
{
    const int sizes[][3] = {{28, 28, 3}, {5, 3, 2}, {1, 1, 1}, {32, 32, 3}};
    for (int t = 0; t < 4; ++t) {
        image im = byte_image(sizes[t][0], sizes[t][1], sizes[t][2]);
        for (int sign = 0; sign < 2; ++sign) {
            float zero = sign ? -0.f : 0.f;
            augment_args a = {.w = im.w, .h = im.h, .scale = 1, .rad = zero, .dx = zero, .dy = zero, .aspect = 1};
            assert_true(augment_is_identity(im, a));
            image rot = rotate_crop_image(im, a.rad, a.scale, a.w, a.h, a.dx, a.dy, a.aspect);
            assert_memory_equal(rot.data, im.data, (size_t)im.w * im.h * im.c * sizeof(float));
            free_image(rot);
        }
        augment_args a = {.w = im.w, .h = im.h, .scale = 1, .aspect = 1};
        augment_args moved = a, scaled = a, turned = a, smaller = a, wider = a;
        moved.dx = 0.5f;
        scaled.scale = 1.01f;
        turned.rad = 0.01f;
        smaller.w = im.w + 1;
        wider.aspect = 0.9f;
        assert_false(augment_is_identity(im, moved));
        assert_false(augment_is_identity(im, scaled));
        assert_false(augment_is_identity(im, turned));
        assert_false(augment_is_identity(im, smaller));
        assert_false(augment_is_identity(im, wider));
        free_image(im);
    }
}

/* Through the hook, without pad_crop: angle 0 and the image's size give the
 * image itself; an angle still rotates (some draw differs from it). */
static void hook_without_pad_crop(void **state)
{
    image im = byte_image(28, 28, 3);
    size_t bytes = (size_t)28 * 28 * 3 * sizeof(float);
    image same = ext_augment_crop(im, 0, 1, 28, 28, 28);
    assert_memory_equal(same.data, im.data, bytes);
    free_image(same);
    int differs = 0;
    for (int draw = 0; draw < 20; ++draw) {
        image out = ext_augment_crop(im, 15, 1, 28, 28, 28);
        differs += memcmp(out.data, im.data, bytes) != 0;
        free_image(out);
    }
    assert_true(differs > 0);
    free_image(im);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(window_by_hand),
        cmocka_unit_test(every_offset_matches_padded_image),
        cmocka_unit_test(hook_draws_every_window),
        cmocka_unit_test(other_size_resized_first),
        cmocka_unit_test(identity_crop_is_the_image),
        cmocka_unit_test(hook_without_pad_crop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
