/* fuzz_boxes: detection labels, "class x y w h" per line, through
 * upstream's box path: read_boxes, then fill_truth_region (region and
 * detection layers) and fill_truth_detection (yolo), plain and with a
 * flipped, shifted, scaled crop. */
#include <stdio.h>
#include <sys/stat.h>

#include "darknet.h"
#include "fuzz.h"

void fill_truth_region(char *path, float *truth, int classes, int num_boxes, int flip,
                       float dx, float dy, float sx, float sy);
void fill_truth_detection(char *path, int num_boxes, float *truth, int classes, int flip,
                          float dx, float dy, float sx, float sy);

enum { CLASSES = 3, SIDE = 5, BOXES = 90 };
static char image_path[256], label[256];

void fuzz_init(void)
{
    char dir[256];
    mkdir(fuzz_path(dir, sizeof(dir), "images"), 0700);
    mkdir(fuzz_path(dir, sizeof(dir), "labels"), 0700);
    fuzz_path(image_path, sizeof(image_path), "images/x.jpg");
    fuzz_path(label, sizeof(label), "labels/x.txt");
}

void fuzz_one(const uint8_t *data, size_t size)
{
    static float region[SIDE * SIDE * (5 + CLASSES)];
    static float boxes[BOXES * 5];
    fuzz_write(label, data, size);
    for (int flip = 0; flip < 2; ++flip) {
        float d = flip ? .1f : 0, s = flip ? 1.3f : 1;
        for (size_t i = 0; i < sizeof(region) / sizeof(region[0]); ++i) region[i] = 0;
        fill_truth_region(image_path, region, CLASSES, SIDE, flip, d, -d, s, 1 / s);
        fill_truth_detection(image_path, BOXES, boxes, CLASSES, flip, -d, d, 1 / s, s);
    }
}
