/* fuzz_weights: the weights loader, on a fixed small network that has a
 * [gcconv] layer among upstream's (convolutional with batch norm,
 * connected).  The input is a weights file. */
#include <string.h>

#include "darknet.h"
#include "fuzz.h"

static const char cfg[] =
    "[net]\nbatch=1\nwidth=6\nheight=6\nchannels=2\n"
    "[gcconv]\nfilters=2\nsize=3\npad=1\nbranches=2\nbatch_normalize=1\nactivation=leaky\n"
    "[convolutional]\nfilters=3\nsize=3\nstride=2\npad=1\nbatch_normalize=1\nactivation=leaky\n"
    "[gcconv]\nfilters=1\nsize=1\nbranches=3\nmixing=branch\nexpand=1\nactivation=linear\n"
    "[connected]\noutput=4\nactivation=linear\n"
    "[softmax]\n";

static network *net;

void fuzz_init(void)
{
    char path[256];
    fuzz_path(path, sizeof(path), "small.cfg");
    fuzz_write(path, (const uint8_t *)cfg, strlen(cfg));
    net = parse_network_cfg(path);
}

void fuzz_one(const uint8_t *data, size_t size)
{
    char path[256];
    fuzz_path(path, sizeof(path), "small.weights");
    fuzz_write(path, data, size);
    load_weights(net, path);
}
