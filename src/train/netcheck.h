/* netcheck.h: `./darknet netcheck CFG`, which parses a cfg and runs
 * training steps on random data (netcheck.c). */
#ifndef NETCHECK_H
#define NETCHECK_H

void netcheck_command(int argc, char **argv);

#endif
