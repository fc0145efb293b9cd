/* data_keys.h: the [net] keys that belong to the data rather than to the
 * optimizer: pad_crop= (classifier train's padded random crops,
 * src/classify/augment.c).  The [net] hook (optim/optimizer.c) reads them
 * with the optimizer's keys, and they are kept here, per network, so that
 * the optimizer's state (net_ext) holds the optimizer's keys only. */
#ifndef DATA_KEYS_H
#define DATA_KEYS_H

#include "darknet.h"
#include "input/cfgopt.h"

typedef struct data_keys {
    int pad_crop;          /* pixels of zero padding before the random crop; 0: none */
} data_keys;

/* Reads the keys from [net]'s options (errors name the file and key). */
void data_keys_parse(list *options, const network *net, cfg_where w);
/* The keys of a parsed network; the defaults for any other. */
data_keys data_keys_of(const network *net);
/* Drops a network's keys (free_network), or every network's (the fuzz
 * harness, between inputs). */
void data_keys_forget(const network *net);
void data_keys_forget_all(void);

#endif
