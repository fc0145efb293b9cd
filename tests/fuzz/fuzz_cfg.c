/* fuzz_cfg: the cfg parser (parse_network_cfg with our layer registry).
 * The input is a cfg file; a network that parses is freed again. */
#include "input/cfgcheck.h"
#include "darknet.h"
#include "fuzz.h"

void fuzz_init(void)
{
    /* A cfg may describe any size of network; beyond this it is refused
     * with an error, so that a run stays within libFuzzer's memory limit. */
    cfgcheck_set_memory_limit((size_t)128 << 20);
}

void fuzz_one(const uint8_t *data, size_t size)
{
    char path[256];
    fuzz_path(path, sizeof(path), "net.cfg");
    fuzz_write(path, data, size);
    network *net = parse_network_cfg(path);
    free_network(net);
}
