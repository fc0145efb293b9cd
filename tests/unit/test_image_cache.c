/* Tests for the decoded-image cache of classifier training
 * (src/input/image_cache.c): a copy from the cache has the bits of a fresh
 * decode, the budget is kept, images that are not 8-bit are not kept, and
 * loader threads hammering it at once all get the right images.  Also the
 * gate that limits how many loader threads run at once
 * (src/input/loader_threads.c). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "darknet.h"
#include "ext.h"
#include "helpers/scratch_dir.h"
#include "input/image_cache.h"
#include "input/image_check.h"
#include "input/loader_threads.h"
#include <unistd.h>

#define N_IMAGES 24
#define SIDE 20

static char *paths[N_IMAGES];
static image decoded[N_IMAGES];   /* each file decoded the way the loader decodes it */

/* A PNG (a JPEG for every fourth) of noise, and its decode. */
static void write_images(void)
{
    unsigned seed = 12345;
    for (int n = 0; n < N_IMAGES; ++n) {
        image im = make_image(SIDE + n % 3, SIDE, 3);
        for (int i = 0; i < im.w * im.h * im.c; ++i) {
            seed = seed * 1103515245u + 12345u;
            im.data[i] = (seed >> 16 & 0xFF) / 255.f;
        }
        char base[4096], name[32];
        snprintf(name, sizeof name, "img%02d", n);
        snprintf(base, sizeof base, "%s", scratch_path(name));
        int jpeg = n % 4 == 3;
        save_image_options(im, base, jpeg ? JPG : PNG, 90);
        free_image(im);
        char full[4200];
        snprintf(full, sizeof full, "%s.%s", base, jpeg ? "jpg" : "png");
        paths[n] = strdup(full);
        assert_int_equal(image_load_checked(paths[n], &decoded[n]), 0);
    }
}

static void free_images(void)
{
    for (int n = 0; n < N_IMAGES; ++n) {
        free(paths[n]);
        free_image(decoded[n]);
    }
}

static int same_image(image a, image b)
{
    return a.w == b.w && a.h == b.h && a.c == b.c &&
           memcmp(a.data, b.data, sizeof(float) * a.w * a.h * a.c) == 0;
}

static size_t entry_size(image im)
{
    /* what the cache counts for an entry: its pixels and a small header */
    return (size_t)im.w * im.h * im.c + 3 * sizeof(int);
}

static void test_cached_bits_equal_decode(void **state)
{
    write_images();
    image_cache_open_budget(paths, N_IMAGES, 1 << 20);
    image im;
    assert_int_equal(image_cache_get(paths[0], &im), 0);
    for (int n = 0; n < N_IMAGES; ++n) image_cache_offer(paths[n], decoded[n]);
    image_cache_stats s = image_cache_stat();
    assert_int_equal(s.listed, N_IMAGES);
    assert_int_equal(s.kept, N_IMAGES);
    assert_int_equal(s.not_8bit, 0);
    for (int n = 0; n < N_IMAGES; ++n) {
        assert_int_equal(image_cache_get(paths[n], &im), 1);
        assert_true(same_image(im, decoded[n]));
        free_image(im);
    }
    /* a path that is not in the list is never kept */
    image_cache_offer(scratch_path("elsewhere.png"), decoded[0]);
    assert_int_equal(image_cache_get(scratch_path("elsewhere.png"), &im), 0);
    image_cache_close();
    assert_int_equal(image_cache_get(paths[0], &im), 0);
    free_images();
}

static void test_budget_kept(void **state)
{
    write_images();
    size_t budget = entry_size(decoded[0]) + entry_size(decoded[1]) + entry_size(decoded[2]);
    image_cache_open_budget(paths, N_IMAGES, budget);
    for (int n = 0; n < N_IMAGES; ++n) image_cache_offer(paths[n], decoded[n]);
    image_cache_stats s = image_cache_stat();
    assert_int_equal(s.kept, 3);
    assert_true(s.bytes <= budget);
    assert_int_equal(s.over_budget, N_IMAGES - 3);
    image im;
    for (int n = 0; n < N_IMAGES; ++n) {
        int held = image_cache_get(paths[n], &im);
        assert_int_equal(held, n < 3);
        if (held) free_image(im);
    }
    image_cache_open_budget(paths, N_IMAGES, 0);   /* off */
    image_cache_offer(paths[0], decoded[0]);
    assert_int_equal(image_cache_get(paths[0], &im), 0);
    assert_int_equal(image_cache_stat().kept, 0);
    image_cache_close();
    free_images();
}

static void test_not_8bit_not_kept(void **state)
{
    write_images();
    image_cache_open_budget(paths, N_IMAGES, 1 << 20);
    image odd = copy_image(decoded[0]);
    odd.data[7] = 0.5f;          /* between 127/255 and 128/255 */
    image_cache_offer(paths[0], odd);
    image negative_zero = copy_image(decoded[1]);
    negative_zero.data[0] = -0.0f;
    image_cache_offer(paths[1], negative_zero);
    image im;
    assert_int_equal(image_cache_get(paths[0], &im), 0);
    assert_int_equal(image_cache_get(paths[1], &im), 0);
    assert_int_equal(image_cache_stat().not_8bit, 2);
    /* marked: a later good decode of the same path is not kept either */
    image_cache_offer(paths[0], decoded[0]);
    assert_int_equal(image_cache_get(paths[0], &im), 0);
    free_image(odd);
    free_image(negative_zero);
    image_cache_close();
    free_images();
}

typedef struct hammer_job {
    int id, draws, wrong;
} hammer_job;

/* The loader's own path (ext_load_augment_image): from the cache or
 * decoded, and offered; every image compared with its decode. */
static void *hammer(void *arg)
{
    hammer_job *j = arg;
    unsigned seed = 77u + 1000u * (unsigned)j->id;
    for (int d = 0; d < j->draws; ++d) {
        seed = seed * 1103515245u + 12345u;
        int n = (int)(seed >> 16) % N_IMAGES;
        char *one[1] = {paths[n]};
        image im = ext_load_augment_image(one, 0);
        if (one[0] != paths[n] || !same_image(im, decoded[n])) ++j->wrong;
        free_image(im);
    }
    return NULL;
}

static void test_threads_hammer(void **state)
{
    write_images();
    image_set_replacements(paths, N_IMAGES);
    /* room for about half: some draws hit, some decode, some race to insert */
    size_t budget = 0;
    for (int n = 0; n < N_IMAGES / 2; ++n) budget += entry_size(decoded[n]);
    image_cache_open_budget(paths, N_IMAGES, budget);
    enum { THREADS = 8 };
    pthread_t t[THREADS];
    hammer_job jobs[THREADS];
    for (int i = 0; i < THREADS; ++i) {
        jobs[i] = (hammer_job){i, 600, 0};
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &jobs[i]), 0);
    }
    int wrong = 0;
    for (int i = 0; i < THREADS; ++i) {
        pthread_join(t[i], NULL);
        wrong += jobs[i].wrong;
    }
    assert_int_equal(wrong, 0);
    image_cache_stats s = image_cache_stat();
    assert_true(s.kept > 0 && s.kept < N_IMAGES);
    assert_true(s.bytes <= budget);
    assert_true(s.over_budget > 0);
    image_set_replacements(NULL, 0);
    assert_int_equal(image_cache_stat().kept, 0);
    free_images();
}

static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;
static int now_inside, most_inside;

static void *pass_gate(void *arg)
{
    loader_threads_enter();
    pthread_mutex_lock(&count_lock);
    if (++now_inside > most_inside) most_inside = now_inside;
    pthread_mutex_unlock(&count_lock);
    usleep(2000);
    pthread_mutex_lock(&count_lock);
    --now_inside;
    pthread_mutex_unlock(&count_lock);
    loader_threads_leave();
    return NULL;
}

static int most_at_once(int limit)
{
    enum { THREADS = 16 };
    pthread_t t[THREADS];
    loader_threads_set_limit(limit);
    most_inside = 0;
    for (int i = 0; i < THREADS; ++i) assert_int_equal(pthread_create(&t[i], NULL, pass_gate, NULL), 0);
    for (int i = 0; i < THREADS; ++i) pthread_join(t[i], NULL);
    loader_threads_set_limit(0);
    return most_inside;
}

static void test_loader_threads_limit(void **state)
{
    assert_int_equal(most_at_once(1), 1);
    assert_true(most_at_once(3) <= 3);
    assert_int_equal(loader_threads_limit(), 0);
    /* a thread that never entered leaves nothing */
    loader_threads_leave();
    assert_true(most_at_once(2) <= 2);
    setenv("DARKNET_LOADER_THREADS", "5", 1);
    assert_int_equal(loader_threads_default(), 5);
    setenv("DARKNET_LOADER_THREADS", "x", 1);
    assert_int_equal(loader_threads_default(), -1);
    unsetenv("DARKNET_LOADER_THREADS");
    assert_true(loader_threads_default() >= 1);
}

/* A part as load_thread() is one: it takes and frees its load_args. */
enum { PARTS = 32 };
static int runs_of_part[PARTS];
static pthread_t thread_of_part[PARTS];

static void *record_part(void *arg)
{
    load_args *a = arg;
    loader_threads_enter();
    pthread_mutex_lock(&count_lock);
    ++runs_of_part[a->ext_part];
    thread_of_part[a->ext_part] = pthread_self();
    if (++now_inside > most_inside) most_inside = now_inside;
    pthread_mutex_unlock(&count_lock);
    usleep(500);
    pthread_mutex_lock(&count_lock);
    --now_inside;
    pthread_mutex_unlock(&count_lock);
    loader_threads_leave();
    free(a);
    return NULL;
}

/* Runs PARTS parts under `limit`; how many distinct threads ran them. */
static int run_parts_once(int limit)
{
    load_args parts[PARTS];
    memset(parts, 0, sizeof parts);
    memset(runs_of_part, 0, sizeof runs_of_part);
    for (int i = 0; i < PARTS; ++i) parts[i].ext_part = i;
    loader_threads_set_limit(limit);
    most_inside = 0;
    ext_loader_run_parts(record_part, parts, PARTS);
    loader_threads_set_limit(0);
    int distinct = 0;
    for (int i = 0; i < PARTS; ++i) {
        assert_int_equal(runs_of_part[i], 1);
        int seen = 0;
        for (int j = 0; j < i; ++j) seen |= pthread_equal(thread_of_part[i], thread_of_part[j]);
        distinct += !seen;
    }
    return distinct;
}

static void test_parts_on_pool_threads(void **state)
{
    /* every part runs once, at most `limit` at a time, on the pool's
     * threads, which a second batch reuses */
    assert_true(run_parts_once(2) <= 2);
    assert_true(most_inside <= 2);
    pthread_t first = thread_of_part[0];
    assert_true(run_parts_once(2) <= 2);
    int reused = 0;
    for (int i = 0; i < PARTS; ++i) reused |= pthread_equal(thread_of_part[i], first);
    assert_true(reused);
    /* without a limit: a thread of its own for each part, as upstream */
    assert_int_equal(run_parts_once(0), PARTS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cached_bits_equal_decode),
        cmocka_unit_test(test_budget_kept),
        cmocka_unit_test(test_not_8bit_not_kept),
        cmocka_unit_test(test_threads_hammer),
        cmocka_unit_test(test_loader_threads_limit),
        cmocka_unit_test(test_parts_on_pool_threads),
    };
    return cmocka_run_group_tests(tests, scratch_dir_make, scratch_dir_remove);
}
