/* fuzz_labels: classification labels.  The input's first byte gives
 * classes= (1 to 16), its first line an image path, the rest the label
 * list; get_labels() reads the list and fill_truth() matches the path. */
#include <string.h>

#include "darknet.h"
#include "fuzz.h"

void fill_truth(char *path, char **labels, int k, float *truth);

void fuzz_init(void)
{
}

void fuzz_one(const uint8_t *data, size_t size)
{
    if (size < 1) return;
    int k = 1 + data[0] % 16;
    const uint8_t *rest = data + 1;
    size_t n = size - 1;
    const uint8_t *nl = memchr(rest, '\n', n);
    size_t path_len = nl ? (size_t)(nl - rest) : n;
    char image[512];
    if (path_len >= sizeof(image)) path_len = sizeof(image) - 1;
    memcpy(image, rest, path_len);
    image[path_len] = '\0';
    const uint8_t *list = nl ? nl + 1 : rest + n;
    char path[256];
    fuzz_path(path, sizeof(path), "labels.list");
    fuzz_write(path, list, (size_t)(rest + n - list));
    char **labels = get_labels(path);
    float truth[16];
    fill_truth(image, labels, k, truth);
}
