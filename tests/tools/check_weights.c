/* check_weights: every FILE is a whole weights file for CFG: exactly the
 * size this network saves, loadable (with its .state file, if any), and
 * all finite.  Prints one line per bad file; exit status 1 if any.
 *   check_weights CFG FILE...   (tests only) */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "darknet.h"
#include "train/safe_save.h"

static long size_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: check_weights CFG FILE...\n");
        return 2;
    }
    network *net = parse_network_cfg(argv[1]);
    char ref[] = "/tmp/check_weights.XXXXXX";
    int fd = mkstemp(ref);
    if (fd < 0) return 2;
    close(fd);
    save_weights(net, ref);
    long expected = size_of(ref);
    unlink(ref);
    char state[sizeof(ref) + 8];
    snprintf(state, sizeof(state), "%s.state", ref);
    unlink(state);
    int bad = 0;
    for (int i = 2; i < argc; ++i) {
        long size = size_of(argv[i]);
        if (size != expected) {
            printf("BAD %s: %ld bytes, a whole file has %ld\n", argv[i], size, expected);
            bad = 1;
            continue;
        }
        load_weights(net, argv[i]);
        int layer = safe_save_first_nonfinite(net, net->n);
        if (layer >= 0) {
            printf("BAD %s: layer %d is not finite\n", argv[i], layer);
            bad = 1;
        }
    }
    return bad;
}
