/* det_test.c: `./darknet detector test`, upstream's command with the
 * outputs AlexeyAB's users ask for.
 *
 *   darknet detector test DATA CFG [WEIGHTS [IMAGE]] [-thresh 0.5] [-hier 0.5]
 *       [-out NAME | -out FILE.json] [-ext_output] [-fullscreen]
 *
 * As upstream: one IMAGE, or image paths read from standard input until it
 * ends; each image is letterboxed into the network, its boxes (NMS 0.45)
 * drawn and listed ("dog: 99%"), and the picture saved as predictions.jpg
 * (or -out NAME: NAME.jpg) and shown in a window when there is a display.
 * Added:
 *  - -out FILE.json writes every image's detections as AlexeyAB's Darknet
 *    does: an array of {"frame_id", "filename", "objects": [{"class_id",
 *    "name", "relative_coordinates": {"center_x", "center_y", "width",
 *    "height"}, "confidence"}]}, one object per class above the threshold;
 *    the picture is then saved as predictions.jpg;
 *  - an image that cannot be read is reported and skipped (upstream
 *    stopped), so a list with one bad path still gives a whole JSON file;
 *  - -ext_output adds, after upstream's lines, one line per object with
 *    its box in pixels: "dog: 99%	(left_x: 59 top_y: 123 width: 250
 *    height: 204)". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/det_data.h"
#include "detect/det_eval.h"
#include "detect/det_test.h"
#include "image.h"
#include "option_list.h"
#include "utils.h"
#include "checked.h"

#define TEST_NMS .45f

typedef struct test_opts {
    float thresh, hier;
    char *out;            /* image name, or the JSON file */
    int json, ext_output;
} test_opts;

static int ends_with(const char *s, const char *end)
{
    size_t n = strlen(s), m = strlen(end);
    return n >= m && strcmp(s + n - m, end) == 0;
}

/* One frame of the JSON array. */
static void write_frame(FILE *fp, int frame, const char *file, detection *d, int n, int classes, char **names,
                        float thresh)
{
    fprintf(fp, "%s{\n \"frame_id\":%d,\n \"filename\":\"", frame > 1 ? ",\n" : "", frame);
    for (const char *c = file; *c; ++c) {
        if (*c == '"' || *c == '\\') fputc('\\', fp);
        fputc(*c, fp);
    }
    fprintf(fp, "\",\n \"objects\": [");
    int written = 0;
    for (int i = 0; i < n; ++i)
        for (int j = 0; j < classes; ++j) {
            if (!(d[i].prob[j] > thresh)) continue;
            box b = d[i].bbox;
            fprintf(fp, "%s\n  {\"class_id\":%d, \"name\":\"%s\", \"relative_coordinates\":{\"center_x\":%f, "
                        "\"center_y\":%f, \"width\":%f, \"height\":%f}, \"confidence\":%f}",
                    written++ ? "," : "", j, names[j], b.x, b.y, b.w, b.h, d[i].prob[j]);
        }
    fprintf(fp, "\n ]\n}");
}

/* -ext_output: each object above the threshold with its box in pixels. */
static void print_boxes(detection *d, int n, int classes, char **names, float thresh, int w, int h)
{
    for (int i = 0; i < n; ++i)
        for (int j = 0; j < classes; ++j) {
            if (!(d[i].prob[j] > thresh)) continue;
            box b = d[i].bbox;
            printf("%s: %.0f%%\t(left_x: %4.0f   top_y: %4.0f   width: %4.0f   height: %4.0f)\n", names[j],
                   100 * d[i].prob[j], (b.x - b.w / 2) * w, (b.y - b.h / 2) * h, b.w * w, b.h * h);
        }
}

/* Returns 0 when the image cannot be read: reported (det_image_size) and
 * skipped, so that a list with one bad path still gives a whole JSON file. */
static int detect_one(network *net, const char *path, char **names, image **alphabet, test_opts *o, FILE *json,
                      int frame)
{
    int w, h;
    if (det_image_size(path, &w, &h) != 0) return 0;
    image im = load_image_color((char *)path, 0, 0);
    image sized = letterbox_image(im, net->w, net->h);
    layer l = net->layers[net->n - 1];
    double t = what_time_is_it_now();
    network_predict(net, sized.data);
    printf("%s: Predicted in %f seconds.\n", path, what_time_is_it_now() - t);
    int n = 0;
    detection *d = get_network_boxes(net, im.w, im.h, o->thresh, o->hier, 0, 1, &n);
    do_nms_sort(d, n, l.classes, TEST_NMS);
    draw_detections(im, d, n, o->thresh, names, alphabet, l.classes);
    if (o->ext_output) print_boxes(d, n, l.classes, names, o->thresh, im.w, im.h);
    if (json) write_frame(json, frame, path, d, n, l.classes, names, o->thresh);
    free_detections(d, n);
    if (o->out && !o->json) {
        save_image(im, o->out);
    } else {
        save_image(im, "predictions");
#ifdef OPENCV
        if (!json) {
            make_window("predictions", 512, 512, 0);
            show_image(im, "predictions", 0);
        }
#endif
    }
    free_image(im);
    free_image(sized);
    return 1;
}

static test_opts parse_opts(int argc, char **argv)
{
    test_opts o = {0};
    o.thresh = det_arg_float(argc, argv, "-thresh", .5f);
    o.hier = det_arg_float(argc, argv, "-hier", .5f);
    o.out = det_arg_str(argc, argv, "-out", NULL);
    o.ext_output = det_arg_flag(argc, argv, "-ext_output");
    det_arg_flag(argc, argv, "-fullscreen");   /* upstream takes it and does not use it */
    int npos = det_positional(argc, argv);
    if (npos < 5 || npos > 7) {
        dn_usage("usage: %s detector test DATA CFG [WEIGHTS [IMAGE]] [-thresh 0.5] [-hier 0.5]\n"
                 "           [-out NAME | -out FILE.json] [-ext_output] [-fullscreen] [-dont_show]\n"
                 "  without IMAGE, image paths are read from standard input\n", argv[0]);
    }
    for (int i = 1; i < npos; ++i)
        if (argv[i][0] == '-' && argv[i][1]) dn_fatal("detector test: unknown option %s\n", argv[i]);
    o.json = o.out && ends_with(o.out, ".json");
    return o;
}

void det_test_command(int argc, char **argv)
{
    test_opts o = parse_opts(argc, argv);
    int npos = det_positional(argc, argv);
    char *weights = npos > 5 ? argv[5] : NULL, *image_file = npos > 6 ? argv[6] : NULL;
    list *options = read_data_cfg(argv[3]);
    char **names = get_labels(option_find_str(options, "names", "data/names.list"));
    image **alphabet = load_alphabet();
    network *net = load_network(argv[4], weights, 0);
    set_batch_network(net, 1);
    FILE *json = o.json ? dn_fopen(o.out, "w") : NULL;
    if (json) fputs("[\n", json);
    char line[4096];
    int frames = 0;
    while (1) {
        const char *path = image_file;
        if (!path) {
            printf("Enter Image Path: ");
            fflush(stdout);
            if (!fgets(line, sizeof(line), stdin)) break;
            line[strcspn(line, "\r\n")] = 0;
            if (!*line) continue;
            path = line;
        }
        frames += detect_one(net, path, names, alphabet, &o, json, frames + 1);
        if (image_file) break;
    }
    if (json) {
        fputs("\n]\n", json);
        if (fclose(json) != 0) dn_fatal("cannot write %s\n", o.out);
        printf("detections written to %s\n", o.out);
    }
    free_network(net);
}
