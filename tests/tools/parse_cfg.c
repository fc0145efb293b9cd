/* parse_cfg: parse a cfg and print its layer count (tests only). */
#include <stdio.h>
#include "darknet.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: parse_cfg FILE.cfg\n");
        return 2;
    }
    network *net = parse_network_cfg(argv[1]);
    printf("%d layers\n", net->n);
    return 0;
}
