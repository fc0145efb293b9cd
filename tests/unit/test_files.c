/* Tests for upstream's path and display helpers (src/input/files.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ext.h"
#include "utils.h"

static void replaces_first_match(void **state)
{
    char out[4096];
    ext_find_replace("a/images/b/images/c.jpg", "images", "labels", out);
    assert_string_equal(out, "a/labels/b/images/c.jpg");
    ext_find_replace("x.JPEG", ".JPEG", ".txt", out);
    assert_string_equal(out, "x.txt");
}

static void no_match_copies(void **state)
{
    char out[4096];
    ext_find_replace("a/b.png", "JPEGImages", "labels", out);
    assert_string_equal(out, "a/b.png");
}

/* Upstream's callers pass the same buffer in and out. */
static void in_place(void **state)
{
    char buf[4096] = "VOC/JPEGImages/000001.jpg";
    find_replace(buf, "JPEGImages", "labels", buf);
    find_replace(buf, ".jpg", ".txt", buf);
    assert_string_equal(buf, "VOC/labels/000001.txt");
    find_replace(buf, "absent", "x", buf);
    assert_string_equal(buf, "VOC/labels/000001.txt");
}

/* 4095 bytes fit (with the NUL, upstream's 4096-byte buffers); the
 * longest path is kept whole, the replacement growing it to the limit. */
static void longest_path_fits(void **state)
{
    static char in[4096], out[4096];
    memset(in, 'a', 4091);
    memcpy(in + 4091, ".jp", 4);            /* 4094 bytes */
    ext_find_replace(in, ".jp", ".txt", out);
    assert_int_equal(strlen(out), 4095);
    assert_memory_equal(out, in, 4091);
    assert_string_equal(out + 4091, ".txt");
}

static void display_from_environment(void **state)
{
    char *x11 = getenv("DISPLAY"), *wl = getenv("WAYLAND_DISPLAY");
    char *keep_x11 = x11 ? strdup(x11) : NULL, *keep_wl = wl ? strdup(wl) : NULL;
    unsetenv("DISPLAY");
    unsetenv("WAYLAND_DISPLAY");
    assert_int_equal(ext_display_available(), 0);
    setenv("DISPLAY", "", 1);
    assert_int_equal(ext_display_available(), 0);
    setenv("DISPLAY", ":0", 1);
    assert_int_equal(ext_display_available(), 1);
    unsetenv("DISPLAY");
    setenv("WAYLAND_DISPLAY", "wayland-0", 1);
    assert_int_equal(ext_display_available(), 1);
    if (keep_x11) setenv("DISPLAY", keep_x11, 1); else unsetenv("DISPLAY");
    if (keep_wl) setenv("WAYLAND_DISPLAY", keep_wl, 1); else unsetenv("WAYLAND_DISPLAY");
    free(keep_x11);
    free(keep_wl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(replaces_first_match),
        cmocka_unit_test(no_match_copies),
        cmocka_unit_test(in_place),
        cmocka_unit_test(longest_path_fits),
        cmocka_unit_test(display_from_environment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
